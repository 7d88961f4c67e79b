"""The verifier's raw reads: the same bytes as ``hashed_fields_of``, and unreadable rows caught."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from secops.audit import chain, rows
from secops.audit import service as audit_service
from secops.audit.models import AuditEvent
from secops.audit.service import hashed_fields_of
from secops.audit.verify import VerifyReport
from secops.core.db import SessionFactory
from tests.audit.conftest import make_principal, record_many, tamper

Verify = Callable[..., VerifyReport]


def test_raw_rows_canonicalise_exactly_as_the_orm_objects(
    sessions: SessionFactory, engine: Engine
) -> None:
    with sessions.begin() as s:
        record_many(s, 30, mission_ids=(uuid.uuid4(), None))
        audit_service.record(  # the slow path too: non-ASCII keys, floats, huge text
            s,
            principal=make_principal("léa", {}),
            action="account.update",
            object_type="account",
            details={"clé": "valeur", "score": 0.5, "text": "\u2028\x01" * 50, "big": 2**40},
        )
    with sessions.begin() as s:
        events = list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
    expected = [chain.canonical_event(hashed_fields_of(e)) for e in events]
    assert [rows.canonical_of_row(r) for r in rows.event_rows(engine)] == expected
    assert [chain.leaf_hash(b) for b in expected] == [bytes(e.leaf_hash) for e in events]


@pytest.mark.usefixtures("chain_1000")
def test_details_that_are_not_json_are_reported_at_their_seq(
    engine: Engine, run_verify: Verify
) -> None:
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's json type refuses text that is not JSON")
    tamper(engine, "UPDATE audit_event SET details = '{broken' WHERE seq = 77")
    report = run_verify()
    assert (report.ok, report.first_bad_seq) == (False, 77)
    assert report.reason == "the stored event cannot be read"


@pytest.mark.usefixtures("chain_1000")
def test_text_that_is_not_utf8_is_reported_at_its_seq(engine: Engine, run_verify: Verify) -> None:
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL refuses text that is not UTF-8")
    tamper(engine, "UPDATE audit_event SET actor = CAST(X'75FF' AS TEXT) WHERE seq = 640")
    report = run_verify()
    assert (report.ok, report.first_bad_seq) == (False, 640)
