"""Server-side sessions: opaque tokens, idle and absolute expiry, step-up, ending them at once.

Timeouts (ASVS 7.1.1): ``session_idle_timeout_seconds`` (default 15 minutes) and
``session_absolute_timeout_seconds`` (default 8 hours), both from the server clock. To keep reads
cheap ``last_seen_at`` is written at most once a minute, so the idle timeout can end a session up
to a minute early, never late.

Requests check their session with ``screen`` on a ``SessionView`` read in one statement
(``callers``); only a session that just timed out goes through ``authenticate``, which records
its ending.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from secops.auth import repository, tokens
from secops.auth.callers import SessionView
from secops.auth.events import AuthEvent, emit, log
from secops.auth.models import SessionEndReason, User, UserSession, UserStatus
from secops.auth.outcomes import Refused
from secops.core.config import Settings
from secops.core.context import current_request
from secops.core.db import clock_of, info_of
from secops.core.errors import Forbidden, NotFound, StepUpRequired, Unauthenticated
from secops.core.principal import Principal, PrincipalKind

LAST_SEEN_RESOLUTION: Final = timedelta(minutes=1)
_INVALID: Final = "The session is not valid or has ended; sign in again."


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its token (shown to the client once, stored only as a hash)."""

    token: str
    record: UserSession


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A session that passed every check, with its user."""

    record: UserSession
    user: User


def settings_of(session: Session) -> Settings:
    """The settings the session factory carries."""
    settings: Settings = info_of(session, "settings")
    return settings


def open_session(
    session: Session, *, user: User, enrolment_only: bool, principal: Principal | None = None
) -> IssuedSession:
    """Start a session for ``user`` now; ``enrolment_only`` limits it to TOTP enrolment."""
    settings = settings_of(session)
    now = clock_of(session).now()
    token = tokens.new_session_token()
    request = current_request()
    record = UserSession(
        user_id=user.id,
        token_hash=tokens.digest(token),
        enrolment_only=enrolment_only,
        created_at=now,
        auth_time=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_timeout_seconds),
        source_ip=request.source_ip,
        user_agent=request.user_agent,
    )
    session.add(record)
    session.flush()
    emit(
        session,
        AuthEvent.SESSION_CREATED,
        principal=principal,
        user_id=user.id,
        actor=f"user:{user.username}",
        details={"session_id": str(record.id), "enrolment_only": enrolment_only},
    )
    return IssuedSession(token=token, record=record)


def _expiry_reason(
    record: UserSession | SessionView, now: datetime, idle: timedelta
) -> SessionEndReason | None:
    if now >= record.expires_at:
        return SessionEndReason.ABSOLUTE
    if now - record.last_seen_at > idle:
        return SessionEndReason.IDLE
    return None


def idle_timeout(session: Session) -> timedelta:
    """How long a session may go unused."""
    return timedelta(seconds=settings_of(session).session_idle_timeout_seconds)


class SessionTimedOut(Exception):
    """The session passed its idle or absolute timeout; ``authenticate`` records its ending."""

    def __init__(self, view: SessionView) -> None:
        super().__init__("session timed out")
        self.view = view


def screen(view: SessionView | None, *, now: datetime, idle: timedelta) -> SessionView:
    """The session if it works now; 401 (logged) if unknown, ended or its user disabled.

    Raises ``SessionTimedOut`` for a session that has just expired: ending it writes a row and
    an audit event, which ``authenticate`` does in the request's transaction.
    """
    if view is None or view.ended:
        log.info(AuthEvent.TOKEN_INVALID.value, reason="unknown_or_ended")
        raise Unauthenticated(_INVALID)
    if not view.user_active:
        log.info(AuthEvent.TOKEN_INVALID.value, reason="user_inactive")
        raise Unauthenticated(_INVALID)
    if _expiry_reason(view, now, idle) is not None:
        raise SessionTimedOut(view)
    return view


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    """True when ``last_seen_at`` is a full resolution step behind ``now``."""
    return now - last_seen_at >= LAST_SEEN_RESOLUTION


def touch(session: Session, *, session_id: uuid.UUID, now: datetime) -> None:
    """Record that the session was used now (callers check ``needs_touch`` first).

    A session already past either timeout is left as it is: a refresh never revives one.
    """
    repository.touch_session(
        session, session_id=session_id, at=now, idle_since=now - idle_timeout(session)
    )


def authenticate(session: Session, *, token: str) -> ActiveSession | Refused:
    """Check a session token: live, not idle, not past its absolute expiry, user active."""
    record = repository.session_by_token_hash(session, tokens.digest(token))
    if record is None or record.ended_at is not None:
        log.info(AuthEvent.TOKEN_INVALID.value, reason="unknown_or_ended")
        return Refused(Unauthenticated(_INVALID))
    user = repository.get_user(session, record.user_id)
    if user is None or user.status != UserStatus.ACTIVE:
        log.info(AuthEvent.TOKEN_INVALID.value, reason="user_inactive")
        return Refused(Unauthenticated(_INVALID))
    now = clock_of(session).now()
    reason = _expiry_reason(record, now, idle_timeout(session))
    if reason is not None:
        repository.end_session(session, session_id=record.id, reason=reason, at=now)
        emit(
            session,
            AuthEvent.SESSION_EXPIRED,
            principal=None,
            user_id=user.id,
            actor=f"user:{user.username}",
            details={"session_id": str(record.id), "reason": reason.value},
        )
        return Refused(Unauthenticated(_INVALID))
    if needs_touch(record.last_seen_at, now):
        record.last_seen_at = now
        session.add(record)
        session.flush()
    return ActiveSession(record=record, user=user)


def end_current(session: Session, *, principal: Principal) -> None:
    """Log out: end the caller's own session."""
    if principal.session_id is None:
        return
    now = clock_of(session).now()
    if repository.end_session(
        session, session_id=principal.session_id, reason=SessionEndReason.LOGOUT, at=now
    ):
        emit(
            session,
            AuthEvent.TOKEN_REVOKED,
            principal=principal,
            user_id=principal.id,
            details={"session_id": str(principal.session_id), "reason": "logout"},
        )


