"""Reads on the event loop: the caller's credential on every request, and single rows by id.

Each is one indexed SELECT. On the request's pooled session it would cost a threadpool hop, the
ORM's per-statement machinery and, on SQLite, a ``BEGIN IMMEDIATE`` that may queue behind a
writer. Here it runs in autocommit on a connection of its own: no pool checkout, no transaction.
Each call is a single statement, so it reads one consistent snapshot of committed rows.

``fetch`` is what requests use. On SQLite it reads the local file inline (a WAL reader never
waits for a writer). On PostgreSQL it awaits psycopg's asynchronous connection, so the event
loop keeps serving other requests during the round trip, and a database that stops answering
stalls only the requests that need it. ``rows`` is the same read, blocking, for code that is
not on the event loop.

The statements are built once at import, compiled once per database and sent straight to the
driver, with SQLAlchemy's own type conversions applied to parameters and results. A statement
whose SQL depends on its values (an expanding IN list) is not for this reader: callers filter
by mission on the row they got back (``missions.scope.visible``).
"""

from __future__ import annotations

import asyncio
import collections
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Compiled
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel import Session

from secops.core.db import info_of
from secops.core.errors import DatabaseUnavailable

_UNAVAILABLE: Final = "The database is unavailable; nothing was changed."
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for one database: its SQL and its type conversions."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    binds: tuple[_Processor, ...]
    results: tuple[_Processor, ...]
    row: Callable[..., Any]


def _prepare(statement: Select[Any], engine: Engine) -> _Prepared | None:
    dialect = engine.dialect
    compiled: Compiled = statement.compile(dialect=dialect)
    binds = getattr(compiled, "binds", {})
    names = tuple(getattr(compiled, "positiontup", None) or binds)
    if any(name not in binds for name in names) or getattr(
        compiled, "literal_execute_params", None
    ):
        return None  # renamed or render-time parameters: leave it to SQLAlchemy
    columns = list(statement.selected_columns)
    return _Prepared(
        sql=compiled.string,
        names=names,
        positional=dialect.positional,
        binds=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
        results=tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ),
        row=collections.namedtuple("Row", [c.key for c in columns]),  # type: ignore[misc]
    )


