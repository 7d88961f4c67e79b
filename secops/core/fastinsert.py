"""Bulk inserts without per-value bind processing: ``executemany`` on SQLite, binary COPY on
PostgreSQL, in the session's own transaction.

SQLAlchemy's Core ``executemany`` runs every value through its type's bind processor, which
costs more than the insert itself for the few hundred thousand values of a large import. Here
each value is turned once into what SQLAlchemy would have sent (``Encoder``), and the rows go
straight to the driver. On PostgreSQL the rows are copied in the binary format, whose C dumpers
take UUIDs, timestamps and booleans as they are; on SQLite UUIDs become their hex form and
timestamps SQLAlchemy's text form. Only the column types the inventory and policy tables use
are supported; anything else is a programming error, caught by the tests that compare rows
written both ways.

``pipelined`` writes batches on a worker thread while the caller builds the next one, so a
large write uses both cores: a binary COPY on PostgreSQL (the server checks and indexes the
rows meanwhile), and on SQLite a move out of typeless staging tables with one
``INSERT … SELECT`` per table, which SQLite runs without the interpreter lock.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
)
from sqlalchemy import exc as sa_exc
from sqlmodel import Session

from secops.core import ids, walcheckpoint
from secops.core.db import UTCDateTime

Convert = Callable[[Any], Any]
SQLITE_BATCH = 5000
# SQLite's page cache during a bulk write, in KiB (the default is 2 MiB).
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_writes(session: Session) -> Iterator[None]:
    """Give a large write room in SQLite's page cache while it runs.

    With the default 2 MiB cache, inserting a few hundred thousand rows into tables with
    several indexes evicts and re-reads index pages over and over (a quarter to a third of the
    write time of the benchmark's 450,000 rows). This connection's cache is raised for the
    block and set back afterwards, so pooled connections keep their usual footprint; the
    pages stay dirty in memory until the transaction commits, as they would have anyway. The
    commit leaves its checkpoint to a background thread (``walcheckpoint``).
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    walcheckpoint.defer(connection)
    previous = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {previous}")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use clock.now()")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite storage format, microseconds always written (values compare as text).
    value = _utc(value)
    return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond:06d}"


