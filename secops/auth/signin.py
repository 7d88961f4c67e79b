"""Sign-in, re-authentication and password change: password, then TOTP or a recovery code.

A user without a confirmed TOTP gets an enrolment-only session from the password alone; an
enrolled user must present a code in the same request. Every failure looks the same from
outside (status, body, and timing: unknown names are verified against a dummy hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlmodel import Session

from secops.audit.models import Outcome
from secops.auth import factors, notices, passwords, repository, sessions, throttle
from secops.auth.events import AuthEvent, emit
from secops.auth.models import SessionEndReason, User, UserStatus
from secops.auth.outcomes import Refused
from secops.auth.usernames import username_key
from secops.core.db import clock_of
from secops.core.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated
from secops.core.principal import Principal

GENERIC_FAILURE: Final = "The username, password or code is not valid."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A successful sign-in: the new session and whether TOTP enrolment is still due."""

    issued: sessions.IssuedSession
    user: User

    @property
    def enrolment_required(self) -> bool:
        """True when the session reaches only the enrolment routes."""
        return self.issued.record.enrolment_only


def _throttled(
    session: Session, *, key: str, user: User | None, event: AuthEvent, now: datetime
) -> Refused | None:
    wait = throttle.retry_after(session, key=key, now=now)
    if wait is None:
        return None
    emit(
        session,
        event,
        principal=None,
        user_id=user.id if user else None,
        outcome=Outcome.FAILURE,
        actor=f"user:{user.username}" if user else None,
        details={"reason": "backoff", "retry_after": wait},
    )
    return Refused(TooManyRequests("Too many failed attempts; wait and retry.", retry_after=wait))


def record_failure(
    session: Session,
    *,
    key: str,
    user: User | None,
    event: AuthEvent,
    reason: str,
    now: datetime,
) -> int:
    """Count a failed attempt against the name and audit it; returns the consecutive count."""
    failures = throttle.record_failure(session, key=key, now=now)
    emit(
        session,
        event,
        principal=None,
        user_id=user.id if user else None,
        outcome=Outcome.FAILURE,
        actor=f"user:{user.username}" if user else None,
        details={
            "reason": reason,
            "failures": failures,
            "backoff_seconds": throttle.delay_after(failures),
        },
    )
    return failures


def _password_problem(user: User | None, password_ok: bool) -> str | None:
    if user is None:
        return "unknown_user"
    if user.password_hash is None:
        return "no_password"
    if not password_ok:
        return "bad_password"
    if user.status != UserStatus.ACTIVE:
        return "disabled"
    return None


def refresh_hash(session: Session, *, user: User, password: str) -> None:
    """Re-hash a verified password when the configured argon2 parameters changed."""
    settings = sessions.settings_of(session)
    if user.password_hash is None or not passwords.needs_rehash(settings, user.password_hash):
        return
    user.password_hash = passwords.hash_password(settings, password)
    session.add(user)
    session.flush()
    emit(
        session,
        AuthEvent.PASSWORD_REHASHED,
        principal=None,
        user_id=user.id,
        actor=f"user:{user.username}",
    )


def verify_credentials(
    session: Session,
    *,
    user: User | None,
    password: str,
    totp_code: str | None,
    recovery_code: str | None,
    now: datetime,
) -> factors.Verdict:
    """Password (against a dummy hash when there is no user), then the second factor if due."""
    settings = sessions.settings_of(session)
    hashed = user.password_hash if user else None
    password_ok = passwords.verify_password(settings, hashed, password)
    problem = _password_problem(user, password_ok)
    if problem is not None or user is None:
        return factors.Verdict(ok=False, factor="password", reason=problem)
    if not user.totp_enrolled:
        return factors.Verdict(ok=True, factor="none")
    return factors.check_second_factor(
        session, user=user, totp_code=totp_code, recovery_code=recovery_code, at=now
    )


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> SignedIn | Refused:
    """Check the credentials and open a session (enrolment-only for a user without TOTP)."""
    now = clock_of(session).now()
    name_key = username_key(username)
    key = throttle.key_for(name_key)
    user = repository.user_by_key(session, name_key)
    refused = _throttled(session, key=key, user=user, event=AuthEvent.LOGIN_LOCK, now=now)
    if refused is not None:
        return refused
    verdict = verify_credentials(
        session,
        user=user,
        password=password,
        totp_code=totp_code,
        recovery_code=recovery_code,
        now=now,
    )
    if not verdict.ok or user is None:
        reason = verdict.reason or "unknown"
        record_failure(
            session, key=key, user=user, event=AuthEvent.LOGIN_FAIL, reason=reason, now=now
        )
        return Refused(Unauthenticated(GENERIC_FAILURE))
    throttle.reset(session, key=key)
    refresh_hash(session, user=user, password=password)
    issued = sessions.open_session(session, user=user, enrolment_only=not user.totp_enrolled)
    emit(
        session,
        AuthEvent.LOGIN_SUCCESS,
        principal=None,
        user_id=user.id,
        actor=f"user:{user.username}",
        details={"factor": verdict.factor, "session_id": str(issued.record.id)},
    )
    notices.notify_if_unusual_sign_in(session, user_id=user.id, new_session_id=issued.record.id)
    return SignedIn(issued=issued, user=user)


