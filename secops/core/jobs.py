"""The jobs table the worker runs from: due jobs, leases, retries with back-off.

A worker *claims* a due job in a short transaction of its own: the row becomes ``running`` with
the worker's name and a lease expiry, and that transaction commits at once. On PostgreSQL the
claim reads with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers each take a different row
without waiting for one another; on SQLite every transaction takes the database's write lock
up front (``BEGIN IMMEDIATE``, see ``secops.core.db``), so claims are serialised.

The worker then runs the job and calls :func:`complete` in the job's own transaction, so the
job's effects and its completion commit together. :func:`complete` and :func:`fail` only touch
a row whose lease the caller still holds: a worker that outlived its lease (and whose job has
been claimed again by another) gets :class:`LeaseLost` and must roll its work back. A worker
that dies leaves a lease that expires; the next claim takes the job again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, cast

from sqlalchemy import JSON, Column, CursorResult, Index, Integer, String, and_, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select

from secops.core.db import UTCDateTime, clock_of, new_id
from secops.core.errors import Conflict

DEFAULT_MAX_ATTEMPTS: Final = 5
# Retry waits: 30 s, 1 min, 2 min, 4 min, ... at most one hour.
BACKOFF_BASE_SECONDS: Final = 30
BACKOFF_MAX_SECONDS: Final = 3600
ERROR_MAX_CHARS: Final = 2000


class JobStatus(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(SQLModel, table=True):
    """One unit of background work: what to run, when, and how its attempts went."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_at", "status", "run_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=Column(String(60), nullable=False, index=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # At most one job per key: recurring jobs use one key per schedule slot.
    dedupe_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: JobStatus = Field(
        default=JobStatus.PENDING, sa_column=Column(String(10), nullable=False)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    max_attempts: int = Field(
        default=DEFAULT_MAX_ATTEMPTS, sa_column=Column(Integer, nullable=False)
    )
    lease_owner: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    lease_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_error: str | None = Field(default=None, sa_column=Column(String(ERROR_MAX_CHARS)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class LeaseLost(Conflict):
    """The job's lease expired and another worker claimed it; this worker's work must not count."""


def backoff(attempts: int) -> timedelta:
    """How long a job waits before its next attempt after ``attempts`` attempts."""
    exponent = min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_MAX_SECONDS))


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Queue a job in the caller's transaction; with ``dedupe_key``, at most one job per key.

    When a job with the same key exists (whatever its status) that job is returned and nothing
    is added. The insert is ``ON CONFLICT DO NOTHING``, so two processes queueing the same key at
    once never fail: one row wins and both get it.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = clock_of(session).now()
    values = {
        "id": new_id(),
        "kind": kind,
        "payload": dict(payload or {}),
        "dedupe_key": dedupe_key,
        "run_at": run_at or now,
        "status": JobStatus.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
    }
    table = Job.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
    session.execute(statement)
    query = (
        select(Job).where(Job.id == values["id"])
        if dedupe_key is None
        else select(Job).where(Job.dedupe_key == dedupe_key)
    )
    return session.exec(query.execution_options(populate_existing=True)).one()


def _due(now: datetime) -> Any:
    waiting = and_(col(Job.status) == JobStatus.PENDING, col(Job.run_at) <= now)
    abandoned = and_(col(Job.status) == JobStatus.RUNNING, col(Job.lease_expires_at) <= now)
    return or_(waiting, abandoned)


def claim(session: Session, *, worker_id: str, now: datetime, lease: timedelta) -> Job | None:
    """Take the next due job for ``worker_id`` until ``now + lease``; None when nothing is due.

    Due means pending with ``run_at <= now``, or running with an expired lease (its worker
    stopped). Reclaiming an expired lease counts as a new attempt; a job whose attempts are
    used up is marked failed instead of being run again. The caller commits at once so the
    lease is visible to other workers.
    """
    while True:
        query = (
            select(Job)
            .where(_due(now))
            .order_by(col(Job.run_at), col(Job.created_at))
            .limit(1)
            # SKIP LOCKED on PostgreSQL; SQLite renders no FOR UPDATE (its write lock serialises).
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        job = session.exec(query).first()
        if job is None:
            return None
        if job.status == JobStatus.RUNNING:
            job.last_error = (
                f"The lease of worker {job.lease_owner} expired before the job finished "
                f"(attempt {job.attempts})."
            )[:ERROR_MAX_CHARS]
            if job.attempts >= job.max_attempts:
                _finish(job, JobStatus.FAILED, now)
                session.flush()
                continue
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.lease_owner = worker_id
        job.lease_expires_at = now + lease
        job.started_at = now
        job.finished_at = None
        session.flush()
        return job


def _finish(job: Job, status: JobStatus, now: datetime) -> None:
    job.status = status
    job.finished_at = now
    job.lease_owner = None
    job.lease_expires_at = None


def _held(session: Session, job_id: uuid.UUID, worker_id: str) -> Job:
    """The job row, locked, if ``worker_id`` still holds its lease; else :class:`LeaseLost`."""
    query = (
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    job = session.exec(query).first()
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != worker_id:
        raise LeaseLost(f"Worker {worker_id} no longer holds the lease of job {job_id}.")
    return job


def complete(session: Session, job_id: uuid.UUID, *, worker_id: str, now: datetime) -> Job:
    """Mark the job done, in the transaction that did its work; raises :class:`LeaseLost`."""
    job = _held(session, job_id, worker_id)
    _finish(job, JobStatus.DONE, now)
    session.flush()
    return job


def fail(session: Session, job_id: uuid.UUID, *, worker_id: str, now: datetime, error: str) -> Job:
    """Record a failed attempt: retried after :func:`backoff`, or failed for good when the
    attempts are used up. The error is kept either way; raises :class:`LeaseLost`."""
    job = _held(session, job_id, worker_id)
    job.last_error = error[:ERROR_MAX_CHARS]
    if job.attempts >= job.max_attempts:
        _finish(job, JobStatus.FAILED, now)
    else:
        job.status = JobStatus.PENDING
        job.run_at = now + backoff(job.attempts)
        job.lease_owner = None
        job.lease_expires_at = None
    session.flush()
    return job


def purge_finished(session: Session, *, before: datetime) -> int:
    """Delete done jobs that finished before ``before``; failed jobs are kept as evidence."""
    table = Job.__table__  # type: ignore[attr-defined]
    result = session.execute(
        table.delete().where(table.c.status == JobStatus.DONE, table.c.finished_at < before)
    )
    return int(cast(CursorResult[Any], result).rowcount)
