"""Signed checkpoints: made every N events or on demand, stored, and exported after commit."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from structlog.testing import capture_logs

from secops.audit import chain, checkpoints, signing
from secops.audit.models import AuditCheckpoint, AuditEvent
from secops.audit.verify import VerifyReport
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.errors import Conflict
from tests.audit.conftest import record_many, tamper

MakeSessions = Callable[..., SessionFactory]


@pytest.fixture
def make_sessions(sessions: SessionFactory, settings: Settings, clock: FrozenClock) -> MakeSessions:
    """Session factories on the test database with other audit settings."""

    def make(**changes: object) -> SessionFactory:
        changed = settings.model_copy(update=changes)
        return SessionFactory(sessions.engine, clock=clock, settings=changed)

    return make


def _exported(settings: Settings) -> list[dict[str, object]]:
    path = settings.effective_audit_export_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _leaves(sessions: SessionFactory) -> list[bytes]:
    with sessions.begin() as s:
        return [
            bytes(x) for x in s.exec(select(AuditEvent.leaf_hash).order_by(col(AuditEvent.seq)))
        ]


def _stored(sessions: SessionFactory) -> list[AuditCheckpoint]:
    with sessions.begin() as s:
        query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size))
        return list(s.exec(query))


def _verifier(settings: Settings) -> signing.VerifierKey:
    return signing.load_signer(settings.effective_audit_signing_key_file).verifier


def test_a_checkpoint_is_signed_every_n_events(
    make_sessions: MakeSessions, settings: Settings
) -> None:
    every_four = make_sessions(audit_checkpoint_every=4)
    with every_four.begin() as s:
        record_many(s, 10)
    stored = _stored(every_four)
    leaves = _leaves(every_four)
    assert [c.tree_size for c in stored] == [4, 8]
    verifier = _verifier(settings)
    for checkpoint in stored:
        opened = signing.open_checkpoint(checkpoint.note, verifier)
        assert (
            opened.root_hash
            == checkpoint.root_hash
            == chain.merkle_root(leaves[: opened.tree_size])
        )
        assert opened.origin == checkpoint.origin == verifier.name
        assert checkpoint.key_id == verifier.key_id
    exported = _exported(settings)
    assert [e["tree_size"] for e in exported] == [4, 8]
    assert exported[1]["note"] == stored[1].note
    assert base64.b64decode(str(exported[1]["root_hash"])) == stored[1].root_hash


def test_a_rolled_back_transaction_exports_no_checkpoint(
    make_sessions: MakeSessions, settings: Settings
) -> None:
    every_four = make_sessions(audit_checkpoint_every=4)

    def fail_after_five() -> None:
        with every_four.begin() as s:
            record_many(s, 5)
            raise RuntimeError("business failure")

    with pytest.raises(RuntimeError, match="business failure"):
        fail_after_five()
    assert _stored(every_four) == []
    assert _exported(settings) == []
    with every_four.begin() as s:  # the same engine keeps working, and exports after commit
        record_many(s, 4)
    assert [e["tree_size"] for e in _exported(settings)] == [4]


def test_an_on_demand_checkpoint_signs_the_current_head_once(
    sessions: SessionFactory, settings: Settings
) -> None:
    with sessions.begin() as s:
        record_many(s, 7)
    with sessions.begin() as s:
        first = checkpoints.create(s)
    with sessions.begin() as s:
        again = checkpoints.create(s)
    assert first.tree_size == again.tree_size == 7
    assert first.id == again.id
    assert first.root_hash == chain.merkle_root(_leaves(sessions))
    assert [e["tree_size"] for e in _exported(settings)] == [7]


def test_an_empty_trail_can_be_checkpointed(sessions: SessionFactory) -> None:
    with sessions.begin() as s:
        checkpoint = checkpoints.create(s)
    assert checkpoint.tree_size == 0
    assert checkpoint.root_hash == chain.EMPTY_ROOT


def test_the_export_file_and_its_directory_are_owner_only(
    sessions: SessionFactory, settings: Settings
) -> None:
    with sessions.begin() as s:
        record_many(s, 1)
        checkpoints.create(s)
    export = settings.effective_audit_export_file
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert stat.S_IMODE(export.parent.stat().st_mode) == 0o700
    database = settings.effective_database_url
    if database.startswith("sqlite:///"):
        assert not export.is_relative_to(Path(database.removeprefix("sqlite:///")).parent)


def test_a_trail_with_a_gap_is_not_signed(sessions: SessionFactory, engine: Engine) -> None:
    with sessions.begin() as s:
        record_many(s, 3)
    tamper(engine, "DELETE FROM audit_event WHERE seq = 2")
    with pytest.raises(Conflict, match="no event 2"), sessions.begin() as s:
        checkpoints.create(s)


def test_a_failed_export_is_logged_and_the_commit_stands(
    make_sessions: MakeSessions, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    every_two = make_sessions(audit_checkpoint_every=2, audit_export_file=blocked)
    with capture_logs() as logs, every_two.begin() as s:
        record_many(s, 2)
    assert [c.tree_size for c in _stored(every_two)] == [2]
    failures = [e for e in logs if e["event"] == "audit.checkpoint_export_failed"]
    assert failures
    assert failures[0]["tree_size"] == 2


def test_a_checkpoint_in_a_rolled_back_savepoint_is_not_exported(
    make_sessions: MakeSessions, settings: Settings, run_verify: Callable[..., VerifyReport]
) -> None:
    every_two = make_sessions(audit_checkpoint_every=2)
    with every_two.begin() as s:
        record_many(s, 1)
        savepoint = s.begin_nested()
        record_many(s, 1)  # signs a checkpoint at 2, then the savepoint is undone
        savepoint.rollback()
        record_many(s, 2)  # a different event 2, signed again, and event 3
    stored = _stored(every_two)
    exported = _exported(settings)
    assert [c.tree_size for c in stored] == [2]
    assert [e["note"] for e in exported] == [stored[0].note]
    assert len(_leaves(every_two)) == 3
    assert run_verify().ok  # the head was read again after the savepoint: no gap, no fork