def _own_user(session: Session, principal: Principal) -> User:
    user = repository.get_user(session, principal.id)
    if user is None:
        raise NotFound("No such user.")
    return user


def reauthenticate(
    session: Session,
    *,
    principal: Principal,
    password: str,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> SignedIn | Refused:
    """Step-up: prove password and code again; the old token ends and a new one is issued."""
    now = clock_of(session).now()
    user = _own_user(session, principal)
    key = throttle.key_for(user.username_key)
    refused = _throttled(session, key=key, user=user, event=AuthEvent.REAUTH_FAIL, now=now)
    if refused is not None:
        return refused
    verdict = verify_credentials(
        session,
        user=user,
        password=password,
        totp_code=totp_code,
        recovery_code=recovery_code,
        now=now,
    )
    if not verdict.ok:
        reason = verdict.reason or "unknown"
        record_failure(
            session, key=key, user=user, event=AuthEvent.REAUTH_FAIL, reason=reason, now=now
        )
        return Refused(Unauthenticated("The password or code is not valid."))
    throttle.reset(session, key=key)
    if principal.session_id is not None:
        repository.end_session(
            session, session_id=principal.session_id, reason=SessionEndReason.REAUTH, at=now
        )
    issued = sessions.open_session(session, user=user, enrolment_only=False, principal=principal)
    emit(
        session,
        AuthEvent.REAUTH_SUCCESS,
        principal=principal,
        user_id=user.id,
        details={"factor": verdict.factor, "session_id": str(issued.record.id)},
    )
    notices.notify_if_unusual_sign_in(session, user_id=user.id, new_session_id=issued.record.id)
    return SignedIn(issued=issued, user=user)


def password_context(session: Session, user: User) -> list[str]:
    """Words a new password of ``user`` may not contain."""
    settings = sessions.settings_of(session)
    words = [settings.ministry_name, "secops", user.username, user.display_name]
    if user.email:
        words.append(user.email.split("@", 1)[0])
    return words + repository.mission_context(session)


def change_password(
    session: Session, *, principal: Principal, current_password: str, new_password: str
) -> Refused | None:
    """Replace the password after checking the current one; every other session ends."""
    now = clock_of(session).now()
    user = _own_user(session, principal)
    key = throttle.key_for(user.username_key)
    event = AuthEvent.PASSWORD_CHANGE_FAIL
    refused = _throttled(session, key=key, user=user, event=event, now=now)
    if refused is not None:
        return refused
    settings = sessions.settings_of(session)
    if not passwords.verify_password(settings, user.password_hash, current_password):
        record_failure(session, key=key, user=user, event=event, reason="bad_password", now=now)
        return Refused(Forbidden("The current password is not correct."))
    throttle.reset(session, key=key)
    context = password_context(session, user)
    passwords.check_new_password(new_password, context=context, field="new_password")
    user.password_hash = passwords.hash_password(settings, new_password)
    user.password_changed_at = now
    user.updated_at = now
    user.version += 1
    session.add(user)
    session.flush()
    sessions.end_all(
        session,
        principal=principal,
        user_id=user.id,
        reason=SessionEndReason.PASSWORD_CHANGE,
        keep=principal.session_id,
    )
    emit(session, AuthEvent.PASSWORD_CHANGE, principal=principal, user_id=user.id)
    return None
