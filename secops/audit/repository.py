"""Queries on the audit trail: the chain head, checkpoints, and events scoped to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from secops.audit import chain
from secops.audit.models import AuditCheckpoint, AuditEvent
from secops.core.db import lock_key
from secops.core.principal import Everywhere, Permission, Principal

# Any constant works; it only has to be the same for every writer of this database.
AUDIT_LOCK_KEY = 0x5EC0A0D1


_LOCKED_IN = "secops.audit.locked_in"
_HEAD_IN = "secops.audit.head_in"


def _innermost(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _still_current(session: Session, taken_in: SessionTransaction | None) -> bool:
    # True while we are inside the transaction (or savepoint) where the state was recorded:
    # a savepoint rolled back since, or a new transaction, makes it stale.
    current = _innermost(session)
    while current is not None:
        if current is taken_in:
            return True
        current = current.parent
    return False


def lock_chain(session: Session) -> None:
    """Become the only writer of the chain until this transaction ends."""
    if _still_current(session, session.info.get(_LOCKED_IN)):
        return  # already held: the lock lasts until the transaction ends
    lock_key(session, AUDIT_LOCK_KEY)
    session.info[_LOCKED_IN] = _innermost(session)


_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# unscoped: the head of the chain, read by the append path under the chain lock
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.chain_hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT = _EVENTS.insert()


def head(session: Session) -> tuple[int, bytes]:
    """The newest event's seq and chain hash (0 and the genesis hash for an empty trail).

    Under the chain lock nobody else appends, so the head this transaction wrote last is
    remembered instead of read again (a batch of appends costs one query, not one each).
    """
    remembered = session.info.get(_HEAD_IN)
    if remembered is not None and _still_current(session, remembered[0]):
        return int(remembered[1]), bytes(remembered[2])
    # Core statements on the session's connection: appends skip the ORM's unit of work.
    row = session.connection().execute(_HEAD).first()
    if row is None:
        return 0, chain.GENESIS
    return int(row[0]), bytes(row[1])


def insert_event(session: Session, values: dict[str, Any]) -> None:
    """Insert one event row in the session's transaction; it becomes the remembered head."""
    session.connection().execute(_INSERT, values)
    session.info[_HEAD_IN] = (_innermost(session), values["seq"], values["chain_hash"])


def checkpoint_at(session: Session, tree_size: int) -> AuditCheckpoint | None:
    """The stored checkpoint for exactly ``tree_size`` leaves, if any."""
    # unscoped: the chain and its checkpoints span every mission; only the service reads them
    query = select(AuditCheckpoint).where(AuditCheckpoint.tree_size == tree_size)
    return session.exec(query).first()


def latest_checkpoint_within(session: Session, tree_size: int) -> AuditCheckpoint | None:
    """The largest stored checkpoint no larger than ``tree_size``."""
    # unscoped: the chain and its checkpoints span every mission; only the service reads them
    query = (
        select(AuditCheckpoint)
        .where(AuditCheckpoint.tree_size <= tree_size)
        .order_by(col(AuditCheckpoint.tree_size).desc())
        .limit(1)
    )
    return session.exec(query).first()


def leaf_hashes(session: Session, *, after: int, upto: int) -> list[tuple[int, bytes]]:
    """``(seq, leaf hash)`` of the events after seq ``after`` up to ``upto``, in order."""
    # unscoped: the chain and its checkpoints span every mission; only the service reads them
    query = (
        select(AuditEvent.seq, AuditEvent.leaf_hash)
        .where(AuditEvent.seq > after, AuditEvent.seq <= upto)
        .order_by(col(AuditEvent.seq))
    )
    return [(int(seq), bytes(leaf)) for seq, leaf in session.execute(query)]


def stored_checkpoints(session: Session) -> list[AuditCheckpoint]:
    """Every stored checkpoint, smallest first."""
    # unscoped: the chain and its checkpoints span every mission; only the service reads them
    return list(session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size))))


@dataclass(frozen=True)
class EventFilter:
    """What the caller asked to see."""

    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _scoped(query: Select[Any], principal: Principal) -> Select[Any]:
    reach = principal.missions_with(Permission.AUDIT_READ)
    if isinstance(reach, Everywhere):
        return query
    # Events with no mission are ministry-wide: only holders of audit:read everywhere see them.
    return query.where(col(AuditEvent.mission_id).in_(sorted(reach)))


def list_events(
    session: Session,
    principal: Principal,
    *,
    filters: EventFilter,
    newest_first: bool,
    cursor_seq: int | None,
    limit: int,
) -> list[AuditEvent]:
    """Events the caller may read, ordered by seq, starting after ``cursor_seq``."""
    query: Select[Any] = _scoped(select(AuditEvent), principal)
    for column, value in (
        (col(AuditEvent.action), filters.action),
        (col(AuditEvent.object_type), filters.object_type),
        (col(AuditEvent.object_id), filters.object_id),
        (col(AuditEvent.actor), filters.actor),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(col(AuditEvent.ts) >= filters.since)
    if filters.until is not None:
        query = query.where(col(AuditEvent.ts) < filters.until)
    seq = col(AuditEvent.seq)
    if newest_first:
        query = query.order_by(seq.desc())
        if cursor_seq is not None:
            query = query.where(seq < cursor_seq)
    else:
        query = query.order_by(seq)
        if cursor_seq is not None:
            query = query.where(seq > cursor_seq)
    return list(session.scalars(query.limit(limit)))


def get_event(session: Session, principal: Principal, seq: int) -> AuditEvent | None:
    """One event, or None when it is missing or outside the caller's missions."""
    query = _scoped(select(AuditEvent).where(AuditEvent.seq == seq), principal)
    return session.scalars(query).first()


def list_checkpoints(
    session: Session, *, before_size: int | None, limit: int
) -> list[AuditCheckpoint]:
    """Stored checkpoints, largest first."""
    # unscoped: checkpoints span every mission; the service demands audit:read everywhere
    query = select(AuditCheckpoint)
    if before_size is not None:
        query = query.where(AuditCheckpoint.tree_size < before_size)
    query = query.order_by(col(AuditCheckpoint.tree_size).desc()).limit(limit)
    return list(session.exec(query))
