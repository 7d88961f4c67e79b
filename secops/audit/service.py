"""Record audit events in the caller's transaction; appends are serialised so chains never fork."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from secops.audit import chain, checkpoints, repository
from secops.audit.models import AuditCheckpoint, AuditEvent, Outcome
from secops.audit.repository import EventFilter
from secops.core.context import current_request
from secops.core.db import clock_of
from secops.core.errors import BadRequest, Forbidden, NotFound
from secops.core.logging import redact_mapping
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal


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


@dataclass(frozen=True)
class Prepared:
    """An event before it joins the chain: its fields and details, redacted, in stored form.

    Preparing needs neither the chain's lock nor the database, so a caller with a large event
    to record (an import's lists of created rows) may prepare it while it waits for a write.
    """

    action: str
    object_type: str
    object_id: str | None
    mission_id: uuid.UUID | None
    outcome: Outcome
    details: dict[str, Any]


def prepare(
    *,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None = None,
    mission_id: uuid.UUID | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    details: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> Prepared:
    """An event to ``append`` later: ``details`` and the before/after diff redacted."""
    payload: dict[str, Any] = redact_mapping(dict(details or {}))
    if before is not None or after is not None:
        payload["diff"] = diff(before, after)
    return Prepared(
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        mission_id=mission_id,
        outcome=Outcome(outcome),
        # Stored exactly as hashed: UUIDs and datetimes as text, floats as their repr.
        details=chain.jsonable(payload),
    )


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
    Every ``audit_checkpoint_every`` events a checkpoint is signed in the same transaction. The
    row is inserted directly; the returned event is a detached copy of it.
    """
    event = prepare(
        action=action,
        object_type=object_type,
        object_id=object_id,
        mission_id=mission_id,
        outcome=outcome,
        details=details,
        before=before,
        after=after,
    )
    return append(session, principal=principal, event=event, actor=actor)


def append(
    session: Session, *, principal: Principal | None, event: Prepared, actor: str | None = None
) -> AuditEvent:
    """Append a prepared event in the current transaction (see ``record``)."""
    request = current_request()
    every = checkpoints.settings_of(session).audit_checkpoint_every
    repository.lock_chain(session)
    seq, previous = repository.head(session)
    seq += 1
    values: dict[str, Any] = {
        "seq": seq,
        "ts": clock_of(session).now(),
        "actor": actor or (principal.actor if principal else "anonymous"),
        "actor_id": principal.id if principal else None,
        "mission_id": event.mission_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "request_id": request.request_id,
        "source_ip": request.source_ip,
        "details": event.details,
    }
    hashed = chain.hashed_fields(**{**values, "outcome": values["outcome"].value})
    leaf = chain.leaf_hash(chain.canonical_event(hashed))
    values["leaf_hash"] = leaf
    values["chain_hash"] = chain.chain_hash(previous, leaf)
    repository.insert_event(session, values)
    if seq % every == 0:
        checkpoints.checkpoint_at(session, seq)
    return AuditEvent(**values)


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


def _cursor_position(cursor: str | None, kind: str) -> int | None:
    if cursor is None:
        return None
    tag, position = decode_cursor(cursor, arity=2)
    if tag != kind or type(position) is not int:
        raise BadRequest(
            "The cursor is not valid for this listing; start again from the first page."
        )
    return position


def page_events(
    session: Session,
    *,
    principal: Principal,
    filters: EventFilter,
    newest_first: bool,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[AuditEvent], str | None]:
    """A page of the events the principal may read, and the cursor for the next page.

    Events of a mission are visible to holders of audit:read on it; events with no mission
    only to holders of audit:read everywhere.
    """
    kind = "events-newest" if newest_first else "events-oldest"
    size = clamp_limit(limit)
    events = repository.list_events(
        session,
        principal,
        filters=filters,
        newest_first=newest_first,
        cursor_seq=_cursor_position(cursor, kind),
        limit=size + 1,
    )
    more = len(events) > size
    events = events[:size]
    return events, encode_cursor([kind, events[-1].seq]) if more else None


def get_event(session: Session, *, principal: Principal, seq: int) -> AuditEvent:
    """One event; 404 when it is missing or outside the principal's missions."""
    event = repository.get_event(session, principal, seq)
    if event is None:
        raise NotFound("No such audit event.")
    return event


def page_checkpoints(
    session: Session, *, principal: Principal, cursor: str | None, limit: int | None
) -> tuple[list[AuditCheckpoint], str | None]:
    """A page of checkpoints, largest first; they cover every mission, so they need audit:read
    everywhere."""
    if not principal.has_everywhere(Permission.AUDIT_READ):
        raise Forbidden("Checkpoints cover every mission; they need audit:read ministry-wide.")
    size = clamp_limit(limit)
    found = repository.list_checkpoints(
        session, before_size=_cursor_position(cursor, "checkpoints"), limit=size + 1
    )
    more = len(found) > size
    found = found[:size]
    return found, encode_cursor(["checkpoints", found[-1].tree_size]) if more else None
