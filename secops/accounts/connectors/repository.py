"""Scoped reads of connectors and sync runs: every row a caller sees passes through ``scope``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from secops.accounts.connectors.models import Connector, ConnectorKind, SyncRun, SyncStatus
from secops.accounts.models import Account, AccountFactSheet, ConnectedApp, Platform, RecoveryFacts
from secops.core.errors import BadRequest, Conflict, NotFound
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission, MissionStatus
from secops.missions.scope import scope

ADMIN = Permission.CONNECTORS_ADMIN
NOT_FOUND = "No such connector."
_BAD_CURSOR = "The cursor is not valid; start again from the first page."


def mission_for_connectors(
    session: Session, principal: Principal, mission_id: uuid.UUID
) -> Mission:
    """The mission if ``principal`` administers connectors on it (else 404); 409 if closed."""
    query = scope(
        select(Mission).where(col(Mission.id) == mission_id), principal, ADMIN, Mission.id
    )
    mission = session.exec(query).one_or_none()
    if mission is None:
        raise NotFound("Mission not found, or not one of yours (field: mission_id).")
    if mission.status != MissionStatus.ACTIVE:
        raise Conflict("The mission is closed; its inventory is read-only (field: mission_id).")
    return mission


def get(
    session: Session, principal: Principal, connector_id: uuid.UUID, *, for_update: bool = False
) -> Connector:
    """The connector if ``principal`` administers connectors on its mission; else 404."""
    query = scope(
        select(Connector).where(col(Connector.id) == connector_id),
        principal,
        ADMIN,
        Connector.mission_id,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = session.exec(query).one_or_none()
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def page(
    session: Session, principal: Principal, *, cursor: str | None, limit: int | None
) -> tuple[Sequence[Connector], str | None]:
    """One page of visible connectors by (name, id), and the next cursor."""
    size = clamp_limit(limit)
    query = scope(select(Connector), principal, ADMIN, Connector.mission_id)
    if cursor is not None:
        name, last = decode_cursor(cursor, arity=2)
        if not isinstance(name, str) or not isinstance(last, str):
            raise BadRequest(_BAD_CURSOR)
        query = query.where(
            or_(
                col(Connector.name) > name,
                and_(col(Connector.name) == name, col(Connector.id) > _uuid(last)),
            )
        )
    rows = session.exec(query.order_by(col(Connector.name), col(Connector.id)).limit(size + 1))
    found = rows.all()
    if len(found) <= size:
        return found, None
    tail = found[size - 1]
    return found[:size], encode_cursor([tail.name, str(tail.id)])


def runs_page(
    session: Session,
    principal: Principal,
    connector_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int | None,
) -> tuple[Sequence[SyncRun], str | None]:
    """One page of a connector's runs, newest first, and the next cursor."""
    size = clamp_limit(limit)
    query = scope(
        select(SyncRun).where(col(SyncRun.connector_id) == connector_id),
        principal,
        ADMIN,
        SyncRun.mission_id,
    )
    if cursor is not None:
        started, last = decode_cursor(cursor, arity=2)
        if not isinstance(started, str) or not isinstance(last, str):
            raise BadRequest(_BAD_CURSOR)
        when = _datetime(started)
        query = query.where(
            or_(
                col(SyncRun.started_at) < when,
                and_(col(SyncRun.started_at) == when, col(SyncRun.id) < _uuid(last)),
            )
        )
    order = (col(SyncRun.started_at).desc(), col(SyncRun.id).desc())
    found = session.exec(query.order_by(*order).limit(size + 1)).all()
    if len(found) <= size:
        return found, None
    tail = found[size - 1]
    return found[:size], encode_cursor([tail.started_at.isoformat(), str(tail.id)])


def running_runs(session: Session, connector_id: uuid.UUID) -> Sequence[SyncRun]:
    """The connector's runs still marked running (the connector was read through scope)."""
    # unscoped: the caller already holds the connector, read through scope
    query = select(SyncRun).where(
        col(SyncRun.connector_id) == connector_id, col(SyncRun.status) == SyncStatus.RUNNING
    )
    return session.exec(query.with_for_update()).all()


def run_by_id(session: Session, run_id: uuid.UUID) -> SyncRun:
    """A run this transaction started (its connector was read through scope)."""
    # unscoped: the run was created moments ago by the same caller
    return session.exec(select(SyncRun).where(col(SyncRun.id) == run_id)).one()


def tenant_taken(session: Session, kind: ConnectorKind, tenant_key: str) -> bool:
    """True if any connector, visible or not, already reads this tenant."""
    # unscoped: a uniqueness check; nothing about the other connector is returned
    query = select(Connector.id).where(
        col(Connector.kind) == kind, col(Connector.tenant_key) == tenant_key
    )
    return session.exec(query).first() is not None


@dataclass(frozen=True)
class AccountMatch:
    """An inventory account a connector's user may be: its id, mission and external id."""

    id: uuid.UUID
    mission_id: uuid.UUID
    external_id: str | None


def account_match(
    session: Session, platform: Platform, external_id: str, handle: str
) -> AccountMatch | None:
    """The account with this external id, else with this handle, on ``platform``."""
    # unscoped: only decides whether the account is within the connector's reach; the sync then
    # reads it through the accounts service (scoped) before changing anything
    query = select(Account.id, Account.mission_id, Account.external_id).where(
        col(Account.platform) == platform,
        or_(col(Account.external_id) == external_id, col(Account.handle) == handle),
    )
    rows = [AccountMatch(*row) for row in session.execute(query).all()]
    by_id = [r for r in rows if r.external_id == external_id]
    found = by_id or rows
    return found[0] if found else None


def app_reviews(session: Session, account_id: uuid.UUID) -> dict[str, tuple[bool, datetime | None]]:
    """Officers' review marks on the account's apps, by external id, to keep across syncs."""
    # unscoped: account_id was read through the accounts service (scoped) by the caller
    query = select(ConnectedApp).where(col(ConnectedApp.account_id) == account_id)
    return {
        app.external_id: (app.allow_listed, app.last_reviewed_at)
        for app in session.exec(query).all()
        if app.external_id is not None
    }


def recovery_row(session: Session, account_id: uuid.UUID) -> RecoveryFacts | None:
    """The account's recovery facts, whose attested parts a sync keeps (None if unrecorded)."""
    # unscoped: account_id was read through the accounts service (scoped) by the caller
    sheet = session.get(AccountFactSheet, account_id)
    return sheet.recovery().if_recorded() if sheet is not None else None


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(_BAD_CURSOR) from None


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(_BAD_CURSOR) from None
