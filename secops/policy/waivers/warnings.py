"""Expiry warnings: tell the requester and the approver before a waiver runs out, once.

The worker calls :func:`warn_expiring` on a schedule. Each warning is an outbox notice written
in the same transaction as the waiver's ``warned_at`` and its audit event, so a waiver is warned
about exactly once, and only if the notice is queued.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.core import outbox
from secops.core.db import clock_of
from secops.core.errors import NotFound, ValidationFailed
from secops.core.logging import get_logger
from secops.core.principal import system_principal
from secops.policy import loader
from secops.policy.waivers import repository, rules
from secops.policy.waivers.models import PolicyWaiver

log = get_logger("secops.waivers")

NOTICE_KIND = "waiver.expiring"
OBJECT_TYPE = "policy_waiver"


def warn_expiring(session: Session) -> int:
    """Warn about approved waivers expiring within their policy's ``waiver_warning_days``.

    Each such waiver, not warned before, gets one notice to its requester and one to its
    approver, ``warned_at`` set, and an audit event. Returns how many waivers were warned about.
    A policy that is no longer loaded is skipped with a log line; a broken policy directory
    raises ``PolicyInvalid`` so the job fails visibly and is retried.
    """
    now = clock_of(session).now()
    worker = system_principal("worker")
    warned = 0
    for policy_id in repository.policies_with_unwarned(session, now):
        try:
            limits = rules.policy_limits(session, policy_id)
        except loader.PolicyInvalid:
            raise
        except (NotFound, ValidationFailed):
            log.warning("waivers.policy_not_loaded", policy_id=policy_id)
            continue
        until = now + timedelta(days=limits.warning_days)
        waivers = repository.unwarned_expiring(session, policy_id, now, until)
        codes = repository.mission_codes(session, {w.mission_id for w in waivers})
        for waiver in waivers:
            recipients = _recipients(waiver)
            for user_id in recipients:
                _notify(session, waiver, codes.get(waiver.mission_id, "?"), user_id, now)
            before = waiver.snapshot()
            waiver.warned_at = now
            session.flush()
            audit_service.record(
                session,
                principal=worker,
                action="waiver.expiry_warned",
                object_type=OBJECT_TYPE,
                object_id=waiver.id,
                mission_id=waiver.mission_id,
                details={"recipients": [str(r) for r in recipients]},
                before=before,
                after=waiver.snapshot(),
            )
            warned += 1
    if warned:
        log.info("waivers.expiry_warned", count=warned)
    return warned


def _recipients(waiver: PolicyWaiver) -> list[uuid.UUID]:
    people = [waiver.requested_by, waiver.approved_by]
    return list(dict.fromkeys(p for p in people if p is not None))


def _notify(
    session: Session, waiver: PolicyWaiver, code: str, user_id: uuid.UUID, now: datetime
) -> None:
    days = (waiver.expires_at - now).days
    when = waiver.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    left = "less than a day" if days < 1 else f"{days} day{'s' if days != 1 else ''}"
    outbox.enqueue(
        session,
        kind=NOTICE_KIND,
        recipient_user_id=user_id,
        subject=f"secops: waiver for {waiver.rule_id} on {code} expires {when}",
        body=(
            f"The waiver {waiver.id} for rule {waiver.rule_id} of policy {waiver.policy_id} on "
            f"mission {code} expires at {when} ({left} from now).\n"
            "When it expires, the failures it covers count as open findings again.\n"
            f"To keep the exception, request an extension (secops waivers extend {waiver.id}); "
            "another person must approve it again."
        ),
    )
