"""Raw reads of the audit tables for the verifier and the export: no ORM, no type processing.

Rows come straight from the DBAPI cursor (server-side on PostgreSQL) and are turned into the
hashed form here; this is what lets ``secops audit verify`` read 100,000 events in seconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from secops.audit import chain

EVENT_COLUMNS = (
    "seq, ts, actor, actor_id, mission_id, action, object_type, object_id, outcome, "
    "request_id, source_ip, details, leaf_hash, chain_hash"
)
# PostgreSQL renders timestamps, UUIDs and JSON as text itself: five times faster to fetch than
# letting the driver build datetime, UUID and dict objects, and already in the hashed form.
PG_EVENT_COLUMNS = (
    "seq, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, "
    "actor_id::text, mission_id::text, action, object_type, object_id, outcome, "
    "request_id, source_ip, details::text, leaf_hash, chain_hash"
)
FETCH_SIZE = 5000
_JCS_INT_MAX = 2**53 - 1


@contextmanager
def _cursor(engine: Engine, name: str) -> Iterator[Any]:
    # The DBAPI cursor directly: no ORM objects, no type processing, and on SQLite no
    # BEGIN IMMEDIATE (with WAL a plain read never blocks the writers).
    raw = engine.raw_connection()
    driver: Any = raw.driver_connection
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        # SQLite returns whatever bytes were written; text that is not UTF-8 must reach the
        # verifier as a bad event, not stop the read. Restored before the connection is pooled.
        driver.text_factory = _lenient_text
    try:
        # PostgreSQL: a named (server-side) cursor streams the rows in batches.
        cursor = raw.cursor() if sqlite else driver.cursor(name=name)
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        if sqlite:
            driver.text_factory = str
        raw.rollback()
        raw.close()


def _lenient_text(data: bytes) -> str:
    # Invalid bytes become unpaired surrogates, which no canonical form accepts.
    return data.decode("utf-8", "surrogateescape")


def stored_checkpoint_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every stored checkpoint, smallest first, as ``(tree_size, root_hash, note, signature,
    key_id, origin, frontier)``."""
    with _cursor(engine, "secops_audit_checkpoints") as cursor:
        cursor.execute(
            "SELECT tree_size, root_hash, note, signature, key_id, origin, frontier "
            "FROM audit_checkpoint ORDER BY tree_size"
        )
        return list(cursor.fetchall())


def event_rows(
    engine: Engine, *, columns: str | None = None, start: int = 1, upto: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Stored events as raw rows, in seq order, from seq ``start`` up to ``upto``."""
    if columns is None:
        columns = PG_EVENT_COLUMNS if engine.dialect.name == "postgresql" else EVENT_COLUMNS
    bounds = f"seq >= {int(start)}" + (f" AND seq <= {int(upto)}" if upto is not None else "")
    # Only integers are formatted into the statement: the drivers' placeholders differ.
    query = f"SELECT {columns} FROM audit_event WHERE {bounds} ORDER BY seq"  # noqa: S608
    with _cursor(engine, "secops_audit_events") as cursor:
        cursor.execute(query)
        while rows := cursor.fetchmany(FETCH_SIZE):
            yield from rows


def _text_ts(value: Any) -> Any:
    if isinstance(value, datetime):
        return chain.format_ts(value)
    if isinstance(value, str) and len(value) == 26 and value[10] == " ":
        # SQLite's stored form: the hashed form with a space for the T and no Z.
        return f"{value[:10]}T{value[11:]}Z"
    return value  # anything else cannot hash as the original: reported as a bad leaf


def _text_uuid(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


class _NeedsReference(Exception):
    """The stored JSON holds a float or an integer JCS cannot represent."""


def _checked_int(text: str) -> int:
    value = int(text)
    if -_JCS_INT_MAX <= value <= _JCS_INT_MAX:
        return value
    raise _NeedsReference


def _refuse(_text: str) -> Any:
    raise _NeedsReference


_plain_json = json.JSONDecoder(
    parse_float=_refuse, parse_int=_checked_int, parse_constant=_refuse
).decode


def _details(value: Any) -> tuple[Any, bool]:
    """The stored details and whether ``json`` alone writes their canonical form.

    Stored JSON is ASCII with escapes, so text without ``\\u`` has only ASCII keys and no
    unpaired surrogates; the decoder hooks reject floats and out-of-range integers. What passes
    needs no further inspection before the fast serialiser.
    """
    if not isinstance(value, str | bytes):
        return value, False
    if isinstance(value, str) and value.isascii() and "\\u" not in value:
        try:
            return _plain_json(value), True
        except _NeedsReference:
            pass
    return json.loads(value), False


def fields_of_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """The hashed form of a raw ``audit_event`` row, as ``hashed_fields_of`` builds it."""
    return _fields(row, _details(row[11])[0])


def _fields(row: tuple[Any, ...], details: Any) -> dict[str, Any]:
    return {
        "seq": row[0],
        "ts": _text_ts(row[1]),
        "actor": row[2],
        "actor_id": _text_uuid(row[3]),
        "mission_id": _text_uuid(row[4]),
        "action": row[5],
        "object_type": row[6],
        "object_id": row[7],
        "outcome": row[8],
        "request_id": row[9],
        "source_ip": row[10],
        "details": details,
    }


_PLAIN_TYPES = frozenset({str, type(None)})


def canonical_of_row(row: tuple[Any, ...]) -> bytes:
    """The RFC 8785 bytes the leaf hash of a raw row covers."""
    details, plain = _details(row[11])
    fields = _fields(row, details)
    seq = row[0]
    # Text from the drivers is valid UTF-8 (no unpaired surrogates), so for the columns only
    # the type matters: text or NULL, and a seq that JCS can write as a number.
    if (
        plain
        and type(seq) is int
        and 0 < seq <= _JCS_INT_MAX
        and _PLAIN_TYPES.issuperset(map(type, row[1:11]))
    ):
        return chain.fast_json(fields)
    return chain.canonical_event(fields)
