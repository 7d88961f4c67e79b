"""The second factor at sign-in: a TOTP code (each time step once) or a single-use recovery code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from secops.auth import repository, tokens, totp
from secops.auth.events import AuthEvent, emit
from secops.auth.models import User
from secops.core import crypto

USER_TABLE = "user"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the second factor passed, which one was used, and why it failed."""

    ok: bool
    factor: str
    reason: str | None = None


def confirmed_secret(session: Session, user: User) -> str:
    """Decrypt the user's confirmed TOTP secret (DecryptionFailed, 503, if it cannot be)."""
    assert user.totp_secret is not None  # noqa: S101 - callers check totp_enrolled first
    return crypto.decrypt_field(
        session, table=USER_TABLE, column="totp_secret", row_id=user.id, blob=user.totp_secret
    )


def check_totp(session: Session, *, user: User, secret: str, code: str, at: datetime) -> Verdict:
    """Verify ``code`` against ``secret`` at server time ``at`` and claim its time step."""
    timecode = totp.matching_timecode(secret, code, at=at)
    if timecode is None:
        return Verdict(ok=False, factor="totp", reason="bad_code")
    if not repository.claim_totp_step(session, user_id=user.id, timecode=timecode):
        return Verdict(ok=False, factor="totp", reason="code_replayed")
    return Verdict(ok=True, factor="totp")


def check_recovery_code(session: Session, *, user: User, code: str, at: datetime) -> Verdict:
    """Consume one unused recovery code of the user."""
    code_hash = tokens.code_digest(code)
    if code_hash is None or not repository.consume_recovery_code(
        session, user_id=user.id, code_hash=code_hash, at=at
    ):
        return Verdict(ok=False, factor="recovery_code", reason="bad_recovery_code")
    remaining = repository.unused_recovery_codes(session, user_id=user.id)
    emit(
        session,
        AuthEvent.RECOVERY_CODE_USED,
        principal=None,
        user_id=user.id,
        actor=f"user:{user.username}",
        details={"remaining": remaining},
    )
    return Verdict(ok=True, factor="recovery_code")


def check_second_factor(
    session: Session,
    *,
    user: User,
    totp_code: str | None,
    recovery_code: str | None,
    at: datetime,
) -> Verdict:
    """The enrolled user's second factor; exactly one of the two codes is expected."""
    if totp_code is not None:
        secret = confirmed_secret(session, user)
        return check_totp(session, user=user, secret=secret, code=totp_code, at=at)
    if recovery_code is not None:
        return check_recovery_code(session, user=user, code=recovery_code, at=at)
    return Verdict(ok=False, factor="none", reason="code_missing")
