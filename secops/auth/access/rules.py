"""What a user holds and the checks every access change makes (read on every request).

Roles are read from the live grants on every request, so a revoked grant, a disabled user or a
revoked key stops working on the very next request of every session and key.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session

from secops.auth.access import repository
from secops.auth.access.models import Grant
from secops.auth.callers import LiveGrant, in_session, roles_of
from secops.core.config import Settings
from secops.core.db import clock_of, info_of
from secops.core.errors import Forbidden, StepUpRequired
from secops.core.principal import EVERYWHERE, MissionSet, Principal, PrincipalKind, Role
from secops.missions import service as missions_service


def grant_reach(session: Session, grant: Grant) -> MissionSet:
    """The missions one grant covers now (children expanded at read time)."""
    if grant.mission_id is None:
        return EVERYWHERE
    if not grant.include_children:
        return frozenset({grant.mission_id})
    return missions_service.descendants(session, grant.mission_id) | {grant.mission_id}


def roles_for_user(session: Session, *, user_id: uuid.UUID) -> dict[Role, MissionSet]:
    """Per role, the missions the user's live grants reach; ministry-wide grants → EVERYWHERE."""
    grants = [
        LiveGrant(
            id=grant.id,
            role=Role(grant.role),
            mission_id=grant.mission_id,
            include_children=grant.include_children,
        )
        for grant in repository.live_grants_of(session, user_id=user_id)
    ]
    # The request path derives roles the same way, from grants read with the session row.
    return roles_of(in_session(session), grants)


def require_person(principal: Principal) -> None:
    """Refuse API keys: managing grants and keys needs someone who signed in."""
    if principal.kind is PrincipalKind.API_KEY:
        raise Forbidden("API keys cannot manage grants or keys; sign in as a person.")


def require_step_up(session: Session, principal: Principal) -> None:
    """Refuse unless the caller signed in within the step-up window (server-local CLI exempt)."""
    if principal.kind is PrincipalKind.SYSTEM:
        return
    settings: Settings = info_of(session, "settings")
    signed_in = principal.authenticated_at
    max_age = timedelta(seconds=settings.step_up_max_age_seconds)
    if signed_in is None or clock_of(session).now() - signed_in > max_age:
        raise StepUpRequired("This change needs a recent sign-in; sign in again and retry.")


def mission_scope(
    session: Session, principal: Principal, mission_id: uuid.UUID | None, include_children: bool
) -> MissionSet:
    """The missions a grant or key would name; 404 unless the caller can see the mission."""
    if mission_id is None:
        return EVERYWHERE
    missions_service.get(session=session, principal=principal, mission_id=mission_id)
    if not include_children:
        return frozenset({mission_id})
    return missions_service.descendants(session, mission_id) | {mission_id}
