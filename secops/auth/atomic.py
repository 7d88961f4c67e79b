"""Authorisation atomic with the write it allows (ASVS 8.3.1, property 25).

A request that may change data (any method but GET, HEAD and OPTIONS) reads its caller again
inside its own transaction, after locking the rows that caller's access rests on: the user's
live grants, the user, and the session or API key. On PostgreSQL they are held ``FOR SHARE``
until the request commits: a revoke, disable or logout that comes later waits for the write, and
one that came first is seen before anything is written. On SQLite the transaction began with
``BEGIN IMMEDIATE`` and holds the only write lock, so nothing changes underneath it.

The locks are taken in the order the writers that change them take theirs (grant, user, then
session), so a write and a concurrent revoke or disable queue one behind the other. Two writes
that each revoke a grant the other rests on can still deadlock; PostgreSQL then aborts one of
them, which answers 503 with nothing changed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from secops.auth import sessions
from secops.auth.access import repository as access_repository
from secops.auth.access.models import ApiKey, Grant
from secops.auth.models import User, UserSession


def hold_user(session: Session, *, user_id: uuid.UUID) -> None:
    """Lock a user's live grants and user row until the transaction ends."""
    # unscoped: locks the caller's own access; there is nothing to show anyone.
    grants = select(col(Grant.id)).where(
        col(Grant.user_id) == user_id, col(Grant.revoked_at).is_(None)
    )
    session.execute(grants.with_for_update(read=True)).all()
    user = select(col(User.id)).where(col(User.id) == user_id)
    session.execute(user.with_for_update(read=True)).all()


def hold_session(
    session: Session, *, user_id: uuid.UUID, session_id: uuid.UUID, touch_at: datetime | None
) -> None:
    """Lock a user's access and one of their sessions, refreshing its last use if asked."""
    hold_user(session, user_id=user_id)
    if touch_at is not None:
        # The UPDATE takes the row's exclusive lock first: two requests of one session that
        # both held it shared and then both updated it would wait for each other.
        sessions.touch(session, session_id=session_id, now=touch_at)
    row = select(col(UserSession.id)).where(col(UserSession.id) == session_id)
    session.execute(row.with_for_update(read=True)).all()


def hold_key(
    session: Session, *, owner_id: uuid.UUID, key_id: uuid.UUID, touch_at: datetime | None
) -> None:
    """Lock a key owner's access and the key, refreshing its last use if asked."""
    hold_user(session, user_id=owner_id)
    if touch_at is not None:
        access_repository.touch_key(session, key_id=key_id, at=touch_at)
    row = select(col(ApiKey.id)).where(col(ApiKey.id) == key_id)
    session.execute(row.with_for_update(read=True)).all()