def end_all(
    session: Session,
    *,
    principal: Principal | None,
    user_id: uuid.UUID,
    reason: SessionEndReason,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of a user (optionally keeping one); audited when any ended."""
    now = clock_of(session).now()
    ended = repository.end_sessions(session, user_id=user_id, reason=reason, at=now, except_id=keep)
    if ended:
        emit(
            session,
            AuthEvent.TOKEN_REVOKED,
            principal=principal,
            user_id=user_id,
            details={"sessions_ended": ended, "reason": reason.value},
        )
    return ended


def live_sessions(session: Session, *, user_id: uuid.UUID) -> list[UserSession]:
    """A user's sessions that still work, newest first."""
    now = clock_of(session).now()
    idle = idle_timeout(session)
    records: Sequence[UserSession] = repository.live_sessions_of(session, user_id=user_id)
    return [r for r in records if _expiry_reason(r, now, idle) is None]


def end_own_session(session: Session, *, principal: Principal, session_id: uuid.UUID) -> None:
    """End one of the caller's own sessions; 404 for anyone else's or an ended one."""
    own = {r.id for r in live_sessions(session, user_id=principal.id)}
    if session_id not in own:
        raise NotFound("No such session.")
    now = clock_of(session).now()
    repository.end_session(session, session_id=session_id, reason=SessionEndReason.REVOKED, at=now)
    emit(
        session,
        AuthEvent.TOKEN_REVOKED,
        principal=principal,
        user_id=principal.id,
        details={"session_id": str(session_id), "reason": "ended_by_user"},
    )


def require_recent_sign_in(session: Session, principal: Principal) -> None:
    """Step-up: the caller must have proven password and TOTP within the step-up window.

    Server-local administration (the CLI acting as the system) is exempt; API keys never pass.
    """
    if principal.kind is PrincipalKind.SYSTEM:
        return
    if principal.kind is not PrincipalKind.USER:
        raise Forbidden("This action needs a person who signed in; API keys cannot do it.")
    max_age = timedelta(seconds=settings_of(session).step_up_max_age_seconds)
    signed_in = principal.authenticated_at
    if signed_in is None or clock_of(session).now() - signed_in > max_age:
        raise StepUpRequired(
            "This action needs a recent sign-in: confirm your password and code "
            "(POST /api/v1/auth/reauth), then retry."
        )
