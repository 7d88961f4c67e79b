"""Queries for identity tables; conditional updates where two requests may race."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, update
from sqlmodel import Session, col, select

from secops.auth.models import (
    AccountToken,
    BootstrapCode,
    RecoveryCode,
    SessionEndReason,
    User,
    UserSession,
)
from secops.missions.models import Mission


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# --- users -----------------------------------------------------------------------------------


# unscoped: users belong to no mission
def user_by_key(session: Session, username_key: str) -> User | None:
    """The user whose normalised username is ``username_key``."""
    return session.exec(select(User).where(User.username_key == username_key)).first()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    """One user by id."""
    return session.get(User, user_id)


# unscoped: users belong to no mission; the service checks users:read
def list_users(session: Session, *, after: tuple[str, str] | None, limit: int) -> Sequence[User]:
    """Users ordered by normalised username, then id (keyset pagination)."""
    query = select(User)
    if after is not None:
        key, last_id = after
        query = query.where(
            or_(
                col(User.username_key) > key,
                (col(User.username_key) == key) & (col(User.id) > uuid.UUID(last_id)),
            )
        )
    query = query.order_by(col(User.username_key), col(User.id)).limit(limit)
    return session.exec(query).all()


# unscoped: a count of every user, for bootstrap
def count_users(session: Session) -> int:
    """How many users exist (bootstrap refuses once there is one)."""
    return int(session.exec(select(func.count()).select_from(User)).one())


def claim_totp_step(session: Session, *, user_id: uuid.UUID, timecode: int) -> bool:
    """Record ``timecode`` as used; False if it (or a later one) was already used.

    Keyed on the time step, not on the code, and atomic: of two requests with the same code,
    exactly one changes the row.
    """
    result = session.execute(
        update(User)
        .where(
            col(User.id) == user_id,
            or_(col(User.last_totp_timecode).is_(None), col(User.last_totp_timecode) < timecode),
        )
        .values(last_totp_timecode=timecode)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# unscoped: every mission's words are refused in passwords, whoever sets one
def mission_context(session: Session) -> list[str]:
    """Names, codes and cities of every mission: words a password may not contain."""
    rows = session.exec(select(Mission.name, Mission.code, Mission.city)).all()
    return [value for row in rows for value in row if value]


# --- sessions --------------------------------------------------------------------------------


# unscoped: a session is found by its token, before anyone is known
def session_by_token_hash(session: Session, token_hash: bytes) -> UserSession | None:
    """The session a token names, whatever its state."""
    return session.exec(select(UserSession).where(UserSession.token_hash == token_hash)).first()


# unscoped: one user's own sessions
def live_sessions_of(session: Session, *, user_id: uuid.UUID) -> Sequence[UserSession]:
    """A user's sessions that have not been ended (expiry is judged by the caller)."""
    query = select(UserSession).where(
        UserSession.user_id == user_id, col(UserSession.ended_at).is_(None)
    )
    return session.exec(query.order_by(col(UserSession.created_at).desc())).all()


def touch_session(
    session: Session, *, session_id: uuid.UUID, at: datetime, idle_since: datetime
) -> None:
    """Move a live session's ``last_seen_at`` forward to ``at``: never back, never past a
    timeout (a session unused since before ``idle_since``, or past its expiry, stays dead)."""
    session.execute(
        update(UserSession)
        .where(
            col(UserSession.id) == session_id,
            col(UserSession.ended_at).is_(None),
            col(UserSession.last_seen_at) < at,
            col(UserSession.last_seen_at) >= idle_since,
            col(UserSession.expires_at) > at,
        )
        .values(last_seen_at=at)
        .execution_options(synchronize_session=False)
    )


def end_sessions(
    session: Session,
    *,
    user_id: uuid.UUID,
    reason: SessionEndReason,
    at: datetime,
    except_id: uuid.UUID | None = None,
) -> int:
    """End every live session of a user (but ``except_id``); returns how many ended."""
    query = update(UserSession).where(
        col(UserSession.user_id) == user_id, col(UserSession.ended_at).is_(None)
    )
    if except_id is not None:
        query = query.where(col(UserSession.id) != except_id)
    result = session.execute(
        query.values(ended_at=at, end_reason=reason).execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def end_session(
    session: Session, *, session_id: uuid.UUID, reason: SessionEndReason, at: datetime
) -> bool:
    """End one live session; False if it had already ended."""
    result = session.execute(
        update(UserSession)
        .where(col(UserSession.id) == session_id, col(UserSession.ended_at).is_(None))
        .values(ended_at=at, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# --- recovery codes --------------------------------------------------------------------------


def consume_recovery_code(
    session: Session, *, user_id: uuid.UUID, code_hash: bytes, at: datetime
) -> bool:
    """Mark one unused code as used; False if there is no such unused code."""
    result = session.execute(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user_id,
            col(RecoveryCode.code_hash) == code_hash,
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# unscoped: one user's own recovery codes
def unused_recovery_codes(session: Session, *, user_id: uuid.UUID) -> int:
    """How many recovery codes the user has left."""
    query = select(func.count()).where(
        RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None)
    )
    return int(session.exec(query).one())


# unscoped: one user's own recovery codes
def delete_recovery_codes(session: Session, *, user_id: uuid.UUID) -> None:
    """Void a user's whole set of recovery codes."""
    for code in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
        session.delete(code)
    session.flush()


# --- one-time tokens and bootstrap codes -----------------------------------------------------


# unscoped: a token is found by its hash, before anyone is known
def account_token_by_hash(session: Session, token_hash: bytes) -> AccountToken | None:
    """The account token a presented token names."""
    query = select(AccountToken).where(AccountToken.token_hash == token_hash)
    return session.exec(query).first()


def get_account_token(session: Session, token_id: uuid.UUID) -> AccountToken | None:
    """One account token by id."""
    return session.get(AccountToken, token_id)


# unscoped: one user's own tokens
def open_account_tokens(session: Session, *, user_id: uuid.UUID) -> Sequence[AccountToken]:
    """A user's tokens not yet used or voided (expiry judged by the caller)."""
    query = select(AccountToken).where(
        AccountToken.user_id == user_id,
        col(AccountToken.used_at).is_(None),
        col(AccountToken.voided_at).is_(None),
    )
    return session.exec(query).all()


def claim_account_token(session: Session, *, token_id: uuid.UUID, at: datetime) -> bool:
    """Mark a token used; False if another request used or voided it first."""
    result = session.execute(
        update(AccountToken)
        .where(
            col(AccountToken.id) == token_id,
            col(AccountToken.used_at).is_(None),
            col(AccountToken.voided_at).is_(None),
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# unscoped: bootstrap codes belong to no mission
def bootstrap_code_by_hash(session: Session, code_hash: bytes) -> BootstrapCode | None:
    """The bootstrap code a presented code names."""
    query = select(BootstrapCode).where(BootstrapCode.code_hash == code_hash)
    return session.exec(query).first()


# unscoped: bootstrap codes belong to no mission
def open_bootstrap_codes(session: Session) -> Sequence[BootstrapCode]:
    """Bootstrap codes not yet used."""
    query = select(BootstrapCode).where(col(BootstrapCode.used_at).is_(None))
    return session.exec(query).all()


def claim_bootstrap_code(session: Session, *, code_id: uuid.UUID, at: datetime) -> bool:
    """Mark a bootstrap code used; False if it was used already."""
    result = session.execute(
        update(BootstrapCode)
        .where(col(BootstrapCode.id) == code_id, col(BootstrapCode.used_at).is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1
