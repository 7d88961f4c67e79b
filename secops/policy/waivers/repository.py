"""Scoped reads of waivers, their missions and accounts: every caller-facing query uses scope.

Waivers are visible to whoever holds ``policy:read`` on the waiver's mission. The read-time index
and the expiry warnings look across the whole ministry on purpose: the index is applied to results
the reader has already been scoped to, and the warning job runs as the server itself. They say so
with an ``# unscoped:`` reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlmodel import Session, col

from secops.accounts.models import Account, Platform
from secops.core.errors import BadRequest
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.scope import scope
from secops.policy.waivers.models import (
    PolicyWaiver,
    PolicyWaiverAccount,
    WaiverState,
    WaiverStatus,
)
from secops.policy.waivers.schemas import WaiverFilters

READ = Permission.POLICY_READ
CURSOR_KIND = "waivers"

# One page row: the waiver and its mission's code.
WaiverRow = Row[tuple[PolicyWaiver, str]]


def mission_code(
    session: Session, principal: Principal, mission_id: uuid.UUID, permission: Permission
) -> str | None:
    """The code of the mission if ``principal`` holds ``permission`` on it."""
    query = select(col(Mission.code)).where(col(Mission.id) == mission_id)
    found: str | None = session.scalars(
        scope(query, principal, permission, Mission.id)
    ).one_or_none()
    return found


def account_missions(
    session: Session,
    principal: Principal,
    account_ids: Collection[uuid.UUID],
    permission: Permission,
) -> dict[uuid.UUID, uuid.UUID]:
    """Mission per account among ``account_ids`` that ``principal`` reaches with ``permission``."""
    if not account_ids:
        return {}
    query = select(col(Account.id), col(Account.mission_id)).where(
        col(Account.id).in_(list(account_ids))
    )
    rows = session.execute(scope(query, principal, permission, Account.mission_id)).all()
    return dict(rows)


def account_labels(
    session: Session, principal: Principal, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[Platform, str]]:
    """(platform, handle) of the accounts among ``account_ids`` the caller may read."""
    if not account_ids:
        return {}
    query = select(col(Account.id), col(Account.platform), col(Account.handle)).where(
        col(Account.id).in_(list(account_ids))
    )
    rows = session.execute(scope(query, principal, READ, Account.mission_id)).all()
    return {account_id: (Platform(platform), handle) for account_id, platform, handle in rows}


def get_waiver(
    session: Session,
    principal: Principal,
    waiver_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> tuple[PolicyWaiver, str] | None:
    """The waiver and its mission's code, if ``principal`` may read policy on that mission."""
    query = (
        select(PolicyWaiver, col(Mission.code))
        .join(Mission, col(Mission.id) == col(PolicyWaiver.mission_id))
        .where(col(PolicyWaiver.id) == waiver_id)
    )
    query = scope(query, principal, READ, PolicyWaiver.mission_id)
    if for_update:
        query = query.with_for_update(of=PolicyWaiver).execution_options(populate_existing=True)
    row = session.execute(query).one_or_none()
    return None if row is None else (row[0], row[1])


