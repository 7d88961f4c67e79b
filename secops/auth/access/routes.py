"""HTTP routes for users' grants and for API keys: thin wrappers over ``access.service``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from secops.auth.access import service
from secops.auth.access.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    GrantCreate,
    GrantList,
    GrantRead,
)
from secops.auth.deps import CanAdminUsers, CurrentPerson
from secops.core.db import DbSession
from secops.core.errors import (
    Conflict,
    NotFound,
    StepUpRequired,
    problems,
)

router = APIRouter(tags=["access"])


@router.get("/users/{user_id}/grants", responses=problems(NotFound))
def list_user_grants(
    user_id: uuid.UUID,
    session: DbSession,
    principal: CanAdminUsers,
    include_revoked: Annotated[bool, Query()] = False,
) -> GrantList:
    """The user's grants on the missions you administer."""
    grants = service.list_grants(
        session, principal=principal, user_id=user_id, include_revoked=include_revoked
    )
    return GrantList(items=[GrantRead.of(g) for g in grants])


@router.post(
    "/users/{user_id}/grants",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict, StepUpRequired),
)
def add_user_grant(
    user_id: uuid.UUID, body: GrantCreate, session: DbSession, principal: CanAdminUsers
) -> GrantRead:
    """Give the user a role on a mission, or on the whole ministry (needs a recent sign-in)."""
    grant = service.grant_role(
        session,
        principal=principal,
        user_id=user_id,
        role=body.role,
        mission_id=body.mission_id,
        include_children=body.include_children,
    )
    return GrantRead.of(grant)


@router.delete("/grants/{grant_id}", responses=problems(NotFound, Conflict))
def revoke_grant(grant_id: uuid.UUID, session: DbSession, principal: CanAdminUsers) -> GrantRead:
    """End a grant now; the holder's sessions and keys lose it on their next request."""
    return GrantRead.of(service.revoke_grant(session, principal=principal, grant_id=grant_id))


@router.post(
    "/apikeys",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict, StepUpRequired),
)
def create_api_key(
    body: ApiKeyCreate, session: DbSession, principal: CurrentPerson
) -> ApiKeyCreated:
    """Create a key for yourself; the token is in this response only (needs a recent sign-in)."""
    key, token = service.create_api_key(
        session,
        principal=principal,
        name=body.name,
        permissions=body.permissions,
        mission_ids=body.missions,
        days=body.days,
    )
    return ApiKeyCreated(**ApiKeyRead.of(key).model_dump(), token=token)


@router.get("/apikeys", responses=problems())
def list_api_keys(
    session: DbSession,
    principal: CurrentPerson,
    everyone: Annotated[bool, Query(description="Also keys of users you administer.")] = False,
    include_revoked: Annotated[bool, Query()] = False,
) -> ApiKeyList:
    """Your keys (secrets are never shown again)."""
    keys = service.list_api_keys(
        session, principal=principal, everyone=everyone, include_revoked=include_revoked
    )
    return ApiKeyList(items=[ApiKeyRead.of(k) for k in keys])


@router.delete("/apikeys/{key_id}", responses=problems(NotFound, Conflict))
def revoke_api_key(key_id: uuid.UUID, session: DbSession, principal: CurrentPerson) -> ApiKeyRead:
    """Revoke your key, or any key on missions you administer; it stops working at once."""
    return ApiKeyRead.of(service.revoke_api_key(session, principal=principal, key_id=key_id))
