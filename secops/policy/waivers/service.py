"""Waiver rules: request, extend, approve, reject, revoke; the read-time index; expiry warnings.

Checks run in this order so nothing leaks: visible (404, the same as missing), allowed (403),
``If-Match`` (428/412), the four-eyes rule (403), then the waiver's own rules (409, 422). Every
change is audited in the caller's transaction; nothing here commits. Entry points::

    request_waiver(session, *, principal, data: WaiverCreate) -> WaiverRead
    extend_waiver(session, *, principal, waiver_id, data: WaiverExtend) -> WaiverRead
    approve_waiver / reject_waiver / revoke_waiver(session, *, principal, waiver_id,
                                                   note: str | None, if_match) -> WaiverRead
    get_waiver(session, *, principal, waiver_id) -> WaiverRead
    list_waivers(session, *, principal, filters, cursor=None, limit=None) -> WaiverPage
    active_index(session, *, policy_id: str, now: datetime) -> WaiverIndex   # readers of findings
    warn_expiring(session) -> int                                            # the worker
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.etag import require_if_match
from secops.core.principal import Permission, Principal
from secops.missions import service as missions_service
from secops.policy.waivers import repository, rules
from secops.policy.waivers.index import ActiveWaiver, WaiverIndex, build_index
from secops.policy.waivers.models import PolicyWaiver, WaiverStatus
from secops.policy.waivers.reads import page_of, read_of
from secops.policy.waivers.schemas import (
    WaiverCreate,
    WaiverExtend,
    WaiverFilters,
    WaiverPage,
    WaiverRead,
)
from secops.policy.waivers.warnings import warn_expiring

__all__ = [
    "ActiveWaiver",
    "WaiverIndex",
    "active_index",
    "approve_waiver",
    "extend_waiver",
    "get_waiver",
    "list_waivers",
    "reject_waiver",
    "request_waiver",
    "revoke_waiver",
    "warn_expiring",
]

OBJECT_TYPE = "policy_waiver"
NOT_FOUND = "No such waiver."
MISSION_NOT_FOUND = "Mission not found, or not one of yours."
REQUEST = Permission.WAIVERS_REQUEST
APPROVE = Permission.WAIVERS_APPROVE


def active_index(session: Session, *, policy_id: str, now: datetime) -> WaiverIndex:
    """The waivers of ``policy_id`` that cover results at ``now``: approved and unexpired."""
    return build_index(session, policy_id=policy_id, now=now)


def get_waiver(session: Session, *, principal: Principal, waiver_id: uuid.UUID) -> WaiverRead:
    """One waiver on a mission whose policy results the caller may read; 404 otherwise."""
    waiver, code = _visible(session, principal, waiver_id)
    return read_of(session, principal, waiver, code)


def list_waivers(
    session: Session,
    *,
    principal: Principal,
    filters: WaiverFilters,
    cursor: str | None = None,
    limit: int | None = None,
) -> WaiverPage:
    """One page of the waivers on the caller's missions, newest request first."""
    now = clock_of(session).now()
    rows, next_cursor = repository.waiver_page(
        session, principal, filters, now=now, cursor=cursor, limit=limit
    )
    return page_of(session, principal, rows, next_cursor)


@dataclass(frozen=True, slots=True)
class _Draft:
    policy_id: str | None
    rule_id: str
    mission_id: uuid.UUID
    include_children: bool
    account_ids: Sequence[uuid.UUID]
    reason: str
    expires_at: datetime | None


def request_waiver(session: Session, *, principal: Principal, data: WaiverCreate) -> WaiverRead:
    """Ask for an exception to a rule; it covers nothing until another person approves it."""
    draft = _Draft(
        policy_id=data.policy_id,
        rule_id=data.rule_id,
        mission_id=data.mission_id,
        include_children=data.include_children,
        account_ids=data.account_ids,
        reason=data.reason,
        expires_at=data.expires_at,
    )
    waiver, code = _create(session, principal, draft, extends=None)
    return read_of(session, principal, waiver, code)


