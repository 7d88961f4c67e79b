"""Request transactions: only writes are committed, reads skip BEGIN and never wait for a writer,
pools recover."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, insert, text
from sqlmodel import Session, select

from secops.auth.models import SignInThrottle
from secops.core import db, inline
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory, has_writes, hold_write_lock
from secops.core.errors import DatabaseUnavailable
from secops.missions.models import Mission
from tests.conftest import PG_URL

ON_POSTGRES = PG_URL is not None
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL transaction control")


def _throttle_rows(sessions: SessionFactory) -> int:
    with sessions.begin() as s:
        return int(s.exec(select(func.count()).select_from(SignInThrottle)).one())


def _row(clock: FrozenClock) -> dict[str, object]:
    return {"key_hash": uuid.uuid4().hex * 2, "failures": 1, "last_failure_at": clock.now()}


@pytest.mark.parametrize("defer_begin", [False, True])
def test_reads_leave_nothing_to_commit_and_writes_are_noticed(
    sessions: SessionFactory, clock: FrozenClock, defer_begin: bool
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    session = sessions(defer_begin=defer_begin)
    try:
        assert not has_writes(session)
        session.execute(select(Mission.id)).all()
        session.execute(text("SELECT 1")).all()
        assert not has_writes(session)
        session.execute(insert(table).values(**_row(clock)))
        assert has_writes(session)
    finally:
        session.rollback()
        session.close()

    session = sessions(defer_begin=defer_begin)
    try:
        session.execute(text("DELETE FROM sign_in_throttle WHERE failures < 0"))
        assert has_writes(session)  # plain SQL that is not a read counts as a write
    finally:
        session.rollback()
        session.close()

    session = sessions(defer_begin=defer_begin)
    try:
        session.add(SignInThrottle(**_row(clock)))  # type: ignore[arg-type]
        assert has_writes(session)  # pending, not yet flushed
    finally:
        session.rollback()
        session.close()


@pytest.mark.parametrize("defer_begin", [False, True])
def test_writes_of_one_session_commit_or_roll_back_together(
    sessions: SessionFactory, clock: FrozenClock, defer_begin: bool
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    before = _throttle_rows(sessions)
    session = sessions(defer_begin=defer_begin)
    try:
        session.execute(select(Mission.id)).all()
        session.execute(insert(table).values(**_row(clock)))
        session.execute(insert(table).values(**_row(clock)))
    finally:
        session.rollback()
        session.close()
    assert _throttle_rows(sessions) == before

    session = sessions(defer_begin=defer_begin)
    try:
        session.execute(insert(table).values(**_row(clock)))
        session.execute(insert(table).values(**_row(clock)))
        session.commit()
    finally:
        session.close()
    assert _throttle_rows(sessions) == before + 2


def _in_transaction(session: Session) -> bool:
    driver: Any = session.connection().connection.driver_connection
    if ON_POSTGRES:
        return str(driver.info.transaction_status.name) == "INTRANS"
    return bool(driver.in_transaction)


def test_a_deferred_session_reads_without_a_transaction_until_it_locks_or_writes(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    session = sessions(defer_begin=True)
    try:
        session.execute(select(Mission.id)).all()
        assert not _in_transaction(session)
        session.execute(select(Mission.id).with_for_update()).all()
        assert _in_transaction(session)  # SQLite renders no FOR UPDATE; its write lock holds
    finally:
        session.rollback()
        session.close()

    session = sessions(defer_begin=True)
    try:
        session.execute(select(Mission.id)).all()
        session.execute(insert(table).values(**_row(clock)))
        assert _in_transaction(session)
    finally:
        session.rollback()
        session.close()

    session = sessions(defer_begin=True)
    try:
        hold_write_lock(session)  # what the audit chain and the run counter take on SQLite
        if not ON_POSTGRES:
            assert _in_transaction(session)
        session.execute(text("SELECT pg_advisory_xact_lock(42)" if ON_POSTGRES else "SELECT 1"))
        assert _in_transaction(session)  # the lock lives until the transaction ends
    finally:
        session.rollback()
        session.close()

    session = sessions()
    try:
        session.execute(select(Mission.id)).all()
        assert _in_transaction(session)  # the ordinary session begins at once
    finally:
        session.rollback()
        session.close()


def test_a_deferred_read_does_not_wait_for_a_write_in_progress(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    before = _throttle_rows(sessions)
    writer = sessions()
    reader = sessions(defer_begin=True)
    try:
        writer.execute(insert(table).values(**_row(clock)))  # holds SQLite's write lock
        # Before deferral a SQLite read waited here for busy_timeout (10 s), then failed.
        seen = reader.exec(select(func.count()).select_from(SignInThrottle)).one()
        assert seen == before  # the committed rows only
        writer.commit()
        seen = reader.exec(select(func.count()).select_from(SignInThrottle)).one()
        assert seen == before + 1  # each read sees the newest committed rows
    finally:
        reader.rollback()
        reader.close()
        writer.rollback()
        writer.close()


@postgres_only
def test_pooled_connections_go_back_transactional(sessions: SessionFactory) -> None:
    session = sessions(defer_begin=True)
    session.execute(select(Mission.id)).all()
    session.close()

    raw = sessions.engine.raw_connection()
    try:
        assert raw.driver_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        raw.close()


@postgres_only
def test_requests_survive_the_server_closing_every_pooled_connection(
    client: TestClient, sessions: SessionFactory
) -> None:
    with sessions.begin() as s:
        reader = inline.reader_for(s)
    pids = {row[0] for row in reader.rows(select(func.pg_backend_pid()), {})}
    held = [sessions.engine.connect() for _ in range(3)]  # three pooled connections
    for connection in held:
        pids.add(connection.execute(select(func.pg_backend_pid())).scalar_one())
    for connection in held:
        connection.close()
    assert sessions.engine.pool.checkedin() == 3

    admin = create_engine(sessions.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            deadline = time.monotonic() + 10
            while conn.execute(alive, {"pids": sorted(pids)}).scalar_one():
                assert time.monotonic() < deadline, "the backends did not end"
                time.sleep(0.05)
    finally:
        admin.dispose()

    for _ in range(3):  # one request per closed pooled connection
        assert client.get("/readyz").status_code == 200
    assert reader.rows(select(Mission.id), {}) == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock")
@pytest.mark.parametrize("defer_begin", [False, True])
def test_a_write_that_cannot_get_the_lock_in_time_is_a_database_unavailable_error(
    sessions: SessionFactory, clock: FrozenClock, defer_begin: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 20)  # connections of the engine below
    impatient = SessionFactory(db.create_db_engine(str(sessions.engine.url)), clock=clock)
    writer = sessions()
    waiting = impatient(defer_begin=defer_begin)
    try:
        writer.execute(insert(table).values(**_row(clock)))  # holds the write lock
        with pytest.raises(DatabaseUnavailable, match="busy with another change"):
            waiting.execute(insert(table).values(**_row(clock)))
    finally:
        waiting.rollback()
        waiting.close()
        writer.rollback()
        writer.close()
        impatient.engine.dispose()


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock")
def test_a_savepoint_in_a_deferred_session_takes_the_write_lock_first(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    table = SignInThrottle.__table__  # type: ignore[attr-defined]
    session = sessions(defer_begin=True)
    other = sqlite3.connect(str(sessions.engine.url.database), isolation_level=None, timeout=0)
    try:
        with session.begin_nested():
            session.execute(select(Mission.id)).all()
            # The savepoint began an IMMEDIATE transaction: nobody else may start writing, so
            # the write below cannot find its snapshot stale (a deferred one would let them).
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            session.execute(insert(table).values(**_row(clock)))
    finally:
        other.close()
        session.rollback()
        session.close()
