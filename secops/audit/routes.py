"""HTTP routes for the audit trail: read-only, scoped to the caller's missions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from secops.audit import service as audit_service
from secops.audit.schemas import (
    AuditCheckpointPage,
    AuditCheckpointRead,
    AuditEventPage,
    AuditEventQuery,
    AuditEventRead,
    CheckpointQuery,
    EventOrder,
)
from secops.auth.deps import CanReadAudit
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    NotFound,
    problems,
)

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_SEQ = 2**63 - 1


@router.get("/events", responses=problems(BadRequest))
def list_events(
    query: Annotated[AuditEventQuery, Query()], session: DbSession, principal: CanReadAudit
) -> AuditEventPage:
    """Audit events you may read (your missions' events; ministry-wide ones if granted)."""
    events, next_cursor = audit_service.page_events(
        session,
        principal=principal,
        filters=query.filters(),
        newest_first=query.order is EventOrder.NEWEST,
        cursor=query.cursor,
        limit=query.limit,
    )
    return AuditEventPage(items=[AuditEventRead.of(e) for e in events], next_cursor=next_cursor)


@router.get("/events/{seq}", responses=problems(NotFound))
def read_event(
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)], session: DbSession, principal: CanReadAudit
) -> AuditEventRead:
    """One audit event by its sequence number."""
    return AuditEventRead.of(audit_service.get_event(session, principal=principal, seq=seq))


@router.get("/checkpoints", responses=problems(BadRequest))
def list_checkpoints(
    query: Annotated[CheckpointQuery, Query()], session: DbSession, principal: CanReadAudit
) -> AuditCheckpointPage:
    """Signed checkpoints, largest first (needs audit:read ministry-wide)."""
    found, next_cursor = audit_service.page_checkpoints(
        session, principal=principal, cursor=query.cursor, limit=query.limit
    )
    return AuditCheckpointPage(
        items=[AuditCheckpointRead.of(c) for c in found], next_cursor=next_cursor
    )