def extend_waiver(
    session: Session, *, principal: Principal, waiver_id: uuid.UUID, data: WaiverExtend
) -> WaiverRead:
    """Ask for a later expiry: a new request, approved again, that replaces the waiver.

    Works for an approved waiver, active or expired; the old one keeps covering results until
    its own expiry or until the extension is approved, whichever comes first.
    """
    waiver, _ = _visible(session, principal, waiver_id, for_update=True)
    if not principal.can(REQUEST, waiver.mission_id):
        raise Forbidden("You may see this waiver but not request waivers on its mission.")
    if waiver.status == WaiverStatus.SUPERSEDED:
        raise Conflict("An extension already replaced this waiver; extend the newer one.")
    if waiver.status != WaiverStatus.APPROVED:
        state = waiver.state_at(clock_of(session).now()).value
        raise Conflict(f"Only an approved waiver can be extended; this one is {state}.")
    pending = repository.pending_extension(session, waiver.id)
    if pending is not None:
        raise Conflict(f"An extension of this waiver already awaits a decision ({pending}).")
    draft = _Draft(
        policy_id=waiver.policy_id,
        rule_id=waiver.rule_id,
        mission_id=waiver.mission_id,
        include_children=waiver.include_children,
        account_ids=repository.accounts_of(session, [waiver.id])[waiver.id],
        reason=data.reason or waiver.reason,
        expires_at=data.expires_at,
    )
    extension, code = _create(session, principal, draft, extends=waiver)
    return read_of(session, principal, extension, code)


def approve_waiver(
    session: Session,
    *,
    principal: Principal,
    waiver_id: uuid.UUID,
    note: str | None,
    if_match: str | None,
) -> WaiverRead:
    """Approve a request made by someone else; an approved extension replaces its original."""
    waiver, code = _for_decision(session, principal, waiver_id, if_match)
    if waiver.requested_by == principal.id:
        raise rules.SelfApproval(
            "You requested this waiver; another person holding waivers:approve must approve it."
        )
    now = clock_of(session).now()
    if waiver.status != WaiverStatus.REQUESTED:
        raise Conflict(f"Only a requested waiver can be approved; this one is {waiver.status}.")
    if now >= waiver.expires_at:
        raise Conflict("The requested expiry has already passed; make a new request.")
    before = waiver.snapshot()
    waiver.status = WaiverStatus.APPROVED
    waiver.approved_by = principal.id
    waiver.approved_by_name = principal.name
    waiver.approved_at = now
    waiver.decision_note = note
    _changed(session, principal, waiver, "waiver.approve", before, now)
    if waiver.supersedes_id is not None:
        _supersede(session, principal, waiver.supersedes_id, waiver, now)
    return read_of(session, principal, waiver, code)


def reject_waiver(
    session: Session,
    *,
    principal: Principal,
    waiver_id: uuid.UUID,
    note: str | None,
    if_match: str | None,
) -> WaiverRead:
    """Refuse a request; it never covers anything."""
    waiver, code = _for_decision(session, principal, waiver_id, if_match)
    if waiver.status != WaiverStatus.REQUESTED:
        raise Conflict(f"Only a requested waiver can be rejected; this one is {waiver.status}.")
    _close(session, principal, waiver, WaiverStatus.REJECTED, note, "waiver.reject")
    return read_of(session, principal, waiver, code)


def revoke_waiver(
    session: Session,
    *,
    principal: Principal,
    waiver_id: uuid.UUID,
    note: str | None,
    if_match: str | None,
) -> WaiverRead:
    """Withdraw a request or end an approved waiver now: covered failures show again at once."""
    waiver, code = _for_decision(session, principal, waiver_id, if_match)
    if waiver.status not in (WaiverStatus.REQUESTED, WaiverStatus.APPROVED):
        state = waiver.status
        raise Conflict(f"Only a requested or approved waiver can be revoked; this is {state}.")
    _close(session, principal, waiver, WaiverStatus.REVOKED, note, "waiver.revoke")
    return read_of(session, principal, waiver, code)


# -- helpers --------------------------------------------------------------------------------


def _visible(
    session: Session, principal: Principal, waiver_id: uuid.UUID, *, for_update: bool = False
) -> tuple[PolicyWaiver, str]:
    found = repository.get_waiver(session, principal, waiver_id, for_update=for_update)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def _for_decision(
    session: Session, principal: Principal, waiver_id: uuid.UUID, if_match: str | None
) -> tuple[PolicyWaiver, str]:
    waiver, code = _visible(session, principal, waiver_id, for_update=True)
    if not principal.can(APPROVE, waiver.mission_id):
        raise Forbidden("You may see this waiver but not decide on it (waivers:approve).")
    require_if_match(if_match, waiver.version)
    return waiver, code


