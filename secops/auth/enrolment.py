"""TOTP enrolment and recovery codes.

``start`` stores a new secret, encrypted, as *pending* and returns it once with its
``otpauth://`` URI and a QR code rendered here. ``confirm`` needs one valid code; only then does
the secret become the user's factor (an older confirmed secret keeps working until that moment).
The first confirmation also issues ten recovery codes, and swaps the enrolment-only session for a
full one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from secops.auth import factors, repository, sessions, throttle, tokens, totp
from secops.auth.events import AuthEvent, emit
from secops.auth.models import RecoveryCode, SessionEndReason, User, UserSession
from secops.auth.outcomes import Refused
from secops.auth.signin import record_failure
from secops.core import crypto
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound, TooManyRequests
from secops.core.principal import Principal

USER_TABLE = factors.USER_TABLE


@dataclass(frozen=True, slots=True)
class EnrolmentStarted:
    """What the user needs to add the secret to an authenticator app (shown once)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class EnrolmentConfirmed:
    """The new recovery codes (empty if unused ones remain) and, if swapped, the new session."""

    recovery_codes: list[str]
    issued: sessions.IssuedSession | None


def _user(session: Session, principal: Principal) -> User:
    user = repository.get_user(session, principal.id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _is_enrolment_session(session: Session, principal: Principal) -> bool:
    if principal.session_id is None:
        return False
    record = session.get(UserSession, principal.session_id)
    return record is not None and record.enrolment_only


def start(session: Session, *, principal: Principal) -> EnrolmentStarted:
    """Create a pending secret; replacing a confirmed one needs a recent sign-in."""
    user = _user(session, principal)
    if user.totp_enrolled:
        sessions.require_recent_sign_in(session, principal)
    secret = totp.new_secret()
    now = clock_of(session).now()
    user.totp_pending_secret = crypto.encrypt_field(
        session, table=USER_TABLE, column="totp_pending_secret", row_id=user.id, plaintext=secret
    )
    user.updated_at = now
    user.version += 1
    session.add(user)
    session.flush()
    emit(session, AuthEvent.MFA_ENROLMENT_STARTED, principal=principal, user_id=user.id)
    uri = totp.provisioning_uri(secret, account=user.username)
    return EnrolmentStarted(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg_data_uri(uri))


def store_recovery_codes(session: Session, *, user: User) -> list[str]:
    """Replace the user's recovery codes with a fresh set; returns them (shown once)."""
    repository.delete_recovery_codes(session, user_id=user.id)
    now = clock_of(session).now()
    codes = tokens.new_recovery_codes()
    for code in codes:
        normalised = tokens.normalise_code(code)
        assert normalised is not None  # noqa: S101 - new_code always yields a well-formed code
        session.add(
            RecoveryCode(user_id=user.id, code_hash=tokens.digest(normalised), created_at=now)
        )
    session.flush()
    return codes


def _promote_pending(session: Session, *, user: User, secret: str) -> None:
    now = clock_of(session).now()
    user.totp_secret = crypto.encrypt_field(
        session, table=USER_TABLE, column="totp_secret", row_id=user.id, plaintext=secret
    )
    user.totp_pending_secret = None
    user.totp_confirmed_at = now
    user.updated_at = now
    user.version += 1
    session.add(user)
    session.flush()


def confirm(session: Session, *, principal: Principal, code: str) -> EnrolmentConfirmed | Refused:
    """Make the pending secret the user's factor once ``code`` proves the app has it."""
    user = _user(session, principal)
    if user.totp_pending_secret is None:
        raise Conflict("No enrolment is in progress; start one first.")
    now = clock_of(session).now()
    key = throttle.key_for(user.username_key)
    wait = throttle.retry_after(session, key=key, now=now)
    if wait is not None:
        return Refused(
            TooManyRequests("Too many failed attempts; wait and retry.", retry_after=wait)
        )
    secret = crypto.decrypt_field(
        session,
        table=USER_TABLE,
        column="totp_pending_secret",
        row_id=user.id,
        blob=user.totp_pending_secret,
    )
    verdict = factors.check_totp(session, user=user, secret=secret, code=code, at=now)
    if not verdict.ok:
        reason = verdict.reason or "bad_code"
        record_failure(
            session, key=key, user=user, event=AuthEvent.MFA_ENROLMENT_FAIL, reason=reason, now=now
        )
        return Refused(Forbidden("The code is not valid; wait for the next code and retry."))
    throttle.reset(session, key=key)
    _promote_pending(session, user=user, secret=secret)
    codes: list[str] = []
    if repository.unused_recovery_codes(session, user_id=user.id) == 0:
        codes = store_recovery_codes(session, user=user)
    issued = None
    if _is_enrolment_session(session, principal):
        assert principal.session_id is not None  # noqa: S101 - checked just above
        repository.end_session(
            session, session_id=principal.session_id, reason=SessionEndReason.ENROLLED, at=now
        )
        issued = sessions.open_session(session, user=user, enrolment_only=False)
    emit(
        session,
        AuthEvent.MFA_ENROLLED,
        principal=principal,
        user_id=user.id,
        details={"recovery_codes_issued": len(codes)},
    )
    return EnrolmentConfirmed(recovery_codes=codes, issued=issued)


def regenerate_recovery_codes(session: Session, *, principal: Principal) -> list[str]:
    """A new set of recovery codes; the old set stops working. Needs a recent sign-in."""
    sessions.require_recent_sign_in(session, principal)
    user = _user(session, principal)
    if not user.totp_enrolled:
        raise Conflict("Enrol TOTP first; recovery codes come with it.")
    codes = store_recovery_codes(session, user=user)
    emit(session, AuthEvent.RECOVERY_CODES_REGENERATED, principal=principal, user_id=user.id)
    return codes


def enrol_with_secret(session: Session, *, user: User, secret: str) -> None:
    """Confirm ``secret`` as the user's factor without a code (demo and tests only)."""
    _promote_pending(session, user=user, secret=secret)
    emit(
        session,
        AuthEvent.MFA_ENROLLED,
        principal=None,
        user_id=user.id,
        actor="system:demo",
        details={"method": "preset_secret"},
    )
