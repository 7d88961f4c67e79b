"""Multi-row inserts for the import's new rows, without per-value bind processing.

SQLAlchemy's Core ``executemany`` runs every value through its type's bind processor, which
costs more than the insert itself for the few hundred thousand values of a large import. Here
the values are converted once per column to what SQLAlchemy would have sent, then handed to the
driver: ``executemany`` on SQLite, ``COPY … FROM STDIN`` on PostgreSQL, in the session's own
transaction. Only the column types the inventory tables use are supported; anything else is a
programming error, caught by the tests that compare rows written both ways.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, LargeBinary, String, Table, Uuid
from sqlmodel import Session

from secops.core.db import UTCDateTime

Convert = Callable[[Any], Any]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use clock.now()")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite storage format, microseconds always written (values compare as text).
    if value is None:
        return None
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


def _pg_time(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _text(value: Any) -> Any:
    # Enumerations are stored by value; drivers are handed plain str.
    return value if value is None or type(value) is str else str(value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _same(value: Any) -> Any:
    return value


def converter(column: Column[Any], dialect: str) -> Convert:
    """How a value of ``column`` is handed to the driver of ``dialect``."""
    kind = column.type
    sqlite = dialect == "sqlite"
    if isinstance(kind, UTCDateTime):
        return _cached(_sqlite_time if sqlite else _pg_time)
    if isinstance(kind, Uuid):
        return _sqlite_uuid if sqlite else _same
    if isinstance(kind, JSON):
        return _json
    if isinstance(kind, String):
        return _text
    if isinstance(kind, Boolean | Integer | LargeBinary):
        return _same
    raise TypeError(f"{column.table.name}.{column.name}: no fast insert for {kind!r}")


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name; missing keys are NULL) into ``table``."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = list(table.columns)
    converters = [converter(c, dialect.name) for c in columns]
    names = [c.name for c in columns]
    pairs = list(zip(names, converters, strict=True))
    values = [tuple([convert(row.get(name)) for name, convert in pairs]) for row in rows]
    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        driver: Any = connection.connection.driver_connection
        statement = f"COPY {target} ({column_list}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for value in values:
                copy.write_row(value)
        return
    # SQLite's driver takes qmark parameters; exec_driver_sql hands the tuples straight over.
    placeholders = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {target} ({column_list}) VALUES ({placeholders})"  # noqa: S608 - names from the metadata
    for start in range(0, len(values), 5000):
        connection.exec_driver_sql(statement, values[start : start + 5000])
