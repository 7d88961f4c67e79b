"""Expiry warnings: once, within the policy's warning days, to the requester and the approver."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import col, select

from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.outbox import OutboxMessage
from secops.policy.waivers import service
from secops.policy.waivers.models import PolicyWaiver, WaiverStatus
from tests.factories.missions import Ministry
from tests.factories.waivers import make_waiver


def warn(sessions: SessionFactory) -> int:
    with sessions.begin() as s:
        return service.warn_expiring(s)


def notices(sessions: SessionFactory) -> list[OutboxMessage]:
    with sessions.begin() as s:
        query = select(OutboxMessage).where(col(OutboxMessage.kind) == "waiver.expiring")
        return list(s.exec(query.order_by(col(OutboxMessage.created_at))))


def test_the_requester_and_approver_are_warned_once_when_expiry_is_near(
    sessions: SessionFactory, clock: FrozenClock, ministry: Ministry
) -> None:
    asker, approver = uuid.uuid4(), uuid.uuid4()
    with sessions.begin() as s:
        waiver = make_waiver(
            s,
            ministry.paris,
            expires_in=timedelta(days=20),
            requested_by=asker,
            approved_by=approver,
        )

    assert warn(sessions) == 0
    clock.advance(days=6)  # 14 days left: the policy's waiver_warning_days
    assert warn(sessions) == 1
    assert warn(sessions) == 0

    sent = notices(sessions)
    assert {m.recipient_user_id for m in sent} == {asker, approver}
    message = sent[0]
    assert "MFA.ENABLED.1v1" in message.subject
    assert "EMB-PARIS" in message.subject
    assert "14 days" in message.body
    assert f"secops waivers extend {waiver.id}" in message.body
    with sessions.begin() as s:
        stored = s.get(PolicyWaiver, waiver.id)
        assert stored is not None
        assert stored.warned_at == clock.now()
        event = s.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "waiver.expiry_warned")
        ).one()
    assert event.object_id == str(waiver.id)
    assert event.actor == "system:worker"
    assert sorted(event.details["recipients"]) == sorted([str(asker), str(approver)])


def test_only_approved_unexpired_waivers_are_warned_about(
    sessions: SessionFactory, clock: FrozenClock, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        for status in (
            WaiverStatus.REQUESTED,
            WaiverStatus.REVOKED,
            WaiverStatus.REJECTED,
            WaiverStatus.SUPERSEDED,
        ):
            make_waiver(s, ministry.paris, status=status, expires_in=timedelta(days=3))
        make_waiver(s, ministry.paris, expires_in=timedelta(days=1))
        later = make_waiver(s, ministry.paris, expires_in=timedelta(days=15))
    clock.advance(days=2)

    assert warn(sessions) == 1
    with sessions.begin() as s:
        warned = s.exec(select(PolicyWaiver).where(col(PolicyWaiver.warned_at).is_not(None)))
        assert [w.id for w in warned] == [later.id]


def test_waivers_of_a_policy_no_longer_loaded_are_skipped(
    sessions: SessionFactory, clock: FrozenClock, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, policy_id="retired-policy", expires_in=timedelta(days=2))
        kept = make_waiver(s, ministry.paris, expires_in=timedelta(days=2))

    assert warn(sessions) == 1
    with sessions.begin() as s:
        stored = s.get(PolicyWaiver, kept.id)
        assert stored is not None
        assert stored.warned_at is not None


def test_an_extension_is_warned_about_on_its_own(
    sessions: SessionFactory, clock: FrozenClock, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        old = make_waiver(s, ministry.paris, expires_in=timedelta(days=5))
    assert warn(sessions) == 1
    with sessions.begin() as s:
        stored = s.get(PolicyWaiver, old.id)
        assert stored is not None
        stored.status = WaiverStatus.SUPERSEDED
        make_waiver(s, ministry.paris, expires_in=timedelta(days=10))

    assert warn(sessions) == 1
    assert len(notices(sessions)) == 4
