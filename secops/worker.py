"""The worker: schedules recurring jobs and runs due ones from the ``job`` table.

Each job runs in its own transaction, and the job is marked done in that same transaction, so
its effects and its completion commit together (see ``secops.core.jobs`` for claims and
leases). A handler that waits on something outside the database (the mail relay) opens its own
short transactions instead. A failing job is retried with back-off and never stops the worker.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import FrameType
from typing import Any, Final

from sqlmodel import Session, col, select

from secops.audit import checkpoints
from secops.auth import throttle
from secops.auth.models import User, UserStatus
from secops.core import jobs, mail
from secops.core.config import Settings
from secops.core.db import SessionFactory, clock_of
from secops.core.logging import get_logger, scrub_text
from secops.policy import service as policy_service
from secops.policy.waivers import service as waivers_service

log = get_logger("secops.worker")

POLICY_EVALUATE: Final = "policy.evaluate"
WAIVERS_WARN: Final = "waivers.warn"
AUDIT_CHECKPOINT: Final = "audit.checkpoint"
PRUNE_THROTTLE: Final = "auth.prune_throttle"
OUTBOX_DELIVER: Final = "outbox.deliver"
PURGE_JOBS: Final = "jobs.purge"

OUTBOX_INTERVAL: Final = timedelta(minutes=1)
PRUNE_THROTTLE_INTERVAL: Final = timedelta(hours=1)
PURGE_JOBS_INTERVAL: Final = timedelta(days=1)
# Done jobs are kept this long for inspection; failed ones are kept until removed by hand.
KEEP_DONE_JOBS: Final = timedelta(days=30)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

InTransaction = Callable[[Session, Mapping[str, Any]], object]
"""Runs inside the job's transaction as ``handler(session, payload)``; flushes, never commits."""


@dataclass(frozen=True)
class OwnTransactions:
    """A handler that opens its own short transactions (one that waits on a mail relay)."""

    run: Callable[[SessionFactory, Mapping[str, Any]], object]


Handler = InTransaction | OwnTransactions


