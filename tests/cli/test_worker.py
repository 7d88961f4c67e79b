"""The worker: runs due jobs one transaction each, retries failures, schedules recurring jobs;
``secops worker --once`` as an operator runs it; and the domain jobs it is wired to."""

from __future__ import annotations

import json
import logging
import os
import signal
import smtplib
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, func, select
from structlog.testing import capture_logs

from secops import worker as worker_module
from secops.audit import service as audit_service
from secops.audit.models import AuditCheckpoint
from secops.auth.models import SignInThrottle
from secops.core import jobs, outbox
from secops.core.clock import FrozenClock, SystemClock
from secops.core.config import Settings
from secops.core.db import SessionFactory, create_db_engine
from secops.core.jobs import Job, JobStatus
from secops.core.outbox import OutboxMessage, OutboxStatus
from secops.core.runtime import Runtime
from secops.policy.models import PolicyRun, RunStatus, RunTrigger
from secops.policy.waivers.models import PolicyWaiver
from secops.worker import Handler, OwnTransactions, Recurring, Worker
from tests.cli.conftest import RunCli
from tests.factories.access import disable_user, make_user
from tests.factories.missions import make_ministry
from tests.factories.policy import make_inventory, policies_dir
from tests.factories.waivers import make_waiver


@pytest.fixture
def sessions(settings: Settings, clock: FrozenClock) -> Iterator[SessionFactory]:
    """Sessions on a fresh database with the frozen clock, as the worker's runtime makes them."""
    runtime = Runtime.build(settings, clock=clock)
    yield runtime.sessions
    runtime.dispose()


def make_worker(
    sessions: SessionFactory,
    settings: Settings,
    handlers: Mapping[str, Handler],
    *,
    worker_id: str = "w1",
    recurring: list[Recurring] | None = None,
) -> Worker:
    return Worker(sessions, settings, handlers, worker_id=worker_id, recurring=recurring or [])


def enqueue(sessions: SessionFactory, kind: str, **payload: Any) -> uuid.UUID:
    with sessions.begin() as session:
        return jobs.enqueue(session, kind, payload).id


def job(sessions: SessionFactory, job_id: uuid.UUID) -> Job:
    with sessions.begin() as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def notices(sessions: SessionFactory) -> list[str]:
    with sessions.begin() as session:
        return list(session.exec(select(OutboxMessage.subject)).all())


def notify(session: Session, payload: Mapping[str, Any]) -> str:
    """A test handler with an effect in the job's transaction."""
    outbox.enqueue(
        session, kind="test", recipient_user_id=None, subject=payload["subject"], body="body"
    )
    return "ok"


