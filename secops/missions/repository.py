"""Scoped reads of missions: every query here goes through ``scope``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from secops.core.errors import BadRequest, NotFound
from secops.core.inline import InlineReader
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.schemas import MissionFilters
from secops.missions.scope import fetch_visible, scope

NOT_FOUND = "No such mission."

_MISSION = Mission.__table__  # type: ignore[attr-defined]
# unscoped: a read by id on the event loop; ``read`` lets the row through ``fetch_visible``.
BY_ID: Final = sa_select(*_MISSION.columns).where(_MISSION.c.id == bindparam("mission_id"))


def find(
    session: Session,
    principal: Principal,
    mission_id: uuid.UUID,
    *,
    permission: Permission = Permission.MISSIONS_READ,
    for_update: bool = False,
) -> Mission | None:
    """The mission if ``principal`` holds ``permission`` on it, else None."""
    query = scope(
        select(Mission).where(col(Mission.id) == mission_id), principal, permission, Mission.id
    )
    if for_update:
        # Writers queue on the row (PostgreSQL); SQLite already serialises every writer.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).one_or_none()


async def read(
    reader: InlineReader,
    principal: Principal,
    mission_id: uuid.UUID,
    *,
    permission: Permission = Permission.MISSIONS_READ,
) -> Any | None:
    """The mission's row (attributes named as ``Mission``'s) if visible to ``principal``."""
    return await fetch_visible(
        reader, BY_ID, {"mission_id": mission_id}, principal, permission, "id"
    )


def get(
    session: Session,
    principal: Principal,
    mission_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Mission:
    """The mission if ``principal`` may read it; missing and out of scope are the same 404."""
    mission = find(session, principal, mission_id, for_update=for_update)
    if mission is None:
        raise NotFound(NOT_FOUND)
    return mission


def _narrow(query: SelectOfScalar[Mission], filters: MissionFilters) -> SelectOfScalar[Mission]:
    if filters.code is not None:
        query = query.where(col(Mission.code) == filters.code)
    if filters.kind is not None:
        query = query.where(col(Mission.kind) == filters.kind)
    if filters.country is not None:
        query = query.where(col(Mission.country) == filters.country)
    if filters.region is not None:
        query = query.where(col(Mission.region) == filters.region)
    if filters.status is not None:
        query = query.where(col(Mission.status) == filters.status)
    if filters.parent_id is not None:
        query = query.where(col(Mission.parent_id) == filters.parent_id)
    if filters.q is not None:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(col(Mission.code)).contains(needle, autoescape=True),
                func.lower(col(Mission.name)).contains(needle, autoescape=True),
            )
        )
    return query


def page(
    session: Session,
    principal: Principal,
    filters: MissionFilters,
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> tuple[Sequence[Mission], str | None]:
    """One page of the missions ``principal`` may read, ordered by code, and the next cursor."""
    size = clamp_limit(limit)
    query = scope(select(Mission), principal, Permission.MISSIONS_READ, Mission.id)
    query = _narrow(query, filters)
    if cursor is not None:
        (after,) = decode_cursor(cursor, arity=1)
        if not isinstance(after, str):
            raise BadRequest("The cursor is not valid; start again from the first page.")
        query = query.where(col(Mission.code) > after)
    rows = session.exec(query.order_by(col(Mission.code)).limit(size + 1)).all()
    if len(rows) <= size:
        return rows, None
    return rows[:size], encode_cursor([rows[size - 1].code])


def visible(session: Session, principal: Principal) -> Sequence[Mission]:
    """Every mission ``principal`` may read, ordered by code (the tree is small by nature)."""
    query = scope(select(Mission), principal, Permission.MISSIONS_READ, Mission.id)
    return session.exec(query.order_by(col(Mission.code))).all()