@dataclass(frozen=True)
class Recurring:
    """A job queued once per ``every``-long slot (slots are aligned to the Unix epoch, UTC)."""

    kind: str
    every: timedelta

    def slot(self, now: datetime) -> datetime:
        """The start of the slot ``now`` falls in."""
        return _EPOCH + ((now - _EPOCH) // self.every) * self.every


class Outcome(StrEnum):
    """What running one job came to."""

    DONE = "done"
    RETRYING = "retrying"  # failed; will run again after its back-off
    FAILED = "failed"  # failed on its last attempt
    LEASE_LOST = "lease_lost"  # another worker took it over; this run's work was rolled back


@dataclass(frozen=True)
class JobOutcome:
    """One job run by this worker: its attempt number, outcome and error."""

    job_id: uuid.UUID
    kind: str
    attempt: int
    status: Outcome
    error: str | None = None
    next_run_at: datetime | None = None


def recurring_jobs(settings: Settings) -> list[Recurring]:
    """The recurring jobs the settings ask for; an interval of 0 turns one off."""
    every = [
        Recurring(POLICY_EVALUATE, timedelta(hours=settings.policy_evaluation_interval_hours)),
        Recurring(WAIVERS_WARN, timedelta(hours=settings.waiver_warning_interval_hours)),
        Recurring(AUDIT_CHECKPOINT, timedelta(minutes=settings.audit_checkpoint_interval_minutes)),
        Recurring(PRUNE_THROTTLE, PRUNE_THROTTLE_INTERVAL),
        Recurring(PURGE_JOBS, PURGE_JOBS_INTERVAL),
    ]
    if settings.smtp_host:
        # Without a relay, notifications simply stay queued; no point waking every minute.
        every.append(Recurring(OUTBOX_DELIVER, OUTBOX_INTERVAL))
    return [job for job in every if job.every > timedelta(0)]


def describe_error(exc: BaseException) -> str:
    """A one-line account of a job's failure, fit for the job row and the log (no secrets)."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("\r", " ")
    return scrub_text(text)[: jobs.ERROR_MAX_CHARS]


def _result_count(result: object) -> int | None:
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, int):
        return result
    if isinstance(result, Collection) and not isinstance(result, str | bytes):
        return len(result)
    return None


def default_worker_id() -> str:
    """A name unique to this process: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """Claims due jobs and runs them with ``handlers`` (by job kind), one transaction each."""

    sessions: SessionFactory
    settings: Settings
    handlers: Mapping[str, Handler]
    worker_id: str = field(default_factory=default_worker_id)
    # None: the recurring jobs the settings ask for. Only those with a handler are scheduled.
    recurring: Sequence[Recurring] | None = None
    scheduled: list[Recurring] = field(init=False)

    def __post_init__(self) -> None:
        chosen = recurring_jobs(self.settings) if self.recurring is None else self.recurring
        self.scheduled = [job for job in chosen if job.kind in self.handlers]

    @property
    def lease(self) -> timedelta:
        """How long a claimed job stays this worker's."""
        return timedelta(seconds=self.settings.worker_lease_seconds)

    def _now(self) -> datetime:
        return self.sessions.clock.now()

    def schedule(self) -> None:
        """Queue the current slot of every recurring job (a slot already queued is left alone)."""
        with self.sessions.begin() as session:
            now = self._now()
            for recurring in self.scheduled:
                start = recurring.slot(now)
                jobs.enqueue(
                    session,
                    recurring.kind,
                    {"slot": start.isoformat()},
                    run_at=start,
                    dedupe_key=f"{recurring.kind}@{start.isoformat()}",
                )

    def run_next(self) -> JobOutcome | None:
        """Claim the next due job and run it; None when nothing is due."""
        with self.sessions.begin() as session:
            job = jobs.claim(session, worker_id=self.worker_id, now=self._now(), lease=self.lease)
            if job is None:
                return None
            claimed = (job.id, job.kind, dict(job.payload), job.attempts)
        return self._run(*claimed)

    def run_once(self, stop: threading.Event | None = None) -> list[JobOutcome]:
        """Queue due recurring jobs, then run due jobs until none is due (or ``stop`` is set)."""
        self.schedule()
        outcomes: list[JobOutcome] = []
        while stop is None or not stop.is_set():
            outcome = self.run_next()
            if outcome is None:
                break
            outcomes.append(outcome)
        return outcomes

    def run_forever(self, stop: threading.Event) -> None:
        """Run due jobs every ``worker_poll_seconds`` until ``stop`` is set.

        A stop request takes effect after the current job. An error outside any job (the
        database is down) is logged and the worker tries again at the next poll.
        """
        log.info(
            "worker.started",
            worker_id=self.worker_id,
            kinds=sorted(self.handlers),
            recurring=[job.kind for job in self.scheduled],
        )
        while not stop.is_set():
            try:
                self.run_once(stop)
            except Exception as exc:
                log.error("worker.poll_failed", worker_id=self.worker_id, error=describe_error(exc))
            stop.wait(self.settings.worker_poll_seconds)
        log.info("worker.stopped", worker_id=self.worker_id)

    def _run(
        self, job_id: uuid.UUID, kind: str, payload: Mapping[str, Any], attempt: int
    ) -> JobOutcome:
        handler = self.handlers.get(kind)
        started = time.monotonic()
        context = {"worker_id": self.worker_id, "job_id": str(job_id), "kind": kind}
        try:
            if handler is None:
                raise LookupError(f"No handler for job kind {kind!r} in this worker.")
            if isinstance(handler, OwnTransactions):
                result = handler.run(self.sessions, payload)
                with self.sessions.begin() as session:
                    jobs.complete(session, job_id, worker_id=self.worker_id, now=self._now())
            else:
                with self.sessions.begin() as session:
                    result = handler(session, payload)
                    jobs.complete(session, job_id, worker_id=self.worker_id, now=self._now())
        except jobs.LeaseLost:
            log.warning("worker.lease_lost", attempt=attempt, **context)
            return JobOutcome(job_id, kind, attempt, Outcome.LEASE_LOST)
        except Exception as exc:
            return self._failed(job_id, kind, attempt, describe_error(exc), started, context)
        log.info(
            "worker.job_done",
            attempt=attempt,
            duration_ms=round((time.monotonic() - started) * 1000),
            result=_result_count(result),
            **context,
        )
        return JobOutcome(job_id, kind, attempt, Outcome.DONE)

    def _failed(
        self,
        job_id: uuid.UUID,
        kind: str,
        attempt: int,
        error: str,
        started: float,
        context: dict[str, str],
    ) -> JobOutcome:
        duration_ms = round((time.monotonic() - started) * 1000)
        try:
            with self.sessions.begin() as session:
                job = jobs.fail(
                    session, job_id, worker_id=self.worker_id, now=self._now(), error=error
                )
                status, next_run_at = job.status, job.run_at
        except jobs.LeaseLost:
            log.warning("worker.lease_lost", attempt=attempt, error=error, **context)
            return JobOutcome(job_id, kind, attempt, Outcome.LEASE_LOST, error)
        except Exception as exc:
            # The job stays leased; once the lease expires another attempt takes it.
            log.error(
                "worker.job_failure_not_recorded",
                attempt=attempt,
                error=error,
                record_error=describe_error(exc),
                **context,
            )
            return JobOutcome(job_id, kind, attempt, Outcome.RETRYING, error)
        retrying = status == jobs.JobStatus.PENDING
        log.warning(
            "worker.job_failed",
            attempt=attempt,
            duration_ms=duration_ms,
            error=error,
            retry_at=next_run_at.isoformat() if retrying else None,
            **context,
        )
        if retrying:
            return JobOutcome(job_id, kind, attempt, Outcome.RETRYING, error, next_run_at)
        return JobOutcome(job_id, kind, attempt, Outcome.FAILED, error)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the worker finishes the current job, then exits."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


# The handlers of the recurring jobs.


def user_addresses(session: Session, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """E-mail addresses of the active users among ``user_ids`` (disabled users get no mail)."""
    query = (
        select(User.id, User.email)
        .where(col(User.id).in_(list(user_ids)))
        .where(User.status == UserStatus.ACTIVE)
        .where(col(User.email).is_not(None))
    )
    return {user_id: email for user_id, email in session.exec(query).all() if email}


def _evaluate_policies(session: Session, _payload: Mapping[str, Any]) -> list[uuid.UUID]:
    return policy_service.evaluate_scheduled(session)


def _warn_expiring_waivers(session: Session, _payload: Mapping[str, Any]) -> int:
    return waivers_service.warn_expiring(session)


def _prune_throttle(session: Session, _payload: Mapping[str, Any]) -> int:
    return throttle.prune_stale(session)


def _audit_checkpoint(session: Session, _payload: Mapping[str, Any]) -> int:
    return checkpoints.create(session).tree_size


def _purge_jobs(session: Session, _payload: Mapping[str, Any]) -> int:
    now = clock_of(session).now()
    return jobs.purge_finished(session, before=now - KEEP_DONE_JOBS)


def default_handlers(settings: Settings) -> dict[str, Handler]:
    """Every job kind secops runs, by name."""
    relay = mail.Relay.from_settings(settings)

    def deliver_outbox(sessions: SessionFactory, _payload: Mapping[str, Any]) -> int:
        report = mail.deliver_pending(sessions, relay=relay, addresses=user_addresses)
        return report.attempted

    return {
        POLICY_EVALUATE: _evaluate_policies,
        WAIVERS_WARN: _warn_expiring_waivers,
        AUDIT_CHECKPOINT: _audit_checkpoint,
        PRUNE_THROTTLE: _prune_throttle,
        OUTBOX_DELIVER: OwnTransactions(deliver_outbox),
        PURGE_JOBS: _purge_jobs,
    }
