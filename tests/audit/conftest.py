"""Audit fixtures: fast chains of events, raw-SQL tampering (triggers off on PostgreSQL), verify."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, text
from sqlmodel import Session

from secops.audit import checkpoints, repository, verify
from secops.audit import service as audit_service
from secops.audit.models import AuditCheckpoint, AuditEvent
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings
from secops.core.db import SessionFactory, metadata
from secops.core.principal import EVERYWHERE, Principal, PrincipalKind, Role
from secops.core.runtime import Runtime

AUDIT_TABLES = ("audit_event", "audit_checkpoint")
EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


def make_principal(
    name: str = "alice", roles: dict[Role, Any] | None = None, **kwargs: Any
) -> Principal:
    """A hand-built user principal."""
    return Principal(
        kind=PrincipalKind.USER, id=uuid.uuid4(), name=name, roles=roles or {}, **kwargs
    )


def auditor_everywhere() -> Principal:
    """An auditor of the whole ministry."""
    return make_principal("auditor", {Role.AUDITOR: EVERYWHERE})


def record_many(
    session: Session,
    count: int,
    *,
    principal: Principal | None = None,
    mission_ids: Iterable[uuid.UUID | None] = (None,),
    checkpoint_at: Iterable[int] = (),
) -> None:
    """Append ``count`` events in the session's transaction; sign checkpoints at the given sizes."""
    principal = principal or make_principal("admin", {Role.ADMIN: EVERYWHERE})
    missions = list(mission_ids)
    sizes = set(checkpoint_at)
    start, _ = repository.head(session)
    for index in range(start + 1, start + count + 1):
        audit_service.record(
            session,
            principal=principal,
            action="account.update",
            object_type="account",
            object_id=f"acct-{index}",
            mission_id=missions[index % len(missions)],
            details={"n": index, "handle": f"@embassy{index}", "flags": ["a", "é"]},
            before={"mfa": "sms"},
            after={"mfa": "totp"},
        )
        if index in sizes:
            checkpoints.checkpoint_at(session, index)


@contextmanager
def tampering(engine: Engine) -> Iterator[Connection]:
    """A raw connection for tampering; on PostgreSQL the append-only triggers are off meanwhile."""
    with engine.begin() as conn:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            for table in AUDIT_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield conn
        if postgres:
            for table in AUDIT_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def tamper(engine: Engine, sql: str, **params: Any) -> None:
    """Run one tampering statement."""
    with tampering(engine) as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def engine(sessions: SessionFactory) -> Engine:
    """The app's engine."""
    return sessions.engine


@pytest.fixture
def run_verify(engine: Engine, settings: Settings) -> Callable[..., verify.VerifyReport]:
    """Verify the test database with the test settings."""

    def run(**kwargs: Any) -> verify.VerifyReport:
        return verify.verify_database(engine, settings, **kwargs)

    return run


@dataclass(frozen=True)
class TrailSnapshot:
    """A recorded trail: its rows, its signing key and its export file, ready to copy."""

    events: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
    key_file: str
    export_file: str


@pytest.fixture(scope="session")
def trail_1000(tmp_path_factory: pytest.TempPathFactory) -> TrailSnapshot:
    """1,000 events written once through ``audit_service.record`` in one transaction, with
    checkpoints at 1, 500 and 1,000 (the last one automatic)."""
    directory = tmp_path_factory.mktemp("trail")
    settings = Settings(
        env=Environment.TEST, data_dir=directory, database_url=f"sqlite:///{directory / 't.db'}"
    )
    runtime = Runtime.build(settings, clock=FrozenClock())
    try:
        metadata.create_all(runtime.engine, tables=[EVENTS, CHECKPOINTS])
        with runtime.sessions.begin() as session:
            record_many(session, 1000, checkpoint_at=(1, 500))
        with runtime.engine.connect() as conn:
            events = [dict(r._mapping) for r in conn.execute(EVENTS.select().order_by("seq"))]
            stored = [dict(r._mapping) for r in conn.execute(CHECKPOINTS.select())]
    finally:
        runtime.dispose()
    return TrailSnapshot(
        events=events,
        checkpoints=stored,
        key_file=settings.effective_audit_signing_key_file.read_text(),
        export_file=settings.effective_audit_export_file.read_text(),
    )


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(0o600)


@pytest.fixture
def chain_1000(trail_1000: TrailSnapshot, engine: Engine, settings: Settings) -> int:
    """The test database and data directory hold the 1,000-event trail, key and export file."""
    with engine.begin() as conn:
        conn.execute(EVENTS.insert(), trail_1000.events)
        conn.execute(CHECKPOINTS.insert(), trail_1000.checkpoints)
    _write_private(settings.effective_audit_signing_key_file, trail_1000.key_file)
    _write_private(settings.effective_audit_export_file, trail_1000.export_file)
    return len(trail_1000.events)