def lock_waiver(session: Session, waiver_id: uuid.UUID) -> PolicyWaiver | None:
    """The waiver row, locked for the rest of the transaction."""
    # unscoped: the id is a supersedes_id of a waiver the caller has already read through scope()
    query = (
        select(PolicyWaiver)
        .where(col(PolicyWaiver.id) == waiver_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one_or_none()


def pending_extension(session: Session, waiver_id: uuid.UUID) -> uuid.UUID | None:
    """The id of a request that would replace ``waiver_id`` and still awaits a decision."""
    # unscoped: waiver_id was read through scope(); only the extension's id comes back
    query = select(col(PolicyWaiver.id)).where(
        col(PolicyWaiver.supersedes_id) == waiver_id,
        col(PolicyWaiver.status) == WaiverStatus.REQUESTED,
    )
    return session.scalars(query.limit(1)).first()


def accounts_of(
    session: Session, waiver_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The accounts each waiver is limited to (an empty list: the whole mission)."""
    # unscoped: the waiver ids come from a page, a waiver read through scope(), or the index
    found: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in waiver_ids}
    if not waiver_ids:
        return found
    query = select(col(PolicyWaiverAccount.waiver_id), col(PolicyWaiverAccount.account_id)).where(
        col(PolicyWaiverAccount.waiver_id).in_(list(waiver_ids))
    )
    for waiver_id, account_id in session.execute(
        query.order_by(col(PolicyWaiverAccount.account_id))
    ):
        found[waiver_id].append(account_id)
    return found


def add_accounts(session: Session, waiver_id: uuid.UUID, account_ids: Sequence[uuid.UUID]) -> None:
    """Limit a new waiver to ``account_ids``."""
    session.add_all(PolicyWaiverAccount(waiver_id=waiver_id, account_id=a) for a in account_ids)
    session.flush()


def active_for_policy(session: Session, policy_id: str, now: datetime) -> list[PolicyWaiver]:
    """Approved waivers of ``policy_id`` that have not expired at ``now``, ministry-wide."""
    # unscoped: the read-time index; readers apply it to results already scoped to them
    query = select(PolicyWaiver).where(
        col(PolicyWaiver.policy_id) == policy_id,
        col(PolicyWaiver.status) == WaiverStatus.APPROVED,
        col(PolicyWaiver.expires_at) > now,
    )
    return list(session.scalars(query.order_by(col(PolicyWaiver.id))))


def policies_with_unwarned(session: Session, now: datetime) -> list[str]:
    """Policies that have approved, unexpired waivers nobody was warned about yet."""
    # unscoped: the expiry warning job runs as the server over the whole ministry
    query = (
        select(col(PolicyWaiver.policy_id))
        .where(
            col(PolicyWaiver.status) == WaiverStatus.APPROVED,
            col(PolicyWaiver.warned_at).is_(None),
            col(PolicyWaiver.expires_at) > now,
        )
        .distinct()
    )
    return sorted(session.scalars(query))


def unwarned_expiring(
    session: Session, policy_id: str, now: datetime, until: datetime
) -> list[PolicyWaiver]:
    """Approved, never-warned waivers of a policy expiring in ``(now, until]``, locked."""
    # unscoped: the expiry warning job runs as the server over the whole ministry
    query = (
        select(PolicyWaiver)
        .where(
            col(PolicyWaiver.policy_id) == policy_id,
            col(PolicyWaiver.status) == WaiverStatus.APPROVED,
            col(PolicyWaiver.warned_at).is_(None),
            col(PolicyWaiver.expires_at) > now,
            col(PolicyWaiver.expires_at) <= until,
        )
        .order_by(col(PolicyWaiver.expires_at), col(PolicyWaiver.id))
        .with_for_update()
    )
    return list(session.scalars(query))


def mission_codes(session: Session, mission_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Code per mission, for notices the server sends."""
    # unscoped: the expiry warning job names the missions of waivers it already selected
    if not mission_ids:
        return {}
    query = select(col(Mission.id), col(Mission.code)).where(col(Mission.id).in_(list(mission_ids)))
    return dict(session.execute(query).all())


def waiver_page(
    session: Session,
    principal: Principal,
    filters: WaiverFilters,
    *,
    now: datetime,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[tuple[PolicyWaiver, str]], str | None]:
    """One page of visible waivers with their mission code, newest request first."""
    size = clamp_limit(limit)
    query = select(PolicyWaiver, col(Mission.code)).join(
        Mission, col(Mission.id) == col(PolicyWaiver.mission_id)
    )
    query = scope(query, principal, READ, PolicyWaiver.mission_id)
    query = query.where(*_conditions(filters, now))
    if cursor is not None:
        at, last_id = _read_cursor(cursor)
        query = query.where(
            or_(
                col(PolicyWaiver.requested_at) < at,
                and_(col(PolicyWaiver.requested_at) == at, col(PolicyWaiver.id) < last_id),
            )
        )
    rows = [
        (r[0], r[1])
        for r in session.execute(
            query.order_by(
                col(PolicyWaiver.requested_at).desc(), col(PolicyWaiver.id).desc()
            ).limit(size + 1)
        )
    ]
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1][0]
    return rows[:size], encode_cursor([CURSOR_KIND, last.requested_at.isoformat(), str(last.id)])


def _read_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    kind, at, last_id = decode_cursor(cursor, arity=3)
    try:
        if kind != CURSOR_KIND:
            raise ValueError("another listing's cursor")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed, uuid.UUID(last_id)
    except (TypeError, ValueError):
        raise BadRequest("The cursor is not valid; start again from the first page.") from None


def _conditions(filters: WaiverFilters, now: datetime) -> list[Any]:
    where: list[Any] = []
    if filters.policy_id is not None:
        where.append(col(PolicyWaiver.policy_id) == filters.policy_id)
    if filters.rule_id is not None:
        where.append(col(PolicyWaiver.rule_id) == filters.rule_id)
    if filters.mission_id is not None:
        where.append(col(PolicyWaiver.mission_id) == filters.mission_id)
    if filters.account_id is not None:
        # unscoped: a sub-select inside the scoped page query; only visible waivers come back
        listed = select(col(PolicyWaiverAccount.waiver_id)).where(
            col(PolicyWaiverAccount.account_id) == filters.account_id
        )
        where.append(col(PolicyWaiver.id).in_(listed.scalar_subquery()))
    if filters.state is not None:
        where.append(_state_condition(filters.state, now))
    if filters.expiring_within_days is not None:
        where.append(col(PolicyWaiver.status) == WaiverStatus.APPROVED)
        where.append(col(PolicyWaiver.expires_at) > now)
        where.append(
            col(PolicyWaiver.expires_at) <= now + timedelta(days=filters.expiring_within_days)
        )
    return where


def _state_condition(state: WaiverState, now: datetime) -> Any:
    status = col(PolicyWaiver.status)
    expires = col(PolicyWaiver.expires_at)
    open_statuses = [WaiverStatus.REQUESTED, WaiverStatus.APPROVED]
    if state is WaiverState.ACTIVE:
        return and_(status == WaiverStatus.APPROVED, expires > now)
    if state is WaiverState.REQUESTED:
        return and_(status == WaiverStatus.REQUESTED, expires > now)
    if state is WaiverState.EXPIRED:
        return and_(status.in_(open_statuses), expires <= now)
    return status == WaiverStatus(state.value)
