"""The few facts about users that grants and keys need, read from the identity tables."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from secops.auth.models import User, UserStatus


def user_exists(session: Session, user_id: uuid.UUID, *, active_only: bool = False) -> bool:
    """True if the user exists (and, when asked, may sign in)."""
    user = session.get(User, user_id)
    if user is None:
        return False
    return not active_only or user.status == UserStatus.ACTIVE
