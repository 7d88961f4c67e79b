"""Record audit events in the caller's transaction; appends are serialised so chains never fork."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from secops.audit import chain
from secops.audit.models import AuditEvent, Outcome
from secops.core.context import current_request
from secops.core.db import clock_of
from secops.core.logging import redact_mapping
from secops.core.principal import Principal

# Any constant works; it only has to be the same for every writer of this database.
AUDIT_LOCK_KEY = 0x5EC0A0D1


def _lock_chain(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    # SQLite: every secops transaction starts with BEGIN IMMEDIATE, so this writer already holds
    # the database's write lock.


def _head(session: Session) -> tuple[int, bytes]:
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.chain_hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    if row is None:
        return 0, chain.GENESIS
    return int(row[0]), bytes(row[1])


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """The before/after of a change, limited to the fields that changed, secrets redacted."""
    before = dict(before or {})
    after = dict(after or {})
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {
        "changed": changed,
        "before": redact_mapping({k: before.get(k) for k in changed if k in before}),
        "after": redact_mapping({k: after.get(k) for k in changed if k in after}),
    }


def record(
    session: Session,
    *,
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None = None,
    mission_id: uuid.UUID | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    details: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Append one event in the current transaction; it commits or rolls back with the change.

    ``action`` is a dotted name (``mission.create``, ``authn_login_fail``); ``before``/``after``
    become a redacted diff; ``actor`` names an unauthenticated caller (e.g. a failed sign-in).
    """
    payload: dict[str, Any] = redact_mapping(dict(details or {}))
    if before is not None or after is not None:
        payload["diff"] = diff(before, after)
    request = current_request()
    _lock_chain(session)
    seq, previous = _head(session)
    seq += 1
    ts = clock_of(session).now()
    event = AuditEvent(
        seq=seq,
        ts=ts,
        actor=actor or (principal.actor if principal else "anonymous"),
        actor_id=principal.id if principal else None,
        mission_id=mission_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        request_id=request.request_id,
        source_ip=request.source_ip,
        details=payload,
        leaf_hash=b"",
        chain_hash=b"",
    )
    leaf = chain.leaf_hash(chain.canonical_event(hashed_fields_of(event)))
    event.leaf_hash = leaf
    event.chain_hash = chain.chain_hash(previous, leaf)
    session.add(event)
    session.flush()
    return event


def hashed_fields_of(event: AuditEvent) -> dict[str, Any]:
    """The fields of a stored event that its leaf hash covers."""
    return chain.hashed_fields(
        seq=event.seq,
        ts=event.ts,
        actor=event.actor,
        actor_id=event.actor_id,
        mission_id=event.mission_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        outcome=str(event.outcome),
        request_id=event.request_id,
        source_ip=event.source_ip,
        details=event.details,
    )
