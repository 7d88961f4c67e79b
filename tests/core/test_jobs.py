"""The jobs table: claims, leases, retries with back-off, dedupe, and concurrent claimers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from secops.core import jobs
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory, create_db_engine
from secops.core.jobs import Job, JobStatus
from tests.conftest import PG_URL

LEASE = timedelta(minutes=5)
ON_POSTGRES = PG_URL is not None


@pytest.fixture
def queue(database_url: str, settings: Settings, clock: FrozenClock) -> Iterator[SessionFactory]:
    """Sessions on a fresh database, as the worker makes them (frozen clock, settings)."""
    engine = create_db_engine(database_url)
    yield SessionFactory(engine, clock=clock, settings=settings)
    engine.dispose()


def _enqueue(queue: SessionFactory, kind: str = "test.job", **kwargs: object) -> uuid.UUID:
    with queue.begin() as session:
        return jobs.enqueue(session, kind, {"n": 1}, **kwargs).id  # type: ignore[arg-type]


def _claim(queue: SessionFactory, worker: str = "w1") -> Job | None:
    with queue.begin() as session:
        return jobs.claim(session, worker_id=worker, now=queue.clock.now(), lease=LEASE)


def _get(queue: SessionFactory, job_id: uuid.UUID) -> Job:
    with queue.begin() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _fail(queue: SessionFactory, job_id: uuid.UUID, worker: str = "w1", error: str = "boom") -> Job:
    with queue.begin() as session:
        return jobs.fail(session, job_id, worker_id=worker, now=queue.clock.now(), error=error)


def test_claimed_job_carries_a_lease_and_completes(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    job_id = _enqueue(queue)

    claimed = _claim(queue, "w1")
    assert claimed is not None
    with queue.begin() as session:
        jobs.complete(session, job_id, worker_id="w1", now=clock.now())
    done = _get(queue, job_id)

    assert claimed.id == job_id
    assert claimed.payload == {"n": 1}
    assert claimed.status == JobStatus.RUNNING
    assert claimed.attempts == 1
    assert claimed.lease_owner == "w1"
    assert claimed.lease_expires_at == clock.now() + LEASE
    assert done.status == JobStatus.DONE
    assert done.finished_at == clock.now()
    assert done.lease_owner is None
    assert _claim(queue) is None


def test_job_is_not_claimed_before_its_run_at(queue: SessionFactory, clock: FrozenClock) -> None:
    job_id = _enqueue(queue, run_at=clock.now() + timedelta(minutes=10))

    early = _claim(queue)
    clock.advance(minutes=10)
    on_time = _claim(queue)

    assert early is None
    assert on_time is not None
    assert on_time.id == job_id


def test_jobs_are_claimed_oldest_run_at_first(queue: SessionFactory, clock: FrozenClock) -> None:
    later = _enqueue(queue, run_at=clock.now() - timedelta(minutes=1))
    sooner = _enqueue(queue, run_at=clock.now() - timedelta(minutes=5))

    first, second = _claim(queue), _claim(queue)

    assert first is not None
    assert second is not None
    assert [first.id, second.id] == [sooner, later]


def test_dedupe_key_keeps_one_job_per_key_whatever_its_status(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    first = _enqueue(queue, dedupe_key="slot-1")
    again = _enqueue(queue, dedupe_key="slot-1")
    _claim(queue)
    with queue.begin() as session:
        jobs.complete(session, first, worker_id="w1", now=clock.now())
    after_done = _enqueue(queue, dedupe_key="slot-1")
    other = _enqueue(queue, dedupe_key="slot-2")

    with queue.begin() as session:
        count = session.exec(select(func.count()).select_from(Job)).one()
    assert first == again == after_done
    assert other != first
    assert count == 2


def test_failed_job_is_retried_with_exponential_backoff_and_keeps_its_error(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    job_id = _enqueue(queue)
    waits = []
    for attempt in (1, 2, 3):
        claimed = _claim(queue)
        assert claimed is not None
        assert claimed.attempts == attempt
        failed = _fail(queue, job_id, error=f"relay refused (attempt {attempt})")
        waits.append(failed.run_at - clock.now())
        assert failed.status == JobStatus.PENDING
        assert failed.last_error == f"relay refused (attempt {attempt})"
        assert failed.lease_owner is None
        # Not due again until the back-off has passed.
        clock.advance(failed.run_at - clock.now() - timedelta(seconds=1))
        assert _claim(queue) is None
        clock.advance(seconds=1)

    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]


def test_job_fails_for_good_after_its_last_attempt(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    job_id = _enqueue(queue, max_attempts=2)
    _claim(queue)
    _fail(queue, job_id, error="first")
    clock.advance(hours=1)
    _claim(queue)
    final = _fail(queue, job_id, error="second")
    clock.advance(days=1)

    assert final.status == JobStatus.FAILED
    assert final.attempts == 2
    assert final.last_error == "second"
    assert final.finished_at is not None
    assert _claim(queue) is None


def test_backoff_doubles_and_is_capped_at_an_hour() -> None:
    assert [jobs.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert jobs.backoff(8) == timedelta(hours=1)
    assert jobs.backoff(500) == timedelta(hours=1)


def test_long_error_is_truncated_not_refused(queue: SessionFactory) -> None:
    job_id = _enqueue(queue)
    _claim(queue)

    failed = _fail(queue, job_id, error="x" * 10_000)

    assert failed.last_error == "x" * jobs.ERROR_MAX_CHARS


def test_live_lease_is_not_claimed_by_another_worker(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    _enqueue(queue)
    _claim(queue, "w1")
    clock.advance(LEASE - timedelta(seconds=1))

    assert _claim(queue, "w2") is None


def test_expired_lease_is_reclaimed_and_the_old_worker_loses_it(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    job_id = _enqueue(queue)
    _claim(queue, "w1")
    clock.advance(LEASE)

    reclaimed = _claim(queue, "w2")
    with pytest.raises(jobs.LeaseLost), queue.begin() as session:
        jobs.complete(session, job_id, worker_id="w1", now=clock.now())
    with pytest.raises(jobs.LeaseLost), queue.begin() as session:
        jobs.fail(session, job_id, worker_id="w1", now=clock.now(), error="late")
    with queue.begin() as session:
        jobs.complete(session, job_id, worker_id="w2", now=clock.now())

    assert reclaimed is not None
    assert reclaimed.id == job_id
    assert reclaimed.lease_owner == "w2"
    assert reclaimed.attempts == 2
    assert reclaimed.last_error is not None
    assert "w1" in reclaimed.last_error
    assert _get(queue, job_id).status == JobStatus.DONE


def test_expired_lease_on_the_last_attempt_fails_the_job(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    job_id = _enqueue(queue, max_attempts=1)
    _claim(queue, "w1")
    clock.advance(LEASE)

    assert _claim(queue, "w2") is None
    job = _get(queue, job_id)
    assert job.status == JobStatus.FAILED
    assert job.last_error is not None
    assert "lease of worker w1 expired" in job.last_error


def test_enqueue_refuses_zero_attempts(queue: SessionFactory) -> None:
    with pytest.raises(ValueError, match="max_attempts"), queue.begin() as session:
        jobs.enqueue(session, "test.job", max_attempts=0)


def test_purge_removes_only_done_jobs_older_than_the_cutoff(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    old_done, old_failed = _enqueue(queue), _enqueue(queue, max_attempts=1)
    _claim(queue)
    _claim(queue)
    with queue.begin() as session:
        jobs.complete(session, old_done, worker_id="w1", now=clock.now())
    _fail(queue, old_failed)
    clock.advance(days=2)
    recent = _enqueue(queue)
    _claim(queue)
    with queue.begin() as session:
        jobs.complete(session, recent, worker_id="w1", now=clock.now())

    with queue.begin() as session:
        removed = jobs.purge_finished(session, before=clock.now() - timedelta(days=1))
        left = set(session.exec(select(Job.id)).all())

    assert removed == 1
    assert left == {old_failed, recent}


# Concurrent claimers: each thread has its own session (and connection), as separate workers do.


def _claim_in(session: Session, worker: str, clock: FrozenClock) -> Job | None:
    return jobs.claim(session, worker_id=worker, now=clock.now(), lease=LEASE)


@pytest.mark.skipif(not ON_POSTGRES, reason="SKIP LOCKED is PostgreSQL's; SQLite serialises")
def test_postgres_claimer_skips_a_job_another_claimer_holds(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    first, second = _enqueue(queue), _enqueue(queue)
    holding = threading.Event()
    release = threading.Event()

    def slow_claimer() -> tuple[uuid.UUID | None, bool]:
        with queue.begin() as session:
            job = _claim_in(session, "slow", clock)
            holding.set()
            # Keep the row locked, uncommitted; False if nobody released it (a claimer waited).
            released = release.wait(30)
            return (job.id if job else None), released

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(slow_claimer)
        assert holding.wait(10)
        # While the first claim is uncommitted, a second claimer neither waits nor takes it.
        fast = _claim(queue, "fast")
        nothing_left = _claim(queue, "third")
        release.set()
        slow_id, released_by_us = slow.result(10)

    assert released_by_us, "the other claimers waited for the locked row"
    assert fast is not None
    assert {slow_id, fast.id} == {first, second}
    assert nothing_left is None


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock; PostgreSQL skips locked rows")
def test_sqlite_claims_wait_for_each_other(queue: SessionFactory, clock: FrozenClock) -> None:
    only = _enqueue(queue)
    holding = threading.Event()
    release = threading.Event()
    second_done = threading.Event()

    def first_claimer() -> uuid.UUID | None:
        with queue.begin() as session:
            job = _claim_in(session, "first", clock)
            holding.set()
            release.wait(10)
            return job.id if job else None

    def second_claimer() -> Job | None:
        try:
            return _claim(queue, "second")
        finally:
            second_done.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(first_claimer)
        assert holding.wait(10)
        second = pool.submit(second_claimer)
        blocked = not second_done.wait(0.5)  # waits for the write lock
        release.set()
        first_id, second_job = first.result(10), second.result(15)

    assert blocked
    assert first_id == only
    assert second_job is None  # it saw the committed lease, not the pending job


def test_concurrent_claimers_never_get_the_same_job(
    queue: SessionFactory, clock: FrozenClock
) -> None:
    total = 40
    with queue.begin() as session:
        expected = {jobs.enqueue(session, "test.job", {"i": i}).id for i in range(total)}
    start = threading.Barrier(4)

    def worker(name: str) -> list[uuid.UUID]:
        taken: list[uuid.UUID] = []
        start.wait(10)
        while True:
            with queue.begin() as session:
                job = _claim_in(session, name, clock)
                if job is None:
                    return taken
                taken.append(job.id)
                jobs.complete(session, job.id, worker_id=name, now=clock.now())

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(worker, ["a", "b", "c", "d"]))

    claimed = [job_id for taken in results for job_id in taken]
    assert len(claimed) == total
    assert set(claimed) == expected


def test_concurrent_enqueues_of_one_dedupe_key_make_one_job(queue: SessionFactory) -> None:
    start = threading.Barrier(4)

    def enqueue(_: int) -> uuid.UUID:
        start.wait(10)
        return _enqueue(queue, dedupe_key="policy.evaluate@2026-01-15T00:00:00+00:00")

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(enqueue, range(4)))

    with queue.begin() as session:
        count = session.exec(select(func.count()).select_from(Job)).one()
    assert len(ids) == 1
    assert count == 1
