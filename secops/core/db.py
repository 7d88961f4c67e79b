"""Engine, sessions and column types; SQLite and PostgreSQL behave alike from here up."""

from __future__ import annotations

import contextlib
import re
import select
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Final, cast

import psycopg
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, DateTime, Engine, MetaData, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from secops.core import walcheckpoint
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
_BUSY: Final = "The database is busy with another change; nothing was changed. Try again."
IDLE: Final = TransactionStatus.IDLE


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


def _bind_natively(sqlite_module: Any) -> None:
    """Let SQLite's driver bind None, bytes and bool without its adaptation search.

    ``sqlite3`` binds exact str, int and float at once; any other parameter first goes through
    an adapter look-up that ends in two failed attribute look-ups, three times the cost of
    binding a str (a write of the inventory binds a few million NULLs). Registering the
    identity for these types (C callables: ``{}.get`` returns None for None, ``bytes`` and
    ``int`` return the same value) binds exactly what the driver would have bound. The registry
    is the driver's own and process-wide; none of these adapters changes a bound value.
    """
    sqlite_module.register_adapter(type(None), {}.get)
    sqlite_module.register_adapter(bytes, bytes)
    sqlite_module.register_adapter(bool, int)


_bind_natively(sqlite3)


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control from pysqlite so BEGIN IMMEDIATE and SAVEPOINT behave.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


# Set on a connection's info when its current transaction ran a statement that may change data.
_WROTE: Final = "secops.wrote"
# Statements sent as plain text that never change data; any other text counts as a write.
_READ_ONLY_TEXT: Final = (
    "select",
    "begin",
    "savepoint",
    "release",
    "rollback",
    "commit",
    "pragma",
    "show",
    "set ",
    "explain",
)


