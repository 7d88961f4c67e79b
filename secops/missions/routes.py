"""HTTP routes for missions: thin wrappers over ``missions.service``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from secops.auth.deps import CanReadMissions, CanWriteMissions
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    problems,
)
from secops.core.etag import etag_for
from secops.missions import service as mission_service
from secops.missions.models import Mission
from secops.missions.schemas import (
    MissionCreate,
    MissionListQuery,
    MissionPage,
    MissionRead,
    MissionUpdate,
    PageQuery,
)

router = APIRouter(prefix="/missions", tags=["missions"])

IfMatch = Annotated[str | None, Header(description="The ETag you last read.")]


def _tagged(mission: MissionRead, response: Response) -> MissionRead:
    response.headers["ETag"] = etag_for(mission.version)
    return mission


def _read(mission: Mission, response: Response) -> MissionRead:
    return _tagged(MissionRead.model_validate(mission), response)


@router.get("", responses=problems(BadRequest))
def list_missions(
    query: Annotated[MissionListQuery, Query()], session: DbSession, principal: CanReadMissions
) -> MissionPage:
    """The missions you may read, by code; filter, search and page with the cursor."""
    return mission_service.list_missions(
        session=session,
        principal=principal,
        filters=query.filters(),
        cursor=query.cursor,
        limit=query.limit,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict),
)
def create_mission(
    body: MissionCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanWriteMissions,
) -> MissionRead:
    """Create a mission under a parent you administer (the HQ needs ministry-wide rights)."""
    mission = mission_service.create(session=session, principal=principal, data=body)
    response.headers["Location"] = request.url_for("get_mission", mission_id=mission.id).path
    return _read(mission, response)


@router.get("/{mission_id}", responses=problems(NotFound))
async def get_mission(
    mission_id: uuid.UUID, response: Response, session: DbSession, principal: CanReadMissions
) -> MissionRead:
    """One mission, with its ETag."""
    mission = await mission_service.read(
        session=session, principal=principal, mission_id=mission_id
    )
    return _tagged(mission, response)


@router.patch(
    "/{mission_id}",
    responses=problems(NotFound, Conflict, PreconditionFailed, PreconditionRequired),
)
def update_mission(
    mission_id: uuid.UUID,
    body: MissionUpdate,
    response: Response,
    session: DbSession,
    principal: CanWriteMissions,
    if_match: IfMatch = None,
) -> MissionRead:
    """Change a mission; send ``If-Match`` with its ETag. The code cannot change."""
    mission = mission_service.update(
        session=session,
        principal=principal,
        mission_id=mission_id,
        changes=body,
        if_match=if_match,
    )
    return _read(mission, response)


@router.post(
    "/{mission_id}/close",
    responses=problems(NotFound, Conflict, PreconditionFailed, PreconditionRequired),
)
def close_mission(
    mission_id: uuid.UUID,
    response: Response,
    session: DbSession,
    principal: CanWriteMissions,
    if_match: IfMatch = None,
) -> MissionRead:
    """Close a mission with no active missions under it; send ``If-Match`` with its ETag."""
    mission = mission_service.close(
        session=session, principal=principal, mission_id=mission_id, if_match=if_match
    )
    return _read(mission, response)


@router.get("/{mission_id}/children", responses=problems(NotFound, BadRequest))
def mission_children(
    mission_id: uuid.UUID,
    query: Annotated[PageQuery, Query()],
    session: DbSession,
    principal: CanReadMissions,
) -> MissionPage:
    """The missions directly under this one that you may read, by code."""
    return mission_service.children(
        session=session,
        principal=principal,
        mission_id=mission_id,
        cursor=query.cursor,
        limit=query.limit,
    )
