"""HTTP routes for users' grants and for API keys: thin wrappers over ``access.service``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from secops.auth.access import exchange, service
from secops.auth.access.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    GrantCreate,
    GrantList,
    GrantRead,
    KeyTokenIssued,
)
from secops.auth.deps import CanAdminUsers, CurrentPerson, ExchangingKey
from secops.core.db import DbSession, clock_of
from secops.core.errors import (
    Conflict,
    NotFound,
    StepUpRequired,
    TooManyRequests,
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


@router.post("/tokens", status_code=status.HTTP_201_CREATED, responses=problems(TooManyRequests))
def exchange_api_key(session: DbSession, principal: ExchangingKey) -> KeyTokenIssued:
    """Exchange the API key you send for a bearer token that works for 15 minutes.

    The token acts as the key does and stops with it: revoke the key and its tokens end too.
    """
    issued, token = exchange.exchange_api_key(session, principal=principal)
    remaining = issued.expires_at - clock_of(session).now()
    return KeyTokenIssued(
        token=token,
        expires_at=issued.expires_at,
        expires_in=max(0, int(remaining.total_seconds())),
    )


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