def _cached(convert: Convert) -> Convert:
    # An import stamps the same few instants (now, the evidence dates) on most rows.
    seen: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        """``convert(value)``, worked out once per distinct value."""
        if value is None:
            return None
        found = seen.get(value)
        if found is None:
            found = seen[value] = convert(value)
        return found

    return cached


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _text(value: Any) -> Any:
    # Enumerations are stored by value; drivers are handed plain str.
    return value if value is None or type(value) is str else str(value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _same(value: Any) -> Any:
    return value


class Encoder:
    """Turns Python values into what one dialect's driver is handed for them.

    Timestamps are checked (aware) and converted once per distinct value; on PostgreSQL UUIDs,
    booleans, numbers and lists pass through to the binary COPY dumpers.
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.uuid: Convert = _sqlite_uuid if self.sqlite else _same
        self.time: Convert = _cached(_sqlite_time if self.sqlite else _utc)
        self.json: Convert = _json if self.sqlite else _same

    def new_ids(self) -> Iterator[Any]:
        """Fresh random row ids (version 4, as ``new_id`` makes them), encoded, in batches
        handed out in increasing order (see ``ids``)."""
        while True:
            yield from (
                ids.ordered_hex_ids(ids.BATCH) if self.sqlite else ids.ordered_ids(ids.BATCH)
            )

    def converter(self, column: Column[Any]) -> Convert:
        """How a value of ``column`` is handed to the driver."""
        kind = column.type
        if isinstance(kind, UTCDateTime):
            return self.time
        if isinstance(kind, Uuid):
            return self.uuid
        if isinstance(kind, JSON):
            return self.json
        if isinstance(kind, String):
            return _text
        if isinstance(kind, Boolean | Integer | LargeBinary):
            return _same
        raise TypeError(f"{column.table.name}.{column.name}: no fast insert for {kind!r}")


def converter(column: Column[Any], dialect: str) -> Convert:
    """How a value of ``column`` is handed to the driver of ``dialect``."""
    return Encoder(dialect).converter(column)


def encoder_for(session: Session) -> Encoder:
    """The encoder for the session's database."""
    return Encoder(session.get_bind().dialect.name)


def _pg_type(column: Column[Any]) -> str:
    # The binary COPY needs each column's type; varchar's binary form is text's.
    kind = column.type
    for sa_type, name in (
        (UTCDateTime, "timestamptz"),
        (Uuid, "uuid"),
        (JSON, "json"),
        (String, "text"),
        (Boolean, "bool"),
        (BigInteger, "int8"),
        (Integer, "int4"),
        (LargeBinary, "bytea"),
    ):
        if isinstance(kind, sa_type):
            return name
    raise TypeError(f"{column.table.name}.{column.name}: no fast insert for {kind!r}")


def insert_encoded(
    session: Session, table: Table, names: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Insert rows already encoded for the session's driver, each a tuple in ``names`` order.

    Columns left out of ``names`` get their server default (NULL for every inventory column).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, names, rows)
        return
    preparer = connection.dialect.identifier_preparer
    column_list = ", ".join(preparer.quote(name) for name in names)
    target = preparer.format_table(table)
    # SQLite's driver takes qmark parameters; exec_driver_sql hands the tuples straight over.
    placeholders = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {target} ({column_list}) VALUES ({placeholders})"  # noqa: S608 - names from the metadata
    batch = rows if isinstance(rows, list) else list(rows)
    for start in range(0, len(batch), SQLITE_BATCH):
        connection.exec_driver_sql(statement, batch[start : start + SQLITE_BATCH])


def _copy(
    connection: Connection, table: Table, names: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    preparer = connection.dialect.identifier_preparer
    column_list = ", ".join(preparer.quote(name) for name in names)
    statement = f"COPY {preparer.format_table(table)} ({column_list}) FROM STDIN (FORMAT BINARY)"
    types = [_pg_type(table.columns[name]) for name in names]
    driver: Any = connection.connection.driver_connection
    dbapi: Any = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)
    except dbapi.Error as exc:
        # As SQLAlchemy wraps driver errors: a taken key is an IntegrityError to the caller.
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


Rows = list[tuple[Any, ...]]


class Pipeline(ABC):
    """``pipeline(table, names, rows)`` writes rows; ``flush()`` says a batch is complete.

    The caller must not use the session between the first write and the end of the block.
    A write may run later, on another thread, while the caller builds the next batch; writes
    reach the database in the order they were made, and the block ends only once every write
    has finished, re-raising the first that failed (later ones are skipped).
    """

    @abstractmethod
    def __call__(self, table: Table, names: Sequence[str], rows: Rows) -> None:
        """Write ``rows`` (tuples encoded for the driver, in ``names`` order) into ``table``."""

    def flush(self) -> None:  # noqa: B027 - writing at once, there is nothing to let go
        """The rows written so far form a batch: let them go to the database."""

    @abstractmethod
    def close(self) -> None:
        """Wait for every write; re-raise the first that failed."""

    @abstractmethod
    def abort(self) -> None:
        """The caller failed: wait for the write in flight, skip the rest, raise nothing."""


class _Background:
    """One worker thread, jobs run in order; the first failure skips the rest."""

    def __init__(self, name: str) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[Future[None]] = []
        self._failed: list[BaseException] = []
        self._cancelled = False

    def submit(self, job: Callable[[], None]) -> None:
        def run() -> None:
            if self._failed or self._cancelled:
                return
            try:
                job()
            except BaseException as exc:
                self._failed.append(exc)

        self._pending.append(self._worker.submit(run))

    def settle(self) -> None:
        """Wait for the jobs submitted so far; re-raise the first failure."""
        wait(self._pending)
        self._pending = []
        if self._failed:
            raise self._failed[0]

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self._worker.shutdown()

    def cancel(self) -> None:
        """Skip the jobs not started yet; wait for the one running; raise nothing."""
        self._cancelled = True
        wait(self._pending)
        self._worker.shutdown()


class _Copies(Pipeline):
    """PostgreSQL: each write is a COPY run on the worker thread; the server checks the rows'
    foreign keys and fills the indexes while the caller encodes the next batch."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._background = _Background("secops-copy")

    def __call__(self, table: Table, names: Sequence[str], rows: Rows) -> None:
        connection = self._connection
        self._background.submit(lambda: _copy(connection, table, names, rows))

    def close(self) -> None:
        self._background.close()

    def abort(self) -> None:
        self._background.cancel()


# Staging tables live in SQLite's temporary schema, one per target table and column list.
STAGE_PREFIX = "secops_stage_"


class _Staged(Pipeline):
    """SQLite: rows are bound into typeless staging tables (no index, no constraint: cheap),
    and each batch moves into its real tables with one ``INSERT … SELECT`` per table on the
    worker thread, while the caller builds the next batch.

    The driver holds the interpreter lock while it binds a row but not while SQLite runs a
    statement, and an ``INSERT … SELECT`` is one statement: the B-tree and index work, the
    foreign-key and unique checks, most of a bulk insert's cost, runs on the second core.
    Values keep their storage class in a typeless column, so the real columns' affinities
    apply to them exactly as to a direct insert, and rows keep their order (``rowid``). The
    connection is used by one thread at a time: a write waits for the batch in flight.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver: Any = connection.connection.driver_connection
        self._background = _Background("secops-sqlite")
        # (table, columns) -> staging table name; the batch being staged, in write order.
        self._stages: dict[tuple[str, tuple[str, ...]], str] = {}
        self._staged: list[tuple[str, str, tuple[Any, ...]]] = []
        self._quote = connection.dialect.identifier_preparer.quote

    def __call__(self, table: Table, names: Sequence[str], rows: Rows) -> None:
        if not rows:
            return
        self._background.settle()
        staged, rows, constants = _constant_columns(names, rows)
        key = (table.name, tuple(staged))
        stage = self._stages.get(key)
        if stage is None:
            stage = self._stages[key] = self._create_stage(len(self._stages), staged)
        if any(name == stage for _, name, _ in self._staged):
            # Written twice in one batch: the first rows go first, then these.
            self.flush()
            self._background.settle()
        quote = self._quote
        # A column with one value in every row is bound once, in the move, not once per row.
        values = ", ".join("?" if name in constants else quote(name) for name in names)
        self._staged.append(
            (
                f"INSERT INTO main.{quote(table.name)} ({', '.join(map(quote, names))}) "  # noqa: S608 - names from the metadata
                f"SELECT {values} FROM temp.{stage} ORDER BY rowid",
                stage,
                tuple(constants[name] for name in names if name in constants),
            )
        )
        columns = ", ".join(quote(name) for name in staged)
        placeholders = ", ".join("?" for _ in staged)
        statement = f"INSERT INTO temp.{stage} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from the metadata
        for start in range(0, len(rows), SQLITE_BATCH):
            self._connection.exec_driver_sql(statement, rows[start : start + SQLITE_BATCH])

    def _create_stage(self, number: int, names: Sequence[str]) -> str:
        stage = f"{STAGE_PREFIX}{number}"
        columns = ", ".join(self._quote(name) for name in names)
        # A stage left on this pooled connection by a block that could not drop it goes first.
        self._connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{stage}")
        self._connection.exec_driver_sql(f"CREATE TEMP TABLE {stage} ({columns})")
        return stage

    def flush(self) -> None:
        if not self._staged:
            return
        moves, self._staged = self._staged, []
        driver = self._driver

        def move() -> None:
            for statement, stage, constants in moves:
                try:
                    driver.execute(statement, constants)
                except sqlite3.Error as exc:
                    raise sa_exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
                driver.execute(f"DELETE FROM temp.{stage}")  # noqa: S608 - a name made here

        self._background.submit(move)

    def close(self) -> None:
        try:
            self.flush()
            self._background.close()
        except BaseException:
            # The write's own error is the one to report, not a failure to tidy up after it.
            with suppress(Exception):
                self._drop_stages()
            raise
        self._drop_stages()

    def abort(self) -> None:
        self._staged = []
        self._background.cancel()
        with suppress(BaseException):
            self._drop_stages()

    def _drop_stages(self) -> None:
        for stage in self._stages.values():
            self._connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{stage}")
        self._stages = {}


# Below this many rows, looking for columns with a single value costs more than it saves.
CONSTANT_FROM_ROWS = 256


def _constant_columns(
    names: Sequence[str], rows: Rows
) -> tuple[Sequence[str], Rows, dict[str, Any]]:
    """The columns that vary, the rows cut down to them, and the value of each other column.

    A column is constant when every row holds an equal value of the same type (so ``1`` and
    ``True``, or ``1`` and ``1.0``, never pass for one another). Bulk rows repeat a lot: the
    provenance of every fact an import records, a run's id on all its results.
    """
    count = len(rows)
    if count < CONSTANT_FROM_ROWS:
        return names, rows, {}
    columns = list(zip(*rows, strict=True))
    constants: dict[str, Any] = {}
    varying: list[int] = []
    for index, column in enumerate(columns):
        first = column[0]
        if column.count(first) == count and len(set(map(type, column))) == 1:
            constants[names[index]] = first
        else:
            varying.append(index)
    if not constants or not varying:
        return names, rows, {}
    kept = list(zip(*(columns[i] for i in varying), strict=True))
    return [names[i] for i in varying], kept, constants


@contextmanager
def pipelined(session: Session) -> Iterator[Pipeline]:
    """A :class:`Pipeline` on the session's connection: SQLite stages each batch and moves it
    into place on a worker thread; PostgreSQL copies on a worker thread."""
    connection = session.connection()
    pipeline: Pipeline = (
        _Copies(connection) if connection.dialect.name == "postgresql" else _Staged(connection)
    )
    try:
        yield pipeline
    except BaseException:
        pipeline.abort()
        raise
    pipeline.close()


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name; missing keys are NULL) into ``table``."""
    if not rows:
        return
    encoder = encoder_for(session)
    pairs = [(c.name, encoder.converter(c)) for c in table.columns]
    names = [name for name, _ in pairs]
    values = [tuple([convert(row.get(name)) for name, convert in pairs]) for row in rows]
    insert_encoded(session, table, names, values)
