"""Rules for grants of roles on missions; API keys live in ``apikeys``, re-exported here.

Only what the grantor holds can be granted, only by an admin over every mission it covers, and
only after a recent sign-in. Every change is audited in the caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.auth.access import repository
from secops.auth.access.apikeys import (
    authenticate_api_key,
    create_api_key,
    key_missions,
    list_api_keys,
    revoke_api_key,
)
from secops.auth.access.models import Grant
from secops.auth.access.rules import (
    grant_reach,
    mission_scope,
    require_person,
    require_step_up,
    roles_for_user,
)
from secops.auth.access.scopes import covers, reach_of_role
from secops.auth.access.users import user_exists
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.principal import Permission, Principal, Role

__all__ = [
    "authenticate_api_key",
    "create_api_key",
    "grant_reach",
    "grant_role",
    "key_missions",
    "list_api_keys",
    "list_grants",
    "require_person",
    "require_step_up",
    "revoke_api_key",
    "revoke_grant",
    "roles_for_user",
]


def _snapshot(grant: Grant) -> dict[str, object]:
    return {
        "user_id": str(grant.user_id),
        "role": str(grant.role),
        "mission_id": str(grant.mission_id) if grant.mission_id else None,
        "include_children": grant.include_children,
        "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
    }


def grant_role(
    session: Session,
    *,
    principal: Principal,
    user_id: uuid.UUID,
    role: Role,
    mission_id: uuid.UUID | None,
    include_children: bool,
) -> Grant:
    """Give ``role`` on a mission (None: the whole ministry); only what the grantor holds there."""
    require_person(principal)
    include_children = include_children and mission_id is not None
    scope = mission_scope(session, principal, mission_id, include_children)
    if not covers(principal.missions_with(Permission.USERS_ADMIN), scope):
        raise Forbidden("Granting roles here needs the admin role over all of its missions.")
    if not covers(reach_of_role(principal, role), scope):
        raise Forbidden("You can only grant a role you hold yourself on those missions.")
    require_step_up(session, principal)
    if not user_exists(session, user_id):
        raise NotFound("No such user.")
    if repository.find_live_grant(
        session,
        user_id=user_id,
        role=role,
        mission_id=mission_id,
        include_children=include_children,
    ):
        raise Conflict("The user already holds this grant.")
    grant = Grant(
        user_id=user_id,
        role=role,
        mission_id=mission_id,
        include_children=include_children,
        created_by=principal.id,
        created_at=clock_of(session).now(),
    )
    session.add(grant)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="authz_grant_added",
        object_type="grant",
        object_id=grant.id,
        mission_id=mission_id,
        after=_snapshot(grant),
    )
    return grant


def _administered_grant(session: Session, principal: Principal, grant_id: uuid.UUID) -> Grant:
    grant = repository.get_grant(session, principal, grant_id)
    if grant is None:
        raise NotFound("No such grant.")
    return grant


def revoke_grant(session: Session, *, principal: Principal, grant_id: uuid.UUID) -> Grant:
    """End a grant now; the holder's sessions and keys lose it on their next request.

    No step-up: taking access away must stay quick during an incident.
    """
    require_person(principal)
    grant = _administered_grant(session, principal, grant_id)
    if grant.revoked_at is not None:
        raise Conflict("The grant is already revoked.")
    if grant.role == Role.ADMIN and grant.mission_id is None:
        others = [g for g in repository.live_ministry_admin_grants(session) if g.id != grant.id]
        if not any(user_exists(session, g.user_id, active_only=True) for g in others):
            raise Conflict("This is the last ministry-wide admin grant; grant another first.")
    before = _snapshot(grant)
    grant.revoked_at = clock_of(session).now()
    grant.revoked_by = principal.id
    session.add(grant)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="authz_grant_revoked",
        object_type="grant",
        object_id=grant.id,
        mission_id=grant.mission_id,
        before=before,
        after=_snapshot(grant),
    )
    return grant


def list_grants(
    session: Session,
    *,
    principal: Principal,
    user_id: uuid.UUID,
    include_revoked: bool = False,
) -> list[Grant]:
    """A user's grants on the missions the caller administers (ministry-wide: EVERYWHERE only)."""
    require_person(principal)
    if not user_exists(session, user_id):
        raise NotFound("No such user.")
    grants = repository.grants_of(
        session, principal, user_id=user_id, include_revoked=include_revoked
    )
    return list(grants)