def test_run_once_runs_every_due_job_and_marks_it_done(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    first = enqueue(sessions, "test.notify", subject="one")
    second = enqueue(sessions, "test.notify", subject="two")
    with sessions.begin() as session:
        in_an_hour = clock.now() + timedelta(hours=1)
        not_due = jobs.enqueue(session, "test.notify", {"subject": "x"}, run_at=in_an_hour).id

    outcomes = make_worker(sessions, settings, {"test.notify": notify}).run_once()

    assert {o.job_id: o.status for o in outcomes} == {first: "done", second: "done"}
    assert sorted(notices(sessions)) == ["one", "two"]
    assert job(sessions, first).status == JobStatus.DONE
    assert job(sessions, not_due).status == JobStatus.PENDING


def test_failing_handler_rolls_back_its_work_is_retried_and_keeps_its_error(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    calls = []

    def flaky(session: Session, payload: Mapping[str, Any]) -> None:
        calls.append(clock.now())
        notify(session, payload)
        if len(calls) == 1:
            raise RuntimeError("the relay went away")

    worker = make_worker(sessions, settings, {"test.flaky": flaky})
    job_id = enqueue(sessions, "test.flaky", subject="hello")

    [first] = worker.run_once()
    after_failure = job(sessions, job_id)
    not_yet = worker.run_once()
    clock.advance(jobs.backoff(1))
    [second] = worker.run_once()

    assert first.status == "retrying"
    assert first.error == "RuntimeError: the relay went away"
    assert after_failure.status == JobStatus.PENDING
    assert after_failure.last_error == "RuntimeError: the relay went away"
    assert after_failure.run_at == first.next_run_at == calls[0] + timedelta(seconds=30)
    assert not_yet == []
    assert second.status == "done"
    assert second.attempt == 2
    # The first attempt's notice was rolled back with it: exactly one survives.
    assert notices(sessions) == ["hello"]
    assert job(sessions, job_id).last_error == "RuntimeError: the relay went away"


def test_one_failing_job_does_not_stop_the_others(
    sessions: SessionFactory, settings: Settings
) -> None:
    def broken(_session: Session, _payload: Mapping[str, Any]) -> None:
        raise ValueError("bad payload")

    handlers: dict[str, Handler] = {"test.broken": broken, "test.notify": notify}
    bad = enqueue(sessions, "test.broken")
    good = enqueue(sessions, "test.notify", subject="still sent")

    outcomes = make_worker(sessions, settings, handlers).run_once()

    assert {o.job_id: o.status for o in outcomes} == {bad: "retrying", good: "done"}
    assert notices(sessions) == ["still sent"]


def test_job_of_unknown_kind_fails_for_good_after_its_attempts(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        job_id = jobs.enqueue(session, "test.nobody", max_attempts=2).id
    worker = make_worker(sessions, settings, {})

    first = worker.run_once()
    clock.advance(hours=1)
    second = worker.run_once()

    assert [o.status for o in first + second] == ["retrying", "failed"]
    stored = job(sessions, job_id)
    assert stored.status == JobStatus.FAILED
    assert stored.last_error == "LookupError: No handler for job kind 'test.nobody' in this worker."


def test_worker_that_lost_its_lease_rolls_its_work_back(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    def outlives_lease(session: Session, payload: Mapping[str, Any]) -> None:
        clock.advance(seconds=settings.worker_lease_seconds)
        with sessions.begin() as other:
            jobs.claim(other, worker_id="w2", now=clock.now(), lease=timedelta(minutes=5))
        notify(session, payload)

    job_id = enqueue(sessions, "test.slow", subject="twice?")

    [outcome] = make_worker(sessions, settings, {"test.slow": outlives_lease}).run_once()

    assert outcome.status == "lease_lost"
    assert notices(sessions) == []
    stored = job(sessions, job_id)
    assert stored.lease_owner == "w2"
    assert stored.status == JobStatus.RUNNING


def test_handler_with_its_own_transactions_completes_the_job(
    sessions: SessionFactory, settings: Settings
) -> None:
    def in_steps(factory: SessionFactory, payload: Mapping[str, Any]) -> int:
        for step in range(2):
            with factory.begin() as session:
                notify(session, {"subject": f"{payload['subject']} {step}"})
        return 2

    job_id = enqueue(sessions, "test.steps", subject="step")

    [outcome] = make_worker(
        sessions, settings, {"test.steps": OwnTransactions(in_steps)}
    ).run_once()

    assert outcome.status == "done"
    assert sorted(notices(sessions)) == ["step 0", "step 1"]
    assert job(sessions, job_id).status == JobStatus.DONE


def test_recurring_job_runs_once_per_slot(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    runs: list[datetime] = []

    def tick(_session: Session, payload: Mapping[str, Any]) -> None:
        runs.append(datetime.fromisoformat(payload["slot"]))

    clock.set(datetime(2026, 3, 1, 10, 17, tzinfo=UTC))
    worker = make_worker(
        sessions,
        settings,
        {"test.tick": tick},
        recurring=[Recurring("test.tick", timedelta(hours=1))],
    )
    other = make_worker(
        sessions,
        settings,
        {"test.tick": tick},
        worker_id="w2",
        recurring=[Recurring("test.tick", timedelta(hours=1))],
    )

    worker.run_once()
    other.run_once()
    clock.advance(minutes=30)
    worker.run_once()
    clock.advance(minutes=30)
    other.run_once()

    assert runs == [datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC)]


def test_recurring_jobs_follow_the_settings(settings: Settings) -> None:
    default = {job.kind: job.every for job in worker_module.recurring_jobs(settings)}
    changed = Settings(
        **{
            **dict(settings),
            "policy_evaluation_interval_hours": 0,
            "waiver_warning_interval_hours": 6,
            "audit_checkpoint_interval_minutes": 0,
            "smtp_host": "relay.mfa.example",
        }
    )
    configured = {job.kind: job.every for job in worker_module.recurring_jobs(changed)}

    assert default == {
        "policy.evaluate": timedelta(hours=24),
        "waivers.warn": timedelta(hours=24),
        "audit.checkpoint": timedelta(hours=1),
        "auth.prune_throttle": timedelta(hours=1),
        "jobs.purge": timedelta(days=1),
    }
    assert configured == {
        "waivers.warn": timedelta(hours=6),
        "auth.prune_throttle": timedelta(hours=1),
        "jobs.purge": timedelta(days=1),
        "outbox.deliver": timedelta(minutes=1),
    }


def test_worker_schedules_only_recurring_jobs_it_can_run(
    sessions: SessionFactory, settings: Settings
) -> None:
    worker = Worker(sessions, settings, {"audit.checkpoint": notify})

    assert [job.kind for job in worker.scheduled] == ["audit.checkpoint"]


def test_run_forever_stops_after_the_current_job_when_asked(
    sessions: SessionFactory, settings: Settings
) -> None:
    stop = threading.Event()

    def asks_to_stop(session: Session, payload: Mapping[str, Any]) -> None:
        notify(session, payload)
        stop.set()  # as SIGTERM would, mid-job

    ids = {enqueue(sessions, "test.stop", subject=f"job {n}"): f"job {n}" for n in (1, 2)}

    make_worker(sessions, settings, {"test.stop": asks_to_stop}).run_forever(stop)

    statuses = {job_id: job(sessions, job_id).status for job_id in ids}
    [finished] = [job_id for job_id, status in statuses.items() if status == JobStatus.DONE]
    assert sorted(statuses.values()) == [JobStatus.DONE, JobStatus.PENDING]
    assert notices(sessions) == [ids[finished]]


def test_run_forever_survives_an_error_outside_any_job(
    sessions: SessionFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    worker = make_worker(sessions, settings, {"test.notify": notify})
    polls = []

    def schedule() -> None:
        polls.append(1)
        if len(polls) == 1:
            raise ConnectionError("database restarting")
        stop.set()

    monkeypatch.setattr(worker, "schedule", schedule)
    fast = Settings(**{**dict(settings), "worker_poll_seconds": 0.01})
    worker.settings = fast

    with capture_logs() as logs:
        worker.run_forever(stop)

    assert len(polls) == 2
    [failure] = [entry for entry in logs if entry["event"] == "worker.poll_failed"]
    assert failure["error"] == "ConnectionError: database restarting"


def test_stop_signals_set_the_stop_event() -> None:
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker_module.install_stop_signals(stop)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_job_log_lines_name_the_job_and_hide_secrets(
    sessions: SessionFactory, settings: Settings
) -> None:
    def leaky(_session: Session, _payload: Mapping[str, Any]) -> None:
        raise RuntimeError("relay said: password=hunter2 rejected")

    done = enqueue(sessions, "test.notify", subject="fine")
    failed = enqueue(sessions, "test.leaky")

    with capture_logs() as logs:
        make_worker(sessions, settings, {"test.notify": notify, "test.leaky": leaky}).run_once()

    by_event = {entry["event"]: entry for entry in logs}
    assert by_event["worker.job_done"]["job_id"] == str(done)
    assert by_event["worker.job_done"]["kind"] == "test.notify"
    assert by_event["worker.job_failed"]["job_id"] == str(failed)
    assert "hunter2" not in repr(logs)
    assert "hunter2" not in (job(sessions, failed).last_error or "")


def test_user_addresses_are_those_of_active_users_with_an_email(
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as session:
        alice, bob, carol = make_user(session), make_user(session), make_user(session)
        alice.email, bob.email = "alice@mfa.example", "bob@mfa.example"
        session.add_all([alice, bob])
        disable_user(session, bob)
        ids = {alice.id, bob.id, carol.id, uuid.uuid4()}

    with sessions.begin() as session:
        found = worker_module.user_addresses(session, ids)

    assert found == {alice.id: "alice@mfa.example"}


# secops worker --once, as an operator runs it (real clock, settings from the environment).


@pytest.fixture(autouse=True)
def _restore_log_handlers() -> Iterator[None]:
    # ``secops worker`` points logging at the stderr of its run; put the test harness's back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers = handlers
    root.setLevel(level)


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for ``secops worker`` on the test database, recurring domain jobs off."""
    return {
        "SECOPS_DATABASE_URL": database_url,
        "SECOPS_POLICY_EVALUATION_INTERVAL_HOURS": "0",
        "SECOPS_WAIVER_WARNING_INTERVAL_HOURS": "0",
        "SECOPS_AUDIT_CHECKPOINT_INTERVAL_MINUTES": "0",
    }


@pytest.fixture
def real_sessions(database_url: str, settings: Settings) -> Iterator[SessionFactory]:
    """Sessions with the real clock, as the command's own are."""
    engine = create_db_engine(database_url)
    yield SessionFactory(engine, clock=SystemClock(), settings=settings)
    engine.dispose()


def test_worker_once_runs_due_jobs_and_retries_a_failing_one(
    run_cli: RunCli,
    cli_env: dict[str, str],
    real_sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = []

    def flaky(_session: Session, _payload: Mapping[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("the directory did not answer")

    real = worker_module.default_handlers

    def with_test_handlers(settings: Settings) -> dict[str, Handler]:
        return {**real(settings), "test.notify": notify, "test.flaky": flaky}

    monkeypatch.setattr("secops.cli.worker.default_handlers", with_test_handlers)
    ok = enqueue(real_sessions, "test.notify", subject="from the cli")
    flaky_id = enqueue(real_sessions, "test.flaky")

    first = run_cli("worker", "--once", "--json", "--worker-id", "cli-test", **cli_env)
    outcomes = {o["job_id"]: o for o in json.loads(first.out)}
    after_first = job(real_sessions, flaky_id)
    too_soon = run_cli("worker", "--once", "--json", **cli_env)
    with real_sessions.begin() as session:  # let the back-off pass
        session.execute(update(Job).where(Job.id == flaky_id).values(run_at=SystemClock().now()))  # type: ignore[arg-type]
    retried = run_cli("worker", "--once", **cli_env)

    assert first.code == 0, first.err
    assert outcomes[str(ok)]["status"] == "done"
    assert outcomes[str(flaky_id)]["status"] == "retrying"
    assert outcomes[str(flaky_id)]["error"] == "TimeoutError: the directory did not answer"
    assert after_first.last_error == "TimeoutError: the directory did not answer"
    assert after_first.status == JobStatus.PENDING
    assert after_first.run_at > SystemClock().now()
    assert str(flaky_id) not in too_soon.out
    assert retried.code == 0, retried.err
    assert f"done       test.flaky             {flaky_id} (attempt 2)" in retried.out
    assert len(attempts) == 2
    assert notices(real_sessions) == ["from the cli"]
    stored = job(real_sessions, flaky_id)
    assert stored.status == JobStatus.DONE
    assert stored.last_error == "TimeoutError: the directory did not answer"
    assert json.loads(first.err.splitlines()[-1])["event"].startswith("worker.")


def test_worker_refuses_an_unmigrated_database(run_cli: RunCli, empty_database_url: str) -> None:
    result = run_cli("worker", "--once", SECOPS_DATABASE_URL=empty_database_url)

    assert result.code == 1
    assert result.error_lines == [
        "error: the database is not at the newest migration; run `secops db upgrade` first"
    ]


def test_worker_once_schedules_the_recurring_jobs(
    run_cli: RunCli, database_url: str, real_sessions: SessionFactory
) -> None:
    result = run_cli("worker", "--once", "--json", SECOPS_DATABASE_URL=database_url)

    with real_sessions.begin() as session:
        kinds = dict(session.exec(select(Job.kind, func.count()).group_by(Job.kind)).all())
    assert result.code == 0, result.err
    assert kinds == {
        "policy.evaluate": 1,
        "waivers.warn": 1,
        "audit.checkpoint": 1,
        "auth.prune_throttle": 1,
        "jobs.purge": 1,
    }
    ran = {o["kind"] for o in json.loads(result.out)}
    assert ran == set(kinds)


# The domain jobs the worker is wired to, run through the worker with the real handlers.

WAIVER_POLICIES = Path(__file__).resolve().parents[1] / "policy" / "waivers" / "data"


def run_kind(sessions: SessionFactory, settings: Settings, kind: str) -> list[Any]:
    """Queue one job of ``kind`` and run it with the worker's real handlers and ``settings``."""
    job_id = enqueue(sessions, kind)
    configured = SessionFactory(
        sessions.engine, clock=sessions.clock, **{**sessions.info, "settings": settings}
    )
    handlers = worker_module.default_handlers(settings)
    outcomes = make_worker(configured, settings, handlers).run_once()
    assert [(o.job_id, o.status, o.error) for o in outcomes] == [(job_id, "done", None)]
    return outcomes


def test_policy_evaluation_job_evaluates_every_policy_ministry_wide(
    sessions: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    configured = settings.model_copy(update={"policies_dir": policies_dir(tmp_path)})
    with sessions.begin() as session:
        make_inventory(session, make_ministry(session))

    run_kind(sessions, configured, "policy.evaluate")

    with sessions.begin() as session:
        runs = session.exec(select(PolicyRun)).all()
    assert [(r.policy_id, r.trigger, r.status, r.account_count) for r in runs] == [
        ("runs-test", RunTrigger.SCHEDULED, RunStatus.COMPLETED, 4)
    ]


def test_scheduled_evaluation_runs_the_shipped_baseline_policy(
    sessions: SessionFactory, settings: Settings
) -> None:
    with sessions.begin() as session:
        make_inventory(session, make_ministry(session))

    run_kind(sessions, settings, "policy.evaluate")

    with sessions.begin() as session:
        run = session.exec(select(PolicyRun)).one()
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.account_count == 4
    assert run.policy_id == "ministry-baseline"


def test_waiver_warning_job_queues_notices_that_the_mail_job_delivers(
    sessions: SessionFactory,
    settings: Settings,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[EmailMessage] = []

    class Relay:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            self.host = host

        def ehlo(self) -> None: ...

        def starttls(self, *, context: object) -> None: ...

        def send_message(self, message: EmailMessage) -> None:
            sent.append(message)

        def quit(self) -> None: ...

    monkeypatch.setattr(smtplib, "SMTP", Relay)
    configured = settings.model_copy(
        update={"policies_dir": WAIVER_POLICIES, "smtp_host": "relay.mfa.example"}
    )
    with sessions.begin() as session:
        ministry = make_ministry(session)
        asker, approver = make_user(session), make_user(session)
        asker.email, approver.email = "ana@mfa.example", "ben@mfa.example"
        session.add_all([asker, approver])
        waiver = make_waiver(
            session,
            ministry.paris,
            expires_in=timedelta(days=10),
            requested_by=asker.id,
            approved_by=approver.id,
        )

    run_kind(sessions, configured, "waivers.warn")
    run_kind(sessions, configured, "outbox.deliver")

    with sessions.begin() as session:
        stored = session.get(PolicyWaiver, waiver.id)
        statuses = set(session.exec(select(OutboxMessage.status)).all())
    assert stored is not None
    assert stored.warned_at == clock.now()
    assert sorted(m["To"] for m in sent) == ["ana@mfa.example", "ben@mfa.example"]
    assert all("MFA.ENABLED.1v1" in m["Subject"] for m in sent)
    assert statuses == {OutboxStatus.SENT}


def test_audit_checkpoint_job_signs_and_exports_the_trail(
    sessions: SessionFactory, settings: Settings
) -> None:
    with sessions.begin() as session:
        for n in range(3):
            audit_service.record(session, principal=None, action="test.event", object_type=f"{n}")

    run_kind(sessions, settings, "audit.checkpoint")

    with sessions.begin() as session:
        checkpoint = session.exec(select(AuditCheckpoint)).one()
    exported = settings.effective_audit_export_file.read_text().splitlines()
    assert checkpoint.tree_size == 3
    assert [json.loads(line)["tree_size"] for line in exported] == [3]


def test_purge_job_removes_old_done_jobs(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    old = enqueue(sessions, "test.notify", subject="old")
    make_worker(sessions, settings, {"test.notify": notify}).run_once()
    clock.advance(worker_module.KEEP_DONE_JOBS + timedelta(days=1))

    run_kind(sessions, settings, "jobs.purge")

    with sessions.begin() as session:
        assert session.get(Job, old) is None


def test_throttle_prune_job_forgets_stale_rows_and_keeps_fresh_ones(
    sessions: SessionFactory, settings: Settings, clock: FrozenClock
) -> None:
    with sessions.begin() as session:
        session.add(
            SignInThrottle(
                key_hash="a" * 64, failures=3, last_failure_at=clock.now() - timedelta(days=365)
            )
        )
        session.add(
            SignInThrottle(
                key_hash="b" * 64,
                failures=9,
                last_failure_at=clock.now(),
                next_attempt_at=clock.now() + timedelta(minutes=5),
            )
        )

    run_kind(sessions, settings, "auth.prune_throttle")

    with sessions.begin() as session:
        left = set(session.exec(select(SignInThrottle.key_hash)).all())
    assert left == {"b" * 64}
