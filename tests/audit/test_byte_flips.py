"""Property: flipping one bit of any stored field of any event or checkpoint is always reported."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Table

from secops.audit.verify import VerifyReport
from secops.core.db import SessionFactory
from tests.audit.conftest import CHECKPOINTS, EVENTS, record_many, tampering

EVENT_FIELDS = [
    "seq",
    "ts",
    "actor",
    "actor_id",
    "mission_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "request_id",
    "source_ip",
    "details",
    "leaf_hash",
    "chain_hash",
]
# Every checkpoint column the verifier reads; created_at is informational and not signed.
CHECKPOINT_FIELDS = ["tree_size", "root_hash", "note", "signature", "key_id", "origin", "frontier"]
EVENTS_IN_TRAIL = 20
CHECKPOINT_SIZES = (5, 10, 20)


@pytest.fixture
def small_trail(sessions: SessionFactory) -> None:
    """20 events from two missions and none, checkpoints at 5, 10 and 20."""
    with sessions.begin() as s:
        record_many(
            s,
            EVENTS_IN_TRAIL,
            mission_ids=(uuid.uuid4(), None, uuid.uuid4()),
            checkpoint_at=CHECKPOINT_SIZES,
        )


def _flip_text(value: str | None, position: int, bit: int) -> str:
    if not value:
        return "x"
    index = position % len(value)
    flipped = chr(ord(value[index]) ^ (1 << bit))
    assume(flipped != "\x00")  # PostgreSQL text cannot hold NUL
    return value[:index] + flipped + value[index + 1 :]


def _flip_bytes(value: bytes, position: int, bit: int) -> bytes:
    data = bytearray(value)
    data[position % len(data)] ^= 1 << bit
    return bytes(data)


def _flipped(field: str, value: Any, position: int, bit: int) -> Any:
    if isinstance(value, bytes):
        return _flip_bytes(value, position, bit)
    if field in {"seq", "tree_size"}:
        return value + (1 << (bit + 20))  # far beyond the trail: no collision with a real row
    if field == "ts":
        return value + timedelta(microseconds=1 << (position % 40))
    if field in {"actor_id", "mission_id"}:
        return uuid.UUID(int=(value.int if value else 0) ^ (1 << (position % 128)))
    if field == "details":
        text = json.dumps(value)
        changed = _flip_text(text, position, bit)
        try:
            parsed = json.loads(changed)
        except ValueError:
            parsed = None
        assume(isinstance(parsed, dict) and parsed != value)  # a different, storable value
        return parsed
    return _flip_text(value, position, bit)


def _key(table: Table) -> str:
    return "seq" if table is EVENTS else "tree_size"


@pytest.mark.usefixtures("small_trail")
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    target=st.sampled_from(
        [(EVENTS, f) for f in EVENT_FIELDS] + [(CHECKPOINTS, f) for f in CHECKPOINT_FIELDS]
    ),
    row=st.integers(min_value=0, max_value=EVENTS_IN_TRAIL - 1),
    position=st.integers(min_value=0, max_value=10_000),
    bit=st.integers(min_value=0, max_value=6),
)
def test_any_single_bit_flip_is_reported(
    engine: Engine,
    run_verify: Callable[..., VerifyReport],
    target: tuple[Table, str],
    row: int,
    position: int,
    bit: int,
) -> None:
    table, field = target
    key = _key(table)
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(table.select().with_only_columns(table.c[key]))]
        chosen = sorted(keys)[row % len(keys)]
        original = conn.execute(table.select().where(table.c[key] == chosen)).one()._mapping
    value = original[field]
    changed = _flipped(field, value, position, bit)
    assume(changed != value)
    with tampering(engine) as conn:
        conn.execute(table.update().where(table.c[key] == chosen).values({field: changed}))
    try:
        report = run_verify()
        assert not report.ok, f"flip of {table.name}.{field} at {chosen} went unnoticed"
    finally:
        restored_key = changed if field == key else chosen
        with tampering(engine) as conn:
            conn.execute(table.update().where(table.c[key] == restored_key).values({field: value}))
    assert run_verify().ok  # restored exactly: no false positive afterwards