def _requestable_mission(session: Session, principal: Principal, mission_id: uuid.UUID) -> str:
    code = repository.mission_code(session, principal, mission_id, REQUEST)
    if code is not None:
        return code
    if repository.mission_code(session, principal, mission_id, Permission.POLICY_READ):
        raise Forbidden("You may read this mission's policy results but not request waivers.")
    raise NotFound(MISSION_NOT_FOUND)


def _account_errors(
    session: Session, principal: Principal, draft: _Draft
) -> tuple[list[uuid.UUID], list[dict[str, object]]]:
    wanted = list(dict.fromkeys(draft.account_ids))
    reachable = repository.account_missions(session, principal, wanted, REQUEST)
    subtree = missions_service.descendants(session, draft.mission_id)
    errors: list[dict[str, object]] = []
    msg = "not an account of this mission, or of a mission below it, that you may waive"
    for index, account_id in enumerate(draft.account_ids):
        if reachable.get(account_id) not in subtree:
            errors.append(rules.field_error(("body", "account_ids", index), msg, "account_scope"))
    return wanted, errors


def _create(
    session: Session, principal: Principal, draft: _Draft, *, extends: PolicyWaiver | None
) -> tuple[PolicyWaiver, str]:
    code = _requestable_mission(session, principal, draft.mission_id)
    limits = rules.policy_limits(session, draft.policy_id)
    now = clock_of(session).now()
    after = extends.expires_at if extends is not None else None
    accounts, account_errors = _account_errors(session, principal, draft)
    errors = [
        *rules.rule_errors(draft.rule_id, limits),
        *rules.expiry_errors(draft.expires_at, now=now, limits=limits, after=after),
        *account_errors,
    ]
    # expiry_errors reports a missing expiry, so ``errors`` is never empty when it is None.
    if errors or draft.expires_at is None:
        raise rules.refused(errors)
    waiver = PolicyWaiver(
        policy_id=limits.policy_id,
        rule_id=draft.rule_id,
        mission_id=draft.mission_id,
        include_children=draft.include_children,
        reason=draft.reason,
        requested_by=principal.id,
        requested_by_name=principal.name,
        requested_at=now,
        expires_at=draft.expires_at,
        supersedes_id=extends.id if extends is not None else None,
        updated_at=now,
    )
    session.add(waiver)
    session.flush()
    repository.add_accounts(session, waiver.id, accounts)
    audit_service.record(
        session,
        principal=principal,
        action="waiver.extend" if extends is not None else "waiver.request",
        object_type=OBJECT_TYPE,
        object_id=waiver.id,
        mission_id=waiver.mission_id,
        details={"account_ids": [str(a) for a in accounts]},
        after=waiver.snapshot(),
    )
    return waiver, code


def _changed(
    session: Session,
    principal: Principal,
    waiver: PolicyWaiver,
    action: str,
    before: dict[str, object],
    now: datetime,
) -> None:
    waiver.updated_at = now
    waiver.version += 1
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=waiver.id,
        mission_id=waiver.mission_id,
        before=before,
        after=waiver.snapshot(),
    )


def _close(
    session: Session,
    principal: Principal,
    waiver: PolicyWaiver,
    status: WaiverStatus,
    note: str | None,
    action: str,
) -> None:
    now = clock_of(session).now()
    before = waiver.snapshot()
    waiver.status = status
    waiver.closed_by = principal.id
    waiver.closed_by_name = principal.name
    waiver.closed_at = now
    waiver.decision_note = note
    _changed(session, principal, waiver, action, before, now)


def _supersede(
    session: Session,
    principal: Principal,
    old_id: uuid.UUID,
    extension: PolicyWaiver,
    now: datetime,
) -> None:
    old = repository.lock_waiver(session, old_id)
    if old is None or old.status != WaiverStatus.APPROVED:
        return  # revoked meanwhile: nothing left to replace
    before = old.snapshot()
    old.status = WaiverStatus.SUPERSEDED
    old.closed_by = principal.id
    old.closed_by_name = principal.name
    old.closed_at = now
    old.decision_note = f"Replaced by the approved extension {extension.id}."
    _changed(session, principal, old, "waiver.supersede", before, now)