class InlineReader:
    """Autocommit reads on a connection no request holds (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        # Weak: the engine (through its event listener) owns the reader, not the other way.
        self._engine = weakref.ref(engine)
        self._dialect = engine.dialect
        self._lock = threading.Lock()
        self._raw: PoolProxiedConnection | None = None
        self._sa: Connection | None = None
        self._prepared: dict[int, tuple[Select[Any], _Prepared | None]] = {}
        # PostgreSQL's asynchronous connection, and the event loop it belongs to.
        self._async: psycopg.AsyncConnection[Any] | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        event.listen(engine, "engine_disposed", self._on_disposed)

    async def fetch(self, statement: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        """Every row of ``statement``, read without blocking the event loop on the network."""
        if self._dialect.name != "postgresql":
            return self.rows(statement, params)
        prepared = self._prepared_for(statement)
        if prepared is None or set(prepared.names) != set(params):
            raise ValueError("inline PostgreSQL reads take statements with named parameters only")
        values = self._bind_values(prepared, params)
        for attempt in (1, 2):
            try:
                connection = await self._async_connection()
                async with connection.cursor() as cursor:
                    await cursor.execute(
                        prepared.sql, dict(zip(prepared.names, values, strict=True))
                    )
                    fetched = await cursor.fetchall()
                return self._decode(prepared, fetched)
            except psycopg.Error as exc:
                dropped = self._async is None or self._async.closed or self._async.broken
                self._drop_async()
                if attempt == 2 or not dropped:
                    raise DatabaseUnavailable(_UNAVAILABLE) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _async_connection(self) -> psycopg.AsyncConnection[Any]:
        loop = asyncio.get_running_loop()
        if self._async is not None and (self._async_loop is not loop or self._async.closed):
            self._drop_async()  # made on another event loop (a new test client), or closed
        if self._async is None:
            url = self._bound().url.set(drivername="postgresql")
            connection = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
            )
            if self._async is None:
                self._async, self._async_loop = connection, loop
            else:  # another request connected meanwhile: keep one
                await connection.close()
        return self._async

    def _drop_async(self) -> None:
        connection, self._async, self._async_loop = self._async, None, None
        if connection is not None and not connection.closed:
            # Closes the socket at once; ``await close()`` may not run on another event loop.
            connection.pgconn.finish()

    def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        """Every row of ``statement`` (attribute access by column key); 503 if the database fails.

        A connection the server dropped (a restart) is replaced once before giving up.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._run(statement, params)
                except sa_exc.DBAPIError as exc:
                    self._discard()
                    if attempt == 2 or not exc.connection_invalidated:
                        raise DatabaseUnavailable(_UNAVAILABLE) from exc
                except self._dialect.loaded_dbapi.Error as exc:
                    disconnected = self._raw is None or self._dialect.is_disconnect(
                        exc, self._raw.dbapi_connection, None
                    )
                    self._discard()
                    if attempt == 2 or not disconnected:
                        raise DatabaseUnavailable(_UNAVAILABLE) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self, statement: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        prepared = self._prepared_for(statement)
        if prepared is None or set(prepared.names) != set(params):
            return self._through_sqlalchemy(statement, params)
        values = self._bind_values(prepared, params)
        cursor = self._connection().cursor()
        try:
            cursor.execute(
                prepared.sql,
                values if prepared.positional else dict(zip(prepared.names, values, strict=True)),
            )
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        return self._decode(prepared, fetched)

    @staticmethod
    def _bind_values(prepared: _Prepared, params: Mapping[str, Any]) -> list[Any]:
        return [
            params[name] if process is None else process(params[name])
            for name, process in zip(prepared.names, prepared.binds, strict=True)
        ]

    @staticmethod
    def _decode(prepared: _Prepared, fetched: Sequence[Any]) -> list[Any]:
        make, results = prepared.row, prepared.results
        return [
            make(*(v if p is None else p(v) for v, p in zip(raw, results, strict=True)))
            for raw in fetched
        ]

    def _prepared_for(self, statement: Select[Any]) -> _Prepared | None:
        entry = self._prepared.get(id(statement))
        if entry is None or entry[0] is not statement:
            try:
                prepared = _prepare(statement, self._bound())
            except (sa_exc.SQLAlchemyError, TypeError, ValueError):
                prepared = None  # not one plain statement with named parameters
            # Kept with the statement, so the id cannot be reused by another one.
            entry = (statement, prepared)
            self._prepared[id(statement)] = entry
        return entry[1]

    def _bound(self) -> Engine:
        engine = self._engine()
        if engine is None:
            raise DatabaseUnavailable(_UNAVAILABLE)
        return engine

    def _connection(self) -> Any:
        if self._raw is None:
            raw = self._bound().raw_connection()
            if self._dialect.name == "postgresql":
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._raw = raw
        return self._raw.driver_connection

    def _through_sqlalchemy(
        self, statement: Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Any]:
        if self._sa is None:
            connection = self._bound().connect()
            self._sa = connection.execution_options(isolation_level="AUTOCOMMIT")
        result: Sequence[Any] = self._sa.execute(statement, params).all()
        self._sa.rollback()  # ends SQLAlchemy's bookkeeping; no I/O in autocommit
        return result

    def _discard(self) -> None:
        raw, self._raw = self._raw, None
        sa, self._sa = self._sa, None
        for release in (raw, sa):
            if release is None:
                continue
            try:
                release.invalidate()
                release.close()
            except (sa_exc.SQLAlchemyError, self._dialect.loaded_dbapi.Error):
                pass  # already broken; nothing left to release

    def close(self) -> None:
        """Release the connections (the engine's ``dispose`` does it too)."""
        self._drop_async()
        with self._lock:
            raw, self._raw = self._raw, None
            sa, self._sa = self._sa, None
            for release in (raw, sa):
                if release is not None:
                    release.close()

    def _on_disposed(self, _engine: Engine) -> None:
        self.close()


_readers: weakref.WeakKeyDictionary[Engine, InlineReader] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()


def reader_for(session: Session) -> InlineReader:
    """The inline reader of the engine ``session``'s factory was built on (made on first use)."""
    engine = info_of(session, "engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("the inline reader needs a session made by a SessionFactory")
    reader = _readers.get(engine)
    if reader is None:
        with _readers_lock:
            reader = _readers.get(engine)
            if reader is None:
                reader = _readers[engine] = InlineReader(engine)
    return reader
