"""One-time account tokens: invitations, password resets and lost-factor resets.

An administrator may start a reset but never sets anyone's password (ASVS 6.4.3): they receive a
single-use token, valid ``TOKEN_TTL``, and hand it to the user, who redeems it to choose their own
password. A password reset never bypasses MFA: an enrolled user must still present a TOTP or
recovery code when redeeming. A lost-factor reset clears TOTP and recovery codes, so it needs a
second administrator's approval (ASVS 6.4.4, 2.3.5); only the approver receives the token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from secops.audit.models import Outcome
from secops.auth import factors, passwords, repository, sessions, throttle, tokens
from secops.auth.events import AuthEvent, emit
from secops.auth.models import AccountToken, SessionEndReason, TokenPurpose, User, UserStatus
from secops.auth.outcomes import Refused
from secops.auth.service import require_ministry_admin
from secops.auth.signin import SignedIn, password_context, record_failure
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthenticated
from secops.core.principal import Principal

TOKEN_TTL: Final = timedelta(hours=72)
_BAD_TOKEN: Final = "The token is not valid, was used already or has expired."  # noqa: S105


@dataclass(frozen=True, slots=True)
class ResetTicket:
    """A started reset: its token when already issued, else awaiting a second administrator."""

    record: AccountToken
    token: str | None

    @property
    def awaiting_approval(self) -> bool:
        """True for a lost-factor reset no second administrator has approved yet."""
        return self.token is None


def _void_open_tokens(session: Session, *, user_id: uuid.UUID, now: datetime) -> None:
    for open_token in repository.open_account_tokens(session, user_id=user_id):
        open_token.voided_at = now
        session.add(open_token)
    session.flush()


def _issue(
    session: Session, *, principal: Principal, user: User, purpose: TokenPurpose
) -> ResetTicket:
    now = clock_of(session).now()
    _void_open_tokens(session, user_id=user.id, now=now)
    record = AccountToken(
        user_id=user.id,
        purpose=purpose,
        issued_by=principal.id,
        created_at=now,
        expires_at=now + TOKEN_TTL,
    )
    token = None
    if purpose != TokenPurpose.FACTOR_RESET:
        token = tokens.new_account_token()
        record.token_hash = tokens.digest(token)
    session.add(record)
    session.flush()
    emit(
        session,
        AuthEvent.RESET_STARTED,
        principal=principal,
        user_id=user.id,
        details={"reset_id": str(record.id), "purpose": purpose.value},
    )
    return ResetTicket(record=record, token=token)


def issue_invitation(session: Session, *, principal: Principal, user: User) -> ResetTicket:
    """The token a new user redeems to set their first password (then enrols TOTP)."""
    require_ministry_admin(principal)
    return _issue(session, principal=principal, user=user, purpose=TokenPurpose.INVITATION)


def start_reset(
    session: Session, *, principal: Principal, user_id: uuid.UUID, factor: bool
) -> ResetTicket:
    """Start a password reset, or (``factor``) a lost-factor reset awaiting a second admin."""
    require_ministry_admin(principal)
    sessions.require_recent_sign_in(session, principal)
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.id == principal.id:
        raise Forbidden("You cannot reset your own account; ask another administrator.")
    if user.status != UserStatus.ACTIVE:
        raise Conflict("The user is disabled; enable them first.")
    if not user.password_hash:
        purpose = TokenPurpose.INVITATION
    elif factor and user.totp_enrolled:
        purpose = TokenPurpose.FACTOR_RESET
    else:
        purpose = TokenPurpose.PASSWORD_RESET
    return _issue(session, principal=principal, user=user, purpose=purpose)


def approve_reset(
    session: Session, *, principal: Principal, user_id: uuid.UUID, reset_id: uuid.UUID
) -> ResetTicket:
    """A second administrator approves a lost-factor reset and receives its token."""
    require_ministry_admin(principal)
    sessions.require_recent_sign_in(session, principal)
    record = repository.get_account_token(session, reset_id)
    now = clock_of(session).now()
    if record is None or record.user_id != user_id:
        raise NotFound("No such reset.")
    if (
        record.purpose != TokenPurpose.FACTOR_RESET
        or record.approved_by is not None
        or record.used_at is not None
        or record.voided_at is not None
        or now >= record.expires_at
    ):
        raise Conflict("This reset is not awaiting approval.")
    if principal.id in (record.issued_by, record.user_id):
        raise Forbidden("A second administrator, not the requester, must approve this reset.")
    token = tokens.new_account_token()
    record.token_hash = tokens.digest(token)
    record.approved_by = principal.id
    record.approved_at = now
    record.expires_at = now + TOKEN_TTL
    session.add(record)
    session.flush()
    emit(
        session,
        AuthEvent.RESET_APPROVED,
        principal=principal,
        user_id=record.user_id,
        details={"reset_id": str(record.id), "requested_by": str(record.issued_by)},
    )
    return ResetTicket(record=record, token=token)


def _usable(record: AccountToken | None, now: datetime) -> bool:
    return (
        record is not None
        and record.token_hash is not None
        and record.used_at is None
        and record.voided_at is None
        and now < record.expires_at
    )


def _refuse_token(session: Session, *, user: User | None, reason: str) -> Refused:
    emit(
        session,
        AuthEvent.RESET_REDEEM_FAIL,
        principal=None,
        user_id=user.id if user else None,
        outcome=Outcome.FAILURE,
        actor=f"user:{user.username}" if user else None,
        details={"reason": reason},
    )
    return Refused(Unauthenticated(_BAD_TOKEN))


def _apply(session: Session, *, user: User, record: AccountToken, password: str) -> None:
    now = clock_of(session).now()
    user.password_hash = passwords.hash_password(sessions.settings_of(session), password)
    user.password_changed_at = now
    user.updated_at = now
    user.version += 1
    if record.purpose == TokenPurpose.FACTOR_RESET:
        user.totp_secret = None
        user.totp_pending_secret = None
        user.totp_confirmed_at = None
        repository.delete_recovery_codes(session, user_id=user.id)
    session.add(user)
    session.flush()
    sessions.end_all(session, principal=None, user_id=user.id, reason=SessionEndReason.RESET)
    actor = f"user:{user.username}"
    details = {"reset_id": str(record.id), "purpose": str(record.purpose)}
    emit(
        session,
        AuthEvent.RESET_REDEEMED,
        principal=None,
        user_id=user.id,
        actor=actor,
        details=details,
    )
    emit(session, AuthEvent.PASSWORD_CHANGE, principal=None, user_id=user.id, actor=actor)


def _second_factor_refusal(
    session: Session,
    *,
    user: User,
    record: AccountToken,
    key: str,
    codes: tuple[str | None, str | None],
    now: datetime,
) -> Refused | None:
    if record.purpose == TokenPurpose.FACTOR_RESET or not user.totp_enrolled:
        return None
    reason = verify_second_factor(session, user, codes[0], codes[1], now)
    if reason is None:
        return None
    event = AuthEvent.RESET_REDEEM_FAIL
    record_failure(session, key=key, user=user, event=event, reason=reason, now=now)
    return Refused(Unauthenticated("The code is not valid."))


def redeem(
    session: Session,
    *,
    token: str,
    password: str,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> SignedIn | Refused:
    """Set one's own password with a token; enrolled users prove TOTP unless the factor is reset."""
    now = clock_of(session).now()
    record = repository.account_token_by_hash(session, tokens.digest(token))
    user = repository.get_user(session, record.user_id) if record else None
    if record is None or user is None or not _usable(record, now):
        return _refuse_token(session, user=user, reason="unusable_token")
    if user.status != UserStatus.ACTIVE:
        return _refuse_token(session, user=user, reason="disabled")
    key = throttle.key_for(user.username_key)
    wait = throttle.retry_after(session, key=key, now=now)
    if wait is not None:
        return Refused(
            TooManyRequests("Too many failed attempts; wait and retry.", retry_after=wait)
        )
    passwords.check_new_password(password, context=password_context(session, user))
    codes = (totp_code, recovery_code)
    refused = _second_factor_refusal(
        session, user=user, record=record, key=key, codes=codes, now=now
    )
    if refused is not None:
        return refused
    if not repository.claim_account_token(session, token_id=record.id, at=now):
        return _refuse_token(session, user=user, reason="token_raced")
    throttle.reset(session, key=key)
    _apply(session, user=user, record=record, password=password)
    issued = sessions.open_session(session, user=user, enrolment_only=not user.totp_enrolled)
    return SignedIn(issued=issued, user=user)


def verify_second_factor(
    session: Session,
    user: User,
    totp_code: str | None,
    recovery_code: str | None,
    now: datetime,
) -> str | None:
    """None when the enrolled user's code passes, else the reason it failed."""
    verdict = factors.check_second_factor(
        session, user=user, totp_code=totp_code, recovery_code=recovery_code, at=now
    )
    return None if verdict.ok else (verdict.reason or "bad_code")
