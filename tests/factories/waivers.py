"""Builders for waivers written directly (no audit, no policy check), for index and job tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session

from secops.accounts.models import Account
from secops.core.db import clock_of
from secops.missions.models import Mission
from secops.policy.waivers.models import PolicyWaiver, PolicyWaiverAccount, WaiverStatus

POLICY_ID = "waiver-test"
RULE_ID = "MFA.ENABLED.1v1"


def make_waiver(
    session: Session,
    mission: Mission,
    *,
    rule_id: str = RULE_ID,
    policy_id: str = POLICY_ID,
    accounts: Sequence[Account] = (),
    include_children: bool = False,
    status: WaiverStatus = WaiverStatus.APPROVED,
    expires_in: timedelta = timedelta(days=30),
    requested_by: uuid.UUID | None = None,
    approved_by: uuid.UUID | None = None,
) -> PolicyWaiver:
    """A waiver on ``mission`` (approved by default) that expires ``expires_in`` from now."""
    now = clock_of(session).now()
    approved = status is not WaiverStatus.REQUESTED
    waiver = PolicyWaiver(
        policy_id=policy_id,
        rule_id=rule_id,
        mission_id=mission.id,
        include_children=include_children,
        reason="A test waiver with a long enough reason.",
        requested_by=requested_by or uuid.uuid4(),
        requested_by_name="requester",
        requested_at=now,
        status=status,
        approved_by=(approved_by or uuid.uuid4()) if approved else None,
        approved_by_name="approver" if approved else None,
        approved_at=now if approved else None,
        expires_at=now + expires_in,
        updated_at=now,
    )
    session.add(waiver)
    session.flush()
    session.add_all(PolicyWaiverAccount(waiver_id=waiver.id, account_id=a.id) for a in accounts)
    session.flush()
    return waiver
