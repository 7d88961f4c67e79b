"""Waivers as the API shows them: their state now, and the accounts the reader may name."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlmodel import Session

from secops.accounts.models import Platform
from secops.core.db import clock_of
from secops.core.principal import Principal
from secops.policy.waivers import repository
from secops.policy.waivers.models import PolicyWaiver
from secops.policy.waivers.schemas import WaiverAccountRead, WaiverPage, WaiverRead


def read_of(session: Session, principal: Principal, waiver: PolicyWaiver, code: str) -> WaiverRead:
    """One waiver with its accounts, as ``principal`` may see it now."""
    page = page_of(session, principal, [(waiver, code)], None)
    return page.items[0]


def page_of(
    session: Session,
    principal: Principal,
    rows: Sequence[tuple[PolicyWaiver, str]],
    next_cursor: str | None,
) -> WaiverPage:
    """A page of waivers: two queries for all their accounts, whatever the page size."""
    now = clock_of(session).now()
    accounts = repository.accounts_of(session, [w.id for w, _ in rows])
    labels = repository.account_labels(
        session, principal, {a for listed in accounts.values() for a in listed}
    )
    items = [_read(w, code, accounts[w.id], labels, now) for w, code in rows]
    return WaiverPage(items=items, next_cursor=next_cursor)


def _read(
    waiver: PolicyWaiver,
    code: str,
    account_ids: Sequence[uuid.UUID],
    labels: Mapping[uuid.UUID, tuple[Platform, str]],
    now: datetime,
) -> WaiverRead:
    accounts = []
    for account_id in account_ids:
        platform, handle = labels.get(account_id, (None, None))
        accounts.append(WaiverAccountRead(id=account_id, platform=platform, handle=handle))
    return WaiverRead(
        id=waiver.id,
        policy_id=waiver.policy_id,
        rule_id=waiver.rule_id,
        mission_id=waiver.mission_id,
        mission_code=code,
        include_children=waiver.include_children,
        accounts=accounts,
        reason=waiver.reason,
        status=waiver.status,
        state=waiver.state_at(now),
        requested_by=waiver.requested_by,
        requested_by_name=waiver.requested_by_name,
        requested_at=waiver.requested_at,
        approved_by=waiver.approved_by,
        approved_by_name=waiver.approved_by_name,
        approved_at=waiver.approved_at,
        closed_by=waiver.closed_by,
        closed_by_name=waiver.closed_by_name,
        closed_at=waiver.closed_at,
        decision_note=waiver.decision_note,
        expires_at=waiver.expires_at,
        days_left=(waiver.expires_at - now).days,
        warned_at=waiver.warned_at,
        supersedes_id=waiver.supersedes_id,
        version=waiver.version,
    )
