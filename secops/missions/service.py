"""Mission rules: who may create, change and close missions, and how the tree stays a tree.

Checks run in this order so nothing leaks: visible (else 404, same as missing), writable (403),
``If-Match`` (428/412), then the domain rules (409). Every change is audited in the caller's
transaction; nothing here commits.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.core import inline
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.etag import require_if_match
from secops.core.principal import Permission, Principal
from secops.missions import hierarchy, repository
from secops.missions.hierarchy import descendants, expand
from secops.missions.models import Mission, MissionKind, MissionStatus
from secops.missions.schemas import (
    MissionCreate,
    MissionFilters,
    MissionNode,
    MissionPage,
    MissionRead,
    MissionUpdate,
)

__all__ = [
    "children",
    "close",
    "create",
    "descendants",
    "expand",
    "get",
    "list_missions",
    "read",
    "tree",
    "update",
]

OBJECT_TYPE = "mission"
DUPLICATE_CODE = {"loc": ["body", "code"], "msg": "already in use", "type": "unique"}


async def read(*, session: Session, principal: Principal, mission_id: uuid.UUID) -> MissionRead:
    """A mission the principal may read, as the API shows it, read on the event loop; else 404."""
    row = await repository.read(inline.reader_for(session), principal, mission_id)
    if row is None:
        raise NotFound(repository.NOT_FOUND)
    return MissionRead.model_validate(row)


def get(*, session: Session, principal: Principal, mission_id: uuid.UUID) -> Mission:
    """A mission the principal may read; 404 otherwise."""
    return repository.get(session, principal, mission_id)


def list_missions(
    *,
    session: Session,
    principal: Principal,
    filters: MissionFilters,
    cursor: str | None = None,
    limit: int | None = None,
) -> MissionPage:
    """One page of the missions the principal may read, by code."""
    rows, next_cursor = repository.page(session, principal, filters, cursor=cursor, limit=limit)
    return MissionPage(items=[MissionRead.model_validate(m) for m in rows], next_cursor=next_cursor)


def children(
    *,
    session: Session,
    principal: Principal,
    mission_id: uuid.UUID,
    cursor: str | None = None,
    limit: int | None = None,
) -> MissionPage:
    """The missions directly under a visible mission that the principal may also read."""
    parent = repository.get(session, principal, mission_id)
    filters = MissionFilters(parent_id=parent.id)
    return list_missions(
        session=session, principal=principal, filters=filters, cursor=cursor, limit=limit
    )


def tree(*, session: Session, principal: Principal) -> list[MissionNode]:
    """The visible missions as a forest: a mission whose parent is hidden becomes a root."""
    missions = repository.visible(session, principal)
    nodes = {
        m.id: MissionNode(id=m.id, code=m.code, name=m.name, kind=m.kind, status=m.status)
        for m in missions
    }
    roots: list[MissionNode] = []
    for mission in missions:
        parent = nodes.get(mission.parent_id) if mission.parent_id else None
        (parent.children if parent else roots).append(nodes[mission.id])
    return roots


def create(*, session: Session, principal: Principal, data: MissionCreate) -> Mission:
    """Add a mission under a parent the principal may write (the HQ needs ministry-wide rights)."""
    hierarchy.lock_tree(session)
    if data.kind == MissionKind.HQ:
        if not principal.has_everywhere(Permission.MISSIONS_WRITE):
            raise Forbidden("Only a ministry-wide administrator can create the headquarters.")
        if hierarchy.hq_exists(session):
            raise Conflict("The ministry already has its headquarters.")
    elif data.parent_id is not None:
        _writable_parent(session, principal, data.parent_id)
    if hierarchy.code_taken(session, data.code):
        raise Conflict(
            "Another mission already uses this code; codes are unique (field: code).",
            extra={
                "errors": [{"loc": ["body", "code"], "msg": "already in use", "type": "unique"}]
            },
        )
    now = clock_of(session).now()
    mission = Mission(**data.model_dump(), created_at=now, updated_at=now)
    session.add(mission)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="mission.create",
        object_type=OBJECT_TYPE,
        object_id=mission.id,
        mission_id=mission.id,
        after=mission.snapshot(),
    )
    return mission


def update(
    *,
    session: Session,
    principal: Principal,
    mission_id: uuid.UUID,
    changes: MissionUpdate,
    if_match: str | None,
) -> Mission:
    """Change a mission's name, kind, place or parent; the code never changes."""
    mission = _for_change(session, principal, mission_id, if_match)
    fields = {k: v for k, v in changes.changes().items() if getattr(mission, k) != v}
    if not fields:
        return mission
    if "kind" in fields:
        _check_kind_change(mission, fields["kind"])
    if "parent_id" in fields:
        _check_move(session, principal, mission, fields["parent_id"])
    before = mission.snapshot()
    for name, value in fields.items():
        setattr(mission, name, value)
    _record_change(session, principal, mission, "mission.update", before)
    return mission


def close(
    *, session: Session, principal: Principal, mission_id: uuid.UUID, if_match: str | None
) -> Mission:
    """Close a mission once nothing active hangs under it; closed missions are read-only."""
    mission = _for_change(session, principal, mission_id, if_match)
    if mission.is_hq:
        raise Conflict("The headquarters cannot be closed.")
    if hierarchy.active_children(session, mission.id):
        raise Conflict("The mission still has active missions under it; close those first.")
    before = mission.snapshot()
    mission.status = MissionStatus.CLOSED
    mission.closed_at = clock_of(session).now()
    _record_change(session, principal, mission, "mission.close", before)
    return mission


def _for_change(
    session: Session, principal: Principal, mission_id: uuid.UUID, if_match: str | None
) -> Mission:
    hierarchy.lock_tree(session)
    mission = repository.get(session, principal, mission_id, for_update=True)
    if not principal.can(Permission.MISSIONS_WRITE, mission.id):
        raise Forbidden("You may read this mission but not change it.")
    require_if_match(if_match, mission.version)
    if not mission.is_active:
        raise Conflict("The mission is closed; closed missions cannot be changed.")
    return mission


def _record_change(
    session: Session, principal: Principal, mission: Mission, action: str, before: dict[str, object]
) -> None:
    mission.updated_at = clock_of(session).now()
    mission.version += 1
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=mission.id,
        mission_id=mission.id,
        before=before,
        after=mission.snapshot(),
    )


def _writable_parent(session: Session, principal: Principal, parent_id: uuid.UUID) -> Mission:
    parent = repository.find(session, principal, parent_id)
    if parent is None:
        raise NotFound("No such parent mission.")
    if not principal.can(Permission.MISSIONS_WRITE, parent.id):
        raise Forbidden("You may not add or move missions under this parent.")
    if not parent.is_active:
        raise Conflict("The parent mission is closed; choose an active parent.")
    return parent


def _check_kind_change(mission: Mission, kind: MissionKind) -> None:
    if mission.is_hq:
        raise Conflict("The headquarters cannot become another kind of mission.")
    if kind == MissionKind.HQ:
        raise Conflict("The ministry already has its headquarters.")


def _check_move(
    session: Session, principal: Principal, mission: Mission, parent_id: uuid.UUID
) -> None:
    if mission.is_hq:
        raise Conflict("The headquarters is the root of the tree and has no parent.")
    parent = _writable_parent(session, principal, parent_id)
    if parent.id in descendants(session, mission.id):
        raise Conflict("A mission cannot move under itself or one of the missions under it.")
