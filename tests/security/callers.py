"""Real credentials for security suites: session tokens and API keys, no act_as shortcuts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import Session

from secops.auth import sessions as auth_sessions
from secops.auth.access import service as access_service
from secops.auth.models import User
from secops.core.principal import Permission
from tests.factories.access import person


def session_headers(session: Session, user_id: uuid.UUID) -> dict[str, str]:
    """A fresh full session for the user (as after password + TOTP), as a Bearer header."""
    user = session.get(User, user_id)
    assert user is not None
    issued = auth_sessions.open_session(session, user=user, enrolment_only=False)
    return {"Authorization": f"Bearer {issued.token}"}


def key_headers(
    session: Session,
    owner_id: uuid.UUID,
    permissions: Iterable[Permission],
    missions: Iterable[uuid.UUID] | None = None,
    *,
    name: str = "suite",
) -> dict[str, str]:
    """A new API key of ``owner_id`` (created as the owner after a fresh sign-in)."""
    user = session.get(User, owner_id)
    assert user is not None
    _, token = access_service.create_api_key(
        session,
        principal=person(session, user),
        name=name,
        permissions=permissions,
        mission_ids=None if missions is None else list(missions),
        days=30,
    )
    return {"Authorization": f"Bearer {token}"}
