"""Signed checkpoints: C2SP tree heads stored in the database and exported outside it.

Each checkpoint is a signed note over the RFC 6962 root of the first ``tree_size`` leaves. It is
stored in ``audit_checkpoint`` in the transaction that made it and, once that transaction has
committed, appended as one JSON line to the export file. The export file is the witness: a
rewrite of the database, checkpoints included, no longer matches what was exported.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from secops.audit import chain, repository, signing
from secops.audit.models import AuditCheckpoint
from secops.core.config import Settings
from secops.core.db import clock_of, info_of
from secops.core.errors import Conflict
from secops.core.logging import get_logger

log = get_logger("secops.audit")

_PENDING_EXPORTS = "secops.audit.pending_exports"


def settings_of(session: Session) -> Settings:
    """The settings the session was made with."""
    settings: Settings = info_of(session, "settings")
    return settings


def signer_for(settings: Settings) -> signing.SignerKey:
    """The checkpoint signing key, created (mode 0600) on first use."""
    return signing.load_or_create_signer(settings.effective_audit_signing_key_file)


def create(session: Session) -> AuditCheckpoint:
    """Sign the trail as it stands in this transaction; exported once the transaction commits."""
    repository.lock_chain(session)
    size, _ = repository.head(session)
    return checkpoint_at(session, size)


def checkpoint_at(session: Session, tree_size: int) -> AuditCheckpoint:
    """Sign the first ``tree_size`` events; the caller holds the chain lock.

    An existing checkpoint of that size is returned as it is. The root is computed from the
    nearest earlier checkpoint's frontier plus the leaves stored since.
    """
    existing = repository.checkpoint_at(session, tree_size)
    if existing is not None:
        return existing
    frontier = _frontier_at(session, tree_size)
    settings = settings_of(session)
    signer = signer_for(settings)
    content = signing.Checkpoint(signer.name, tree_size, frontier.root())
    note, signature = signing.sign_checkpoint(content, signer)
    checkpoint = AuditCheckpoint(
        tree_size=tree_size,
        root_hash=content.root_hash,
        origin=content.origin,
        key_id=signer.verifier.key_id,
        signature=signature,
        note=note,
        frontier=frontier.to_bytes(),
        created_at=clock_of(session).now(),
    )
    session.add(checkpoint)
    session.flush()
    export_after_commit(session, settings.effective_audit_export_file, export_record(checkpoint))
    return checkpoint


def _frontier_at(session: Session, tree_size: int) -> chain.MerkleFrontier:
    base = repository.latest_checkpoint_within(session, tree_size)
    frontier = (
        chain.MerkleFrontier.from_bytes(base.tree_size, base.frontier)
        if base is not None
        else chain.MerkleFrontier()
    )
    for seq, leaf in repository.leaf_hashes(session, after=frontier.size, upto=tree_size):
        if seq != frontier.size + 1:
            raise Conflict(
                f"The audit trail has no event {frontier.size + 1}; refusing to sign it. "
                "Run `secops audit verify`."
            )
        frontier.append(leaf)
    if frontier.size != tree_size:
        raise Conflict(f"The audit trail has fewer than {tree_size} events; refusing to sign it.")
    return frontier


def export_record(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The exported form of a checkpoint (one JSON line)."""
    return {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.tree_size,
        "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        "key_id": checkpoint.key_id.hex(),
        "created_at": chain.format_ts(checkpoint.created_at),
        "note": checkpoint.note,
    }


def export_after_commit(session: Session, path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` once the session's transaction has committed.

    A rolled-back transaction (or savepoint) exports nothing, so the export file never holds a
    checkpoint the database lost.
    """
    pending: list[_Pending] | None = session.info.get(_PENDING_EXPORTS)
    if pending is None:
        pending = session.info[_PENDING_EXPORTS] = []
        event.listen(session, "after_commit", _write_pending)
        event.listen(session, "after_soft_rollback", _drop_rolled_back)
    made_in = session.get_nested_transaction() or session.get_transaction()
    pending.append((made_in, path, record))


_Pending = tuple[SessionTransaction | None, Path, dict[str, Any]]


def _write_pending(session: Session) -> None:
    pending: list[_Pending] = session.info.get(_PENDING_EXPORTS, [])
    while pending:
        _, path, record = pending.pop(0)
        try:
            append_line(path, record)
        except OSError as exc:
            # The commit has happened and cannot be undone; the operator must re-export.
            log.error(
                "audit.checkpoint_export_failed",
                path=str(path),
                tree_size=record["tree_size"],
                error=exc.strerror,
            )


def _drop_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    pending: list[_Pending] = session.info.get(_PENDING_EXPORTS, [])
    pending[:] = [entry for entry in pending if not _within(entry[0], rolled_back)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to a 0600 file, creating its directory; flushed to disk."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # One write() on an O_APPEND file: concurrent writers never interleave within a line.
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