# Execution option of a session whose BEGIN waits for its first write or lock.
_DEFER_BEGIN: Final = "secops_defer_begin"
# What makes a SELECT more than a read: a row lock, an advisory lock, a sequence step.
_LOCKING_READ: Final = re.compile(
    r"\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|pg_advisory|nextval|setval", re.I
)
# Methods that never change data (RFC 9110 §9.2.1).
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_autocommit(connection: Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _pg_on_begin(connection: Connection) -> None:
    # A deferred session runs its plain SELECTs in autocommit and opens the transaction just
    # before its first write or lock (``_before_statement``). Under READ COMMITTED every
    # statement takes a fresh snapshot inside a transaction too, so such reads see exactly the
    # same rows; a GET that only reads saves the BEGIN and ROLLBACK round trips.
    connection.info[_WROTE] = False
    if _is_autocommit(connection):
        return
    driver = connection.connection.driver_connection
    deferred = bool(connection.get_execution_options().get(_DEFER_BEGIN))
    if driver is not None and driver.autocommit != deferred:
        driver.autocommit = deferred


def _sqlite_on_begin(connection: Connection) -> None:
    # A transaction takes the write lock up front: writers queue on busy_timeout instead of
    # failing with SQLITE_BUSY when a read transaction tries to upgrade, and the audit chain's
    # appends are serialised. Autocommit connections (single-statement reads) take no lock.
    # A deferred session (a GET) reads in autocommit, each statement from the newest committed
    # snapshot, so it never waits behind a long write (with WAL a reader never blocks); its
    # first write or locking read takes the lock then (``_before_statement``), as on
    # PostgreSQL. Sent on the driver's connection: it runs on every request and is no
    # statement of its own.
    connection.info[_WROTE] = False
    if _is_autocommit(connection) or connection.get_execution_options().get(_DEFER_BEGIN):
        return
    _begin_immediate(connection.connection.driver_connection)


def _begin_immediate(driver: Any) -> None:
    """Take SQLite's write lock, waiting up to busy_timeout for the writer that holds it."""
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        # Raised from the driver directly, so SQLAlchemy does not wrap it: a 503, not a 500.
        raise DatabaseUnavailable(_BUSY) from exc


def _drop_if_closed(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
    """On checkout, refuse a pooled PostgreSQL connection the server has closed meanwhile.

    A restart, an idle timeout or an administrator's kill leaves the end of the stream (or a
    termination notice) waiting on the socket: a zero-timeout poll sees it without the round
    trip ``pool_pre_ping`` spends on every checkout. The pool then opens a fresh connection.
    A connection that fails later anyway (a silent network cut) is discarded by SQLAlchemy's
    disconnect handling and that one request gets a 503.
    """
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        stale = bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error) as exc:  # already closed on our side
        raise sa_exc.DisconnectionError("the pooled connection is closed") from exc
    if stale:
        raise sa_exc.DisconnectionError("the server closed the pooled connection")


def _pg_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Run every new session in UTC, whatever the server's default zone.

    Timestamps then come back in UTC, which the driver reads on its fast path (converting each
    from a named zone such as ``Etc/UTC`` took a third of reading 50,000 accounts' facts), and
    nothing the server computes from a timestamp depends on how the host was set up. A
    ``SET`` rather than a startup option, so options from the URL, ``PGOPTIONS`` or a service
    file still apply, and a pooler that refuses startup options still connects.
    """
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit


def _pg_on_checkin(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Back in the pool a connection is transactional again, whatever its last session was:
    # code taking a raw connection (a server-side cursor, COPY) needs the driver's default.
    # A connection failing mid-way keeps its flag; the pool discards it on its next use.
    if dbapi_connection is not None and not dbapi_connection.closed:
        with contextlib.suppress(psycopg.Error):
            dbapi_connection.autocommit = False


def _writes(statement: str, context: Any) -> bool:
    if context is None or context.is_text:
        return not statement.lstrip()[:10].lower().startswith(_READ_ONLY_TEXT)
    return bool(context.isinsert or context.isupdate or context.isdelete or context.isddl)


def _locks_rows(context: Any) -> bool:
    # SQLite renders no FOR UPDATE / FOR SHARE; the compiled statement still says it asked.
    compiled = None if context is None else context.compiled
    statement = None if compiled is None else compiled.statement
    return getattr(statement, "_for_update_arg", None) is not None


def _sqlite_outside_transaction(connection: Connection) -> Any:
    """The SQLite driver connection when no transaction is open on it yet, else None."""
    if connection.dialect.name != "sqlite" or _is_autocommit(connection):
        return None
    driver: Any = connection.connection.driver_connection
    return None if driver is None or driver.in_transaction else driver


def _sqlite_begin_if_deferred(
    connection: Connection, statement: str, context: Any, wrote: bool
) -> None:
    if not connection.get_execution_options().get(_DEFER_BEGIN):
        return
    driver = _sqlite_outside_transaction(connection)
    if driver is None:
        return
    # A savepoint outside a transaction would open a deferred one, which cannot safely become a
    # writer later (SQLITE_BUSY_SNAPSHOT): savepoints are for writes, so take the lock first.
    savepoint = statement.lstrip()[:9].lower() == "savepoint"
    if wrote or savepoint or _locks_rows(context):
        _begin_immediate(driver)


def hold_write_lock(session: Session) -> None:
    """Hold the database's write lock from now until the transaction ends (SQLite).

    For code that reads something and then writes on what it read (the audit chain's head, a
    run counter, a mission tree check) where PostgreSQL takes an advisory or row lock. An
    ordinary SQLite transaction took the lock at BEGIN; a deferred one (a GET) takes it here,
    waiting on busy_timeout for any writer in progress. Does nothing on PostgreSQL.
    """
    driver = _sqlite_outside_transaction(session.connection())
    if driver is not None:
        _begin_immediate(driver)


def lock_key(session: Session, key: int, *, shared: bool = False) -> None:
    """Serialise with every other transaction that locks ``key``, until this one ends.

    PostgreSQL: a transaction-level advisory lock (``shared``: only against exclusive holders).
    SQLite: the database's one write lock, which serialises every writer whatever the key.
    """
    if session.get_bind().dialect.name != "postgresql":
        hold_write_lock(session)
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    session.execute(text(f"SELECT {function}(:key)"), {"key": key})


def try_write_lock(session: Session) -> bool:
    """Take the database's write lock now if it is free; False when a writer holds it (SQLite).

    For bookkeeping a read may skip (a "last seen" refresh): it must not keep the read waiting
    behind a long import. On PostgreSQL, and when the transaction holds the lock already, True.
    """
    driver = _sqlite_outside_transaction(session.connection())
    if driver is None:
        return True
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return True


def _before_statement(
    connection: Connection,
    cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """Note a transaction's first write (only those are committed); open a deferred BEGIN."""
    if connection.info.get(_WROTE):
        return
    wrote = _writes(statement, context)
    if wrote:
        connection.info[_WROTE] = True
    if connection.dialect.name == "sqlite":
        _sqlite_begin_if_deferred(connection, statement, context, wrote)
        return
    if _is_autocommit(connection):
        return
    driver = connection.connection.driver_connection
    if driver is None or not driver.autocommit:
        return
    plain_read = (
        statement.lstrip()[:6].lower() == "select"
        and not _LOCKING_READ.search(statement)
        and not isinstance(cursor, psycopg.ServerCursor)  # a streamed read needs a transaction
    )
    if (wrote or not plain_read) and driver.info.transaction_status == IDLE:
        driver.execute("BEGIN")


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
        walcheckpoint.install(engine)
    else:
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"connect_timeout": 5},
        )
        event.listen(engine, "connect", _pg_on_connect)
        event.listen(engine, "checkout", _drop_if_closed)
        event.listen(engine, "checkin", _pg_on_checkin)
        event.listen(engine, "begin", _pg_on_begin)
    event.listen(engine, "before_cursor_execute", _before_statement)
    return engine


