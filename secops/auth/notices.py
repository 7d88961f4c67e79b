"""Notices to users about factor changes and unusual sign-ins (ASVS 6.3.5 and 6.3.7).

Each notice is an outbox row in the same transaction as the event it reports.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from secops.auth.models import UserSession
from secops.core import outbox
from secops.core.context import current_request
from secops.core.db import clock_of

FACTOR_CHANGE = "security.factor_changed"
UNUSUAL_SIGN_IN = "security.unusual_sign_in"
SIGN_IN_ATTEMPTS = "security.sign_in_attempts"

# Keyed by AuthEvent values (events.py imports this module, so not by the enum itself).
FACTOR_EVENTS: dict[str, str] = {
    "authn_mfa_enrolled": "An authenticator app was set up for your secops account.",
    "authn_recovery_code_used": "One of your secops recovery codes was used to sign in.",
    "authn_recovery_codes_regenerated": "New secops recovery codes were generated; "
    "the previous set no longer works.",
    "authn_password_change": "Your secops password was changed.",
    "user_reset_approved": "A reset of your secops sign-in factors was approved.",
    "user_reset_redeemed": "Your secops password or authenticator was reset.",
}
LOGIN_LOCK = "authn_login_lock"


def _where() -> str:
    request = current_request()
    return f"from {request.source_ip}" if request.source_ip else "from the server console"


def notify_event(session: Session, event: str, user_id: uuid.UUID | None) -> None:
    """Queue the notice an identity event calls for, if any."""
    if user_id is None:
        return
    when = clock_of(session).now().strftime("%Y-%m-%d %H:%M UTC")
    if event in FACTOR_EVENTS:
        outbox.enqueue(
            session,
            kind=FACTOR_CHANGE,
            recipient_user_id=user_id,
            subject="secops: your sign-in factors changed",
            body=f"{FACTOR_EVENTS[event]}\nWhen: {when}, {_where()}.\n"
            "If this was not you, tell your security officer at once.",
        )
    elif event == LOGIN_LOCK and not outbox.recently_queued(
        session, kind=SIGN_IN_ATTEMPTS, recipient_user_id=user_id, within=timedelta(hours=1)
    ):
        outbox.enqueue(
            session,
            kind=SIGN_IN_ATTEMPTS,
            recipient_user_id=user_id,
            subject="secops: repeated failed sign-ins on your account",
            body=f"Sign-ins to your secops account are being refused after repeated failures.\n"
            f"Latest attempt: {when}, {_where()}.\nIf this was not you, tell your security "
            "officer; your account is protected by back-off, not locked.",
        )


def notify_if_unusual_sign_in(
    session: Session, *, user_id: uuid.UUID, new_session_id: uuid.UUID
) -> None:
    """A sign-in from an address none of the user's earlier sessions used is worth a notice."""
    source_ip = current_request().source_ip
    if source_ip is None:
        return
    earlier = select(UserSession.source_ip).where(
        UserSession.user_id == user_id, col(UserSession.id) != new_session_id
    )
    seen = {ip for ip in session.exec(earlier).all() if ip}
    if not seen or source_ip in seen:
        return  # a first sign-in, or a known address
    when = clock_of(session).now().strftime("%Y-%m-%d %H:%M UTC")
    outbox.enqueue(
        session,
        kind=UNUSUAL_SIGN_IN,
        recipient_user_id=user_id,
        subject="secops: sign-in from a new address",
        body=f"Your secops account was signed in to from {source_ip}, an address not seen "
        f"before, at {when}.\nIf this was not you, tell your security officer at once.",
    )
