"""Engine, sessions and column types; SQLite and PostgreSQL behave alike from here up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from secops.core.clock import Clock, SystemClock
from secops.core.errors import DatabaseUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

SQLITE_BUSY_TIMEOUT_MS = 10_000


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_id() -> uuid.UUID:
    """A fresh random identifier for a row."""
    return uuid.uuid4()


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """True for the embedded SQLite backend."""
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control from pysqlite so BEGIN IMMEDIATE and SAVEPOINT behave.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Every transaction takes the write lock up front: writers queue on busy_timeout instead of
    # failing with SQLITE_BUSY when a read transaction tries to upgrade, and the audit chain's
    # appends are serialised.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """Build an engine with the pragmas and pool settings secops relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"connect_timeout": 5},
    )


class SessionFactory:
    """Makes sessions that carry the clock and settings the services need."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None, **info: Any) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.info = info
        self._maker = sessionmaker(
            bind=engine, class_=Session, expire_on_commit=False, autoflush=True
        )

    def __call__(self) -> Session:
        session = self._maker()
        session.info.update(self.info)
        session.info["clock"] = self.clock
        return session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        session = self()
        try:
            yield session
            session.commit()
        except sa_exc.OperationalError as exc:
            session.rollback()
            raise DatabaseUnavailable("The database is unavailable; nothing was changed.") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def clock_of(session: Session) -> Clock:
    """The clock the session was made with."""
    clock = session.info.get("clock")
    if clock is None:
        raise RuntimeError("session was not made by a SessionFactory")
    return cast(Clock, clock)


def info_of(session: Session, key: str) -> Any:
    """A value the session factory was given (settings, keyring); fails loudly when absent."""
    try:
        return session.info[key]
    except KeyError:
        raise RuntimeError(f"session has no {key!r}; build it with a SessionFactory") from None


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except sa_exc.OperationalError as exc:
        session.rollback()
        raise DatabaseUnavailable("The database is unavailable; nothing was changed.") from exc
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's one transaction: committed before the response is sent, else rolled back.

    Async so that opening the session (no I/O until the first statement) costs no threadpool
    hop; the commit or rollback, which does I/O, runs in the threadpool.
    """
    factory: SessionFactory = request.app.state.sessions
    session = factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, commit=False)
        raise
    await run_in_threadpool(_finish, session, commit=True)


DbSession = Annotated[Session, Depends(get_session, scope="function")]
