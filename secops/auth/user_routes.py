"""HTTP routes for administering users: create (with an invitation), list, disable, reset.

Every route here refuses API keys. Changes need the admin role ministry-wide; the ones that hand
out credentials (create, reset, approve, enable) also need a recent sign-in.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from secops.auth import resets, service
from secops.auth.deps import CanAdminUsers, CanReadUsers
from secops.auth.schemas import (
    ResetRead,
    ResetStart,
    SessionsEnded,
    UserCreate,
    UserCreated,
    UserPage,
    UserRead,
)
from secops.core.db import DbSession
from secops.core.errors import (
    Conflict,
    NotFound,
    StepUpRequired,
    problems,
)
from secops.core.etag import etag_for

router = APIRouter(prefix="/users", tags=["users"])


def reset_view(ticket: resets.ResetTicket) -> ResetRead:
    """The response for a started or approved reset."""
    return ResetRead(
        id=ticket.record.id,
        user_id=ticket.record.user_id,
        purpose=str(ticket.record.purpose),
        status="awaiting_approval" if ticket.awaiting_approval else "issued",
        token=ticket.token,
        expires_at=ticket.record.expires_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(Conflict, StepUpRequired))
def create_user(body: UserCreate, session: DbSession, principal: CanAdminUsers) -> UserCreated:
    """Create a user and an invitation token to hand to them; they choose their own password."""
    user = service.create_user(
        session,
        principal=principal,
        username=body.username,
        display_name=body.display_name,
        email=body.email,
    )
    ticket = resets.issue_invitation(session, principal=principal, user=user)
    return UserCreated(user=UserRead.of(user), invitation=reset_view(ticket))


@router.get("", responses=problems())
def list_users(
    session: DbSession,
    principal: CanReadUsers,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> UserPage:
    """Users by username, a page at a time."""
    page = service.list_users(session, principal=principal, cursor=cursor, limit=limit)
    return UserPage(items=[UserRead.of(u) for u in page.items], next_cursor=page.next_cursor)


@router.get("/{user_id}", responses=problems(NotFound))
def get_user(
    user_id: uuid.UUID, session: DbSession, principal: CanReadUsers, response: Response
) -> UserRead:
    """One user."""
    user = service.get_user(session, principal=principal, user_id=user_id)
    response.headers["ETag"] = etag_for(user.version)
    return UserRead.of(user)


@router.post("/{user_id}/disable", responses=problems(NotFound, Conflict))
def disable_user(user_id: uuid.UUID, session: DbSession, principal: CanAdminUsers) -> UserRead:
    """Stop the user signing in; their sessions end now."""
    user = service.disable_user(session, principal=principal, user_id=user_id)
    return UserRead.of(user)


@router.post("/{user_id}/enable", responses=problems(NotFound, StepUpRequired))
def enable_user(user_id: uuid.UUID, session: DbSession, principal: CanAdminUsers) -> UserRead:
    """Let a disabled user sign in again."""
    user = service.enable_user(session, principal=principal, user_id=user_id)
    return UserRead.of(user)


@router.post("/{user_id}/sessions/revoke", responses=problems(NotFound))
def revoke_sessions(
    user_id: uuid.UUID, session: DbSession, principal: CanAdminUsers
) -> SessionsEnded:
    """End every session of the user now."""
    ended = service.revoke_sessions(session, principal=principal, user_id=user_id)
    return SessionsEnded(sessions_ended=ended)


@router.post(
    "/{user_id}/reset",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict, StepUpRequired),
)
def start_reset(
    user_id: uuid.UUID, body: ResetStart, session: DbSession, principal: CanAdminUsers
) -> ResetRead:
    """Start a reset: a one-time token, or (factor) a request a second admin approves."""
    ticket = resets.start_reset(session, principal=principal, user_id=user_id, factor=body.factor)
    return reset_view(ticket)


@router.post(
    "/{user_id}/resets/{reset_id}/approve",
    responses=problems(NotFound, Conflict, StepUpRequired),
)
def approve_reset(
    user_id: uuid.UUID, reset_id: uuid.UUID, session: DbSession, principal: CanAdminUsers
) -> ResetRead:
    """Approve another administrator's lost-factor reset; returns the token for the user."""
    ticket = resets.approve_reset(session, principal=principal, user_id=user_id, reset_id=reset_id)
    return reset_view(ticket)
