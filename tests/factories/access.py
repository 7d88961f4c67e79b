"""Small builders for access tests: users, grants, keys and the principals they make."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from secops.auth.access import service as access_service
from secops.auth.access.models import ApiKey, Grant
from secops.auth.models import User, UserStatus
from secops.core.db import clock_of
from secops.core.principal import (
    MissionSet,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    system_principal,
)
from secops.missions.models import Mission

_seq = itertools.count(1)


def make_user(session: Session, username: str | None = None) -> User:
    """An active user row (no password: these tests do not sign in through /auth)."""
    name = username or f"user{next(_seq)}"
    now = clock_of(session).now()
    user = User(
        username=name,
        username_key=name.casefold(),
        display_name=name.title(),
        status=UserStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def disable_user(session: Session, user: User) -> None:
    """Mark a user disabled, as the identity service does."""
    user.status = UserStatus.DISABLED
    user.disabled_at = clock_of(session).now()
    session.add(user)
    session.flush()


def make_grant(
    session: Session,
    user: User,
    role: Role,
    mission: Mission | None = None,
    *,
    include_children: bool = False,
) -> Grant:
    """A live grant made by the server-local administrator."""
    return access_service.grant_role(
        session,
        principal=system_principal("tests"),
        user_id=user.id,
        role=role,
        mission_id=mission.id if mission else None,
        include_children=include_children,
    )


def person(session: Session, user: User, *, authenticated_at: datetime | None = None) -> Principal:
    """The principal a fresh sign-in of ``user`` would produce (roles read from the grants)."""
    return Principal(
        kind=PrincipalKind.USER,
        id=user.id,
        name=user.username,
        roles=access_service.roles_for_user(session, user_id=user.id),
        session_id=uuid.uuid4(),
        authenticated_at=authenticated_at or clock_of(session).now(),
    )


def principal_with(
    roles: dict[Role, MissionSet],
    *,
    user_id: uuid.UUID | None = None,
    fresh: datetime | None = None,
) -> Principal:
    """A user principal with the given roles, for act_as."""
    return Principal(
        kind=PrincipalKind.USER,
        id=user_id or uuid.uuid4(),
        name="tester",
        roles=roles,
        session_id=uuid.uuid4(),
        authenticated_at=fresh,
    )


def make_key(
    session: Session,
    owner: User,
    permissions: Iterable[Permission],
    missions: Iterable[Mission] | None = None,
    *,
    days: int = 30,
    name: str = "script",
) -> tuple[ApiKey, str]:
    """A key for ``owner`` created as a fresh sign-in would; returns the row and its token."""
    return access_service.create_api_key(
        session,
        principal=person(session, owner),
        name=name,
        permissions=permissions,
        mission_ids=None if missions is None else [m.id for m in missions],
        days=days,
    )
