"""Concurrent writers and failures: the chain never forks, and no change outlives its event."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from secops.audit import chain
from secops.audit import service as audit_service
from secops.audit.models import AuditCheckpoint, AuditEvent
from secops.audit.verify import VerifyReport
from secops.core.config import Settings
from secops.core.db import SessionFactory
from tests.audit.conftest import make_principal, record_many

WRITERS = 2
APPENDS_EACH = 60


def test_two_concurrent_writers_never_fork_the_chain(
    sessions: SessionFactory, settings: Settings, run_verify: Callable[..., VerifyReport]
) -> None:
    # Checkpoints every 7 events, so writers also race to sign them.
    racing = SessionFactory(
        sessions.engine,
        clock=sessions.clock,
        settings=settings.model_copy(update={"audit_checkpoint_every": 7}),
    )
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        principal = make_principal(name)
        try:
            start.wait()
            for index in range(APPENDS_EACH):
                with racing.begin() as session:
                    audit_service.record(
                        session,
                        principal=principal,
                        action="race.append",
                        object_type="race",
                        object_id=f"{name}-{index}",
                    )
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"writer{i}",)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with sessions.begin() as s:
        seqs = list(s.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq))))
        sizes = list(
            s.exec(select(AuditCheckpoint.tree_size).order_by(col(AuditCheckpoint.tree_size)))
        )
        writers = set(s.exec(select(AuditEvent.actor)))
    total = WRITERS * APPENDS_EACH
    assert seqs == list(range(1, total + 1))
    assert sizes == list(range(7, total + 1, 7))
    assert writers == {f"user:writer{i}" for i in range(WRITERS)}
    report = run_verify()
    assert report.ok, report.summary()
    assert report.checkpoints == len(sizes)


@pytest.fixture
def probe_table(engine: Engine) -> str:
    """A business table of the test's own, to show what a failed audit append rolls back."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE audit_probe (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
    return "audit_probe"


def test_a_failed_audit_append_rolls_back_the_change_it_records(
    sessions: SessionFactory,
    engine: Engine,
    probe_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_leaf_hash(_canonical: bytes) -> bytes:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(chain, "leaf_hash", broken_leaf_hash)

    def change_and_audit() -> None:
        with sessions.begin() as session:
            session.execute(text(f"INSERT INTO {probe_table} (id, name) VALUES (1, 'changed')"))
            audit_service.record(
                session, principal=make_principal(), action="probe.create", object_type="probe"
            )

    with pytest.raises(RuntimeError, match="disk on fire"):
        change_and_audit()
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {probe_table}")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 0


def test_a_change_that_fails_after_its_audit_event_leaves_no_event(
    sessions: SessionFactory, engine: Engine, run_verify: Callable[..., VerifyReport]
) -> None:
    with sessions.begin() as session:
        record_many(session, 3)

    def audit_then_fail() -> None:
        with sessions.begin() as session:
            record_many(session, 2)
            raise ValueError("the business rule refused the change")

    with pytest.raises(ValueError, match="business rule"):
        audit_then_fail()
    with sessions.begin() as session:
        record_many(session, 1)
    with engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_event ORDER BY seq"))]
    assert seqs == [1, 2, 3, 4]
    assert run_verify().ok