_UNAVAILABLE: Final = "The database is unavailable; nothing was changed."
_CONNECTION: Final = "secops.connection"


def _remember_connection(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    session.info[_CONNECTION] = connection


class SessionFactory:
    """Makes sessions that carry the clock and settings the services need."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None, **info: Any) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.info = info
        self._maker = sessionmaker(
            bind=engine, class_=Session, expire_on_commit=False, autoflush=True
        )
        self._deferred_maker = sessionmaker(
            bind=engine.execution_options(**{_DEFER_BEGIN: True}),
            class_=Session,
            expire_on_commit=False,
            autoflush=True,
        )
        for maker in (self._maker, self._deferred_maker):
            event.listen(maker, "after_begin", _remember_connection)

    def __call__(self, *, defer_begin: bool = False) -> Session:
        """A new session; ``defer_begin``: BEGIN only at the first write or lock."""
        session = (self._deferred_maker if defer_begin else self._maker)()
        session.info.update(self.info)
        session.info["clock"] = self.clock
        session.info["engine"] = self.engine
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
            raise DatabaseUnavailable(_UNAVAILABLE) from exc
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


def has_writes(session: Session) -> bool:
    """True if the session's transaction changed data, or holds changes not yet flushed."""
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    connection: Connection | None = session.info.get(_CONNECTION)
    return connection is not None and bool(connection.info.get(_WROTE))


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except sa_exc.OperationalError as exc:
        session.rollback()
        raise DatabaseUnavailable(_UNAVAILABLE) from exc
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's one transaction: committed before the response is sent, else rolled back.

    Async so that opening the session (no I/O until the first statement) costs no threadpool
    hop. A request that changed data is committed (or rolled back) in the threadpool. One that
    only read has nothing to commit: its transaction is ended on the event loop, which on SQLite
    is a local rollback that never waits for a lock.
    """
    factory: SessionFactory = request.app.state.sessions
    session = factory(defer_begin=request.method in SAFE_METHODS)
    try:
        yield session
    except BaseException:
        await _release(session, commit=False)
        raise
    await _release(session, commit=True)


async def _release(session: Session, *, commit: bool) -> None:
    if has_writes(session):
        await run_in_threadpool(_finish, session, commit=commit)
        return
    try:
        session.close()
    except sa_exc.OperationalError as exc:
        raise DatabaseUnavailable(_UNAVAILABLE) from exc


DbSession = Annotated[Session, Depends(get_session, scope="function")]
