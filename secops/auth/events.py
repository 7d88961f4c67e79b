"""Identity events, named after the OWASP Logging Vocabulary: one audit row and one log line each.

Details carry identifiers and reasons only; no password, code, token or secret is ever passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.audit.models import Outcome
from secops.auth import notices
from secops.core.logging import get_logger
from secops.core.principal import Principal

log = get_logger("secops.auth")


class AuthEvent(StrEnum):
    """What happened; the values are the OWASP vocabulary's names."""

    LOGIN_SUCCESS = "authn_login_success"
    LOGIN_FAIL = "authn_login_fail"
    LOGIN_LOCK = "authn_login_lock"  # refused while backing off
    REAUTH_SUCCESS = "authn_reauth_success"
    REAUTH_FAIL = "authn_reauth_fail"
    PASSWORD_CHANGE = "authn_password_change"  # noqa: S105 - an event name
    PASSWORD_CHANGE_FAIL = "authn_password_change_fail"  # noqa: S105 - an event name
    PASSWORD_REHASHED = "authn_password_rehashed"  # noqa: S105 - an event name
    MFA_ENROLMENT_STARTED = "authn_mfa_enrolment_started"
    MFA_ENROLLED = "authn_mfa_enrolled"
    MFA_ENROLMENT_FAIL = "authn_mfa_enrolment_fail"
    RECOVERY_CODE_USED = "authn_recovery_code_used"
    RECOVERY_CODES_REGENERATED = "authn_recovery_codes_regenerated"
    TOKEN_REVOKED = "authn_token_revoked"  # noqa: S105 - an event name
    TOKEN_INVALID = "authn_token_invalid"  # noqa: S105 - an event name
    SESSION_CREATED = "session_created"
    SESSION_EXPIRED = "session_expired"
    SESSION_REVOKED = "session_revoked"
    AUTHZ_FAIL = "authz_fail"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    RESET_STARTED = "user_reset_started"
    RESET_APPROVED = "user_reset_approved"
    RESET_REDEEMED = "user_reset_redeemed"
    RESET_REDEEM_FAIL = "user_reset_redeem_fail"
    BOOTSTRAP_CODE_ISSUED = "sys_bootstrap_code_issued"
    BOOTSTRAP_COMPLETED = "sys_bootstrap_completed"
    BOOTSTRAP_FAIL = "sys_bootstrap_fail"


def emit(
    session: Session,
    event: AuthEvent,
    *,
    principal: Principal | None,
    user_id: uuid.UUID | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    details: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Record ``event`` in the audit trail (same transaction) and as a structured log line."""
    fields = dict(details or {})
    audit_service.record(
        session,
        principal=principal,
        action=event.value,
        object_type="user",
        object_id=user_id,
        outcome=outcome,
        details=fields,
        before=before,
        after=after,
        actor=actor,
    )
    notices.notify_event(session, event.value, user_id)
    level = log.info if outcome is Outcome.SUCCESS else log.warning
    level(
        event.value,
        outcome=outcome.value,
        user_id=str(user_id) if user_id else None,
        actor=actor or (principal.actor if principal else "anonymous"),
        **fields,
    )
