"""The tamper suite: every kind of tampering, at the start, middle and end of 1,000 events.

Each case changes the stored trail behind the service's back (raw SQL; on PostgreSQL with the
append-only triggers switched off, as a superuser could) and ``verify`` must fail. The chain
has signed checkpoints at 1, 500 and 1,000, stored and exported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from secops.audit import chain, signing
from secops.audit.models import AuditEvent
from secops.audit.service import hashed_fields_of
from secops.audit.verify import VerifyReport
from secops.core.config import Settings
from secops.core.db import SessionFactory
from tests.audit.conftest import tamper, tampering

POSITIONS = {"start": 1, "middle": 500, "end": 1000}
Verify = Callable[..., VerifyReport]


def _rewrite_chain(sessions: SessionFactory, engine: Engine, seq: int, **changes: Any) -> None:
    """Change event ``seq`` and recompute every leaf and chain hash from it on: a fresh, valid
    chain that only signed checkpoints can tell from the original."""
    with sessions.begin() as s:
        events = list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
    previous = chain.GENESIS
    with tampering(engine) as conn:
        for event in events:
            if event.seq == seq:
                for name, value in changes.items():
                    setattr(event, name, value)
            leaf = chain.leaf_hash(chain.canonical_event(hashed_fields_of(event)))
            linked = chain.chain_hash(previous, leaf)
            if event.seq >= seq:
                conn.execute(
                    text(
                        "UPDATE audit_event SET actor = :actor, leaf_hash = :leaf, "
                        "chain_hash = :chain WHERE seq = :seq"
                    ),
                    {"actor": event.actor, "leaf": leaf, "chain": linked, "seq": event.seq},
                )
            previous = linked


def _resign_stored_checkpoints(
    engine: Engine, settings: Settings, sessions: SessionFactory
) -> None:
    """Replace every stored checkpoint with one signed over the current rows by the current key."""
    leaves = _leaves(sessions)
    signer = signing.load_signer(settings.effective_audit_signing_key_file)
    with tampering(engine) as conn:
        sizes = [row[0] for row in conn.execute(text("SELECT tree_size FROM audit_checkpoint"))]
        for size in sizes:
            content = signing.Checkpoint(signer.name, size, chain.merkle_root(leaves[:size]))
            note, signature = signing.sign_checkpoint(content, signer)
            conn.execute(
                text(
                    "UPDATE audit_checkpoint SET root_hash = :root, origin = :origin, "
                    "key_id = :key_id, signature = :sig, note = :note WHERE tree_size = :size"
                ),
                {
                    "root": content.root_hash,
                    "origin": signer.name,
                    "key_id": signer.verifier.key_id,
                    "sig": signature,
                    "note": note,
                    "size": size,
                },
            )


def _leaves(sessions: SessionFactory) -> list[bytes]:
    with sessions.begin() as s:
        query = select(AuditEvent.leaf_hash).order_by(col(AuditEvent.seq))
        return [bytes(leaf) for leaf in s.exec(query)]


def _swap_key(settings: Settings) -> None:
    path = settings.effective_audit_signing_key_file
    path.unlink()
    signing.load_or_create_signer(path)


def _assert_caught(report: VerifyReport, first_bad: int | None, *reason_parts: str) -> None:
    assert not report.ok, "tampering went unnoticed"
    assert report.summary().startswith("FAIL: ")
    if first_bad is not None:
        assert report.first_bad_seq == first_bad
    for part in reason_parts:
        assert part in (report.reason or "")


def test_an_intact_chain_verifies_without_false_positives(
    chain_1000: int, run_verify: Verify
) -> None:
    report = run_verify()
    assert report.ok
    assert report.summary() == "ok: 1000 events, 3 checkpoints verified (3 exported)"


@pytest.mark.usefixtures("chain_1000")
@pytest.mark.parametrize("seq", POSITIONS.values(), ids=POSITIONS.keys())
class TestEachTamperingIsCaughtAtEachPosition:
    """Nine kinds of tampering at three positions: 27 cases, all detected."""

    def test_edit_a_field(self, engine: Engine, run_verify: Verify, seq: int) -> None:
        tamper(engine, "UPDATE audit_event SET action = 'mission.read' WHERE seq = :s", s=seq)
        _assert_caught(run_verify(), seq, "leaf hash")

    def test_delete_a_row(self, engine: Engine, run_verify: Verify, seq: int) -> None:
        tamper(engine, "DELETE FROM audit_event WHERE seq = :s", s=seq)
        _assert_caught(run_verify(), seq)

    def test_insert_a_forged_row(
        self, engine: Engine, sessions: SessionFactory, run_verify: Verify, seq: int
    ) -> None:
        # Make room at seq, then insert a well-formed event whose hashes link to seq - 1.
        with tampering(engine) as conn:
            conn.execute(
                text("UPDATE audit_event SET seq = seq + 1000000 WHERE seq >= :s"), {"s": seq}
            )
            conn.execute(text("UPDATE audit_event SET seq = seq - 999999 WHERE seq > 1000000"))
        with sessions.begin() as s:
            model = s.exec(select(AuditEvent).where(AuditEvent.seq == seq + 1)).one()
            previous = s.exec(
                select(AuditEvent.chain_hash).where(AuditEvent.seq == seq - 1)
            ).first()
        forged = {c: getattr(model, c) for c in AuditEvent.model_fields}
        forged.update(seq=seq, actor="user:mallory")
        leaf = chain.leaf_hash(chain.canonical_event(hashed_fields_of(AuditEvent(**forged))))
        forged.update(leaf_hash=leaf, chain_hash=chain.chain_hash(previous or chain.GENESIS, leaf))
        with tampering(engine) as conn:
            conn.execute(AuditEvent.__table__.insert(), forged)  # type: ignore[attr-defined]
        # Caught by the checkpoint at seq, or at seq + 1 whose contents say it is event seq.
        _assert_caught(run_verify(), None)

    def test_reorder_two_rows(self, engine: Engine, run_verify: Verify, seq: int) -> None:
        first = min(seq, 999)
        with tampering(engine) as conn:
            conn.execute(text("UPDATE audit_event SET seq = -1 WHERE seq = :a"), {"a": first})
            conn.execute(
                text("UPDATE audit_event SET seq = :a WHERE seq = :b"), {"a": first, "b": first + 1}
            )
            conn.execute(text("UPDATE audit_event SET seq = :b WHERE seq = -1"), {"b": first + 1})
        _assert_caught(run_verify(), first, "leaf hash")

    def test_truncate_the_tail(self, engine: Engine, run_verify: Verify, seq: int) -> None:
        tamper(engine, "DELETE FROM audit_event WHERE seq >= :s", s=seq)
        _assert_caught(run_verify(), seq, "tail was removed")

    def test_full_rewrite_with_a_fresh_valid_chain(
        self, engine: Engine, sessions: SessionFactory, run_verify: Verify, seq: int
    ) -> None:
        # The forger also removes the stored checkpoints: only the exported ones remain.
        _rewrite_chain(sessions, engine, seq, actor="user:mallory")
        tamper(engine, "DELETE FROM audit_checkpoint")
        _assert_caught(run_verify(), None, "exported checkpoint", "does not match the events")

    def test_forged_checkpoint_signature(
        self, engine: Engine, run_verify: Verify, seq: int
    ) -> None:
        with tampering(engine) as conn:
            note = conn.execute(
                text("SELECT note FROM audit_checkpoint WHERE tree_size = :s"), {"s": seq}
            ).scalar_one()
            body, signature_line = note.rsplit(" ", 1)
            forged = (
                signature_line[:10]
                + ("A" if signature_line[10] != "A" else "B")
                + signature_line[11:]
            )
            conn.execute(
                text("UPDATE audit_checkpoint SET note = :n WHERE tree_size = :s"),
                {"n": f"{body} {forged}", "s": seq},
            )
        _assert_caught(run_verify(), None, "stored checkpoint", "does not verify")

    def test_key_swap_with_a_rewritten_and_resigned_trail(
        self,
        engine: Engine,
        sessions: SessionFactory,
        settings: Settings,
        run_verify: Verify,
        seq: int,
    ) -> None:
        _rewrite_chain(sessions, engine, seq, actor="user:mallory")
        _swap_key(settings)
        _resign_stored_checkpoints(engine, settings, sessions)
        _assert_caught(run_verify(), None, "exported checkpoint", "not signed by")

    def test_unicode_look_alike_in_actor(
        self, engine: Engine, sessions: SessionFactory, run_verify: Verify, seq: int
    ) -> None:
        with sessions.begin() as s:
            actor = s.exec(select(AuditEvent.actor).where(AuditEvent.seq == seq)).one()
        look_alike = actor.replace("a", "\u0430", 1)  # Cyrillic small a
        assert look_alike != actor
        tamper(engine, "UPDATE audit_event SET actor = :a WHERE seq = :s", a=look_alike, s=seq)
        _assert_caught(run_verify(), seq, "leaf hash")


@pytest.mark.usefixtures("chain_1000")
@pytest.mark.parametrize("seq", POSITIONS.values(), ids=POSITIONS.keys())
def test_an_edit_with_recomputed_hashes_is_caught_by_the_checkpoints(
    engine: Engine, sessions: SessionFactory, run_verify: Verify, seq: int
) -> None:
    _rewrite_chain(sessions, engine, seq, actor="user:mallory")
    _assert_caught(run_verify(), None, "checkpoint at tree size", "does not match the events")


@pytest.mark.usefixtures("chain_1000")
def test_a_swapped_key_alone_fails_every_checkpoint(settings: Settings, run_verify: Verify) -> None:
    _swap_key(settings)
    _assert_caught(run_verify(), None, "not signed by")


@pytest.mark.usefixtures("chain_1000")
def test_a_deleted_export_file_is_reported(settings: Settings, run_verify: Verify) -> None:
    os.remove(settings.effective_audit_export_file)
    _assert_caught(run_verify(), None, "export file", "holds none")


@pytest.mark.usefixtures("chain_1000")
def test_a_removed_signing_key_is_reported(settings: Settings, run_verify: Verify) -> None:
    os.remove(settings.effective_audit_signing_key_file)
    _assert_caught(run_verify(), None, "signing key is missing")


@pytest.mark.usefixtures("chain_1000")
def test_the_rolled_back_backup_of_an_older_state_is_caught(
    engine: Engine, run_verify: Verify
) -> None:
    # Restoring a backup taken at 600 events: the exported checkpoint at 1,000 still stands.
    tamper(engine, "DELETE FROM audit_event WHERE seq > 600")
    tamper(engine, "DELETE FROM audit_checkpoint WHERE tree_size > 600")
    _assert_caught(run_verify(), 601, "exported checkpoint", "tail was removed")


def test_an_empty_trail_verifies(run_verify: Verify) -> None:
    assert run_verify().summary() == "ok: 0 events, 0 checkpoints verified (0 exported)"
