"""Account rules: create, change, read and list accounts on the caller's missions.

Checks run in this order so nothing leaks: visible (else 404, same as missing), writable (403),
``If-Match`` (428/412), then the domain rules (404 for a mission or owner the caller cannot see,
409 for a duplicate or an owner from an unrelated mission). Nothing is stored when one fails.

An account's owner must belong to the account's mission or to a mission above it: headquarters
staff may own an embassy's account, an embassy's staff may not own another embassy's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from secops.accounts import reads, repository
from secops.accounts.bulk import BulkAccountsResult, bulk_upsert_accounts
from secops.accounts.filters import AccountFilters, AccountSort
from secops.accounts.models import Account, Platform, normalise_handle
from secops.accounts.results import UpsertOutcome, UpsertResult
from secops.accounts.schemas import (
    AccountCreate,
    AccountDetail,
    AccountPage,
    AccountRead,
    AccountUpdate,
)
from secops.audit import service as audit_service
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.etag import require_if_match
from secops.core.principal import Permission, Principal
from secops.missions.scope import descendants

__all__ = [
    "BulkAccountsResult",
    "UpsertResult",
    "account_detail",
    "account_read",
    "bulk_upsert_accounts",
    "check_owner",
    "create_account",
    "duplicate_handle",
    "find_account",
    "get_account",
    "list_accounts",
    "update_account",
    "upsert_account",
]

OBJECT_TYPE = "account"
NOT_FOUND = "No such account."
OWNER_NOT_FOUND = "Owner not found, or not on one of your missions (field: owner_id)."
WRITE = Permission.ACCOUNTS_WRITE


def duplicate_handle() -> Conflict:
    """The 409 for a (platform, handle) pair already in the inventory."""
    return Conflict(
        "An account with this platform and handle already exists (fields: platform, handle).",
        extra={
            "errors": [
                {"loc": ["body", "platform"], "msg": "already in use with this handle"},
                {"loc": ["body", "handle"], "msg": "already in use on this platform"},
            ]
        },
    )


def _duplicate_external_id() -> Conflict:
    return Conflict(
        "Another account on this platform has this external id (field: external_id).",
        extra={"errors": [{"loc": ["body", "external_id"], "msg": "already in use"}]},
    )


def get_account(
    session: Session, *, principal: Principal, account_id: uuid.UUID, for_write: bool = False
) -> Account:
    """An account on one of the caller's missions (404 otherwise); 403 if ``for_write`` and
    the caller may only read it."""
    account = repository.get_account(session, principal, account_id, for_update=for_write)
    if account is None:
        raise NotFound(NOT_FOUND)
    if for_write and not principal.can(WRITE, account.mission_id):
        raise Forbidden("You may read this account but not change it.")
    return account


def find_account(
    session: Session, *, principal: Principal, platform: Platform, handle: str
) -> Account | None:
    """The visible account with this handle on ``platform`` (the handle is normalised here)."""
    return repository.account_by_handle(
        session, principal, platform, normalise_handle(platform, handle)
    )


def account_read(session: Session, *, principal: Principal, account_id: uuid.UUID) -> AccountRead:
    """The summary of one account: mission code, owner name, MFA at a glance, evidence age."""
    row = repository.account_row(session, principal, account_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    account, code, owner_name, sheet = row
    methods = repository.methods_of(session, [account.id])[account.id]
    now = clock_of(session).now()
    return reads.account_read(
        account, mission_code=code, owner_name=owner_name, sheet=sheet, methods=methods, now=now
    )


def account_detail(
    session: Session, *, principal: Principal, account_id: uuid.UUID
) -> AccountDetail:
    """One account with every fact group; recovery masked unless the caller may see secrets."""
    summary = account_read(session, principal=principal, account_id=account_id)
    methods = repository.methods_of(session, [account_id])[account_id]
    now = clock_of(session).now()
    return reads.account_detail(session, principal, summary, methods=methods, now=now)


def list_accounts(
    session: Session,
    *,
    principal: Principal,
    filters: AccountFilters,
    sort: AccountSort | str = AccountSort.HANDLE,
    cursor: str | None = None,
    limit: int | None = None,
) -> AccountPage:
    """One page of accounts: one query for the page, one for the page's MFA methods."""
    mission_id = None
    if filters.mission is not None:
        mission = repository.find_mission(session, principal, filters.mission)
        if mission is None:
            raise NotFound(repository.MISSION_NOT_FOUND)
        mission_id = mission.id
    now = clock_of(session).now()
    rows, next_cursor = repository.account_page(
        session,
        principal,
        filters,
        mission_id=mission_id,
        stale_before=now - timedelta(days=filters.stale_days),
        sort=AccountSort(sort),
        cursor=cursor,
        limit=limit,
    )
    methods = repository.methods_of(session, [row[0].id for row in rows])
    items = [
        reads.account_read(
            account,
            mission_code=code,
            owner_name=owner,
            sheet=sheet,
            methods=methods[account.id],
            now=now,
        )
        for account, code, owner, sheet in rows
    ]
    return AccountPage(items=items, next_cursor=next_cursor)


def create_account(session: Session, *, principal: Principal, data: AccountCreate) -> Account:
    """Add an account to a mission the caller may write; nothing is stored if a rule fails."""
    writable_mission(session, principal, data.mission_id)
    if data.owner_id is not None:
        check_owner(session, principal, owner_id=data.owner_id, mission_id=data.mission_id)
    if repository.account_id_for_handle(session, data.platform, data.handle) is not None:
        raise duplicate_handle()
    if data.external_id is not None and repository.account_id_for_external_id(
        session, data.platform, data.external_id
    ):
        raise _duplicate_external_id()
    now = clock_of(session).now()
    account = Account(**data.model_dump(), created_at=now, updated_at=now)
    session.add(account)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="account.create",
        object_type=OBJECT_TYPE,
        object_id=account.id,
        mission_id=account.mission_id,
        after=account.snapshot(),
    )
    return account


def update_account(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    changes: AccountUpdate,
    if_match: str | None,
) -> Account:
    """Change an account's description; send ``If-Match`` with the ETag you read."""
    account = get_account(session, principal=principal, account_id=account_id, for_write=True)
    require_if_match(if_match, account.version)
    apply_changes(session, principal, account, changes.changes())
    return account


def upsert_account(session: Session, *, principal: Principal, data: AccountCreate) -> UpsertResult:
    """Create the account, or bring the one with this (platform, handle) in line with ``data``.

    Only the fields set in ``data`` are applied to an existing account; no ``If-Match`` (an
    import is the authority for the rows it names). A handle held by an account outside the
    caller's missions is a 409, as on create.
    """
    account = repository.account_by_handle(session, principal, data.platform, data.handle)
    if account is None:
        created = create_account(session, principal=principal, data=data)
        return UpsertResult(created.id, UpsertOutcome.CREATED)
    if not principal.can(WRITE, account.mission_id):
        raise Forbidden("You may read this account but not change it.")
    requested = data.model_dump(exclude_unset=True, exclude={"platform", "handle"})
    changed = apply_changes(session, principal, account, requested)
    outcome = UpsertOutcome.UPDATED if changed else UpsertOutcome.UNCHANGED
    return UpsertResult(account.id, outcome, tuple(changed))


def apply_changes(
    session: Session, principal: Principal, account: Account, requested: dict[str, Any]
) -> list[str]:
    """Apply the requested field values after the rules; audit and bump the version if any."""
    if "handle" in requested:
        requested["handle"] = normalise_handle(account.platform, requested["handle"])
    fields = {k: v for k, v in requested.items() if getattr(account, k) != v}
    if not fields:
        return []
    _check_changes(session, principal, account, fields)
    before = account.snapshot()
    for name, value in fields.items():
        setattr(account, name, value)
    account.updated_at = clock_of(session).now()
    account.version += 1
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="account.update",
        object_type=OBJECT_TYPE,
        object_id=account.id,
        mission_id=account.mission_id,
        before=before,
        after=account.snapshot(),
    )
    return sorted(fields)


def _check_changes(
    session: Session, principal: Principal, account: Account, fields: dict[str, Any]
) -> None:
    if not fields.get("handle", True):
        raise Conflict("The handle is empty once normalised (field: handle).")
    if "mission_id" in fields:
        writable_mission(session, principal, fields["mission_id"])
    owner_id = fields.get("owner_id", account.owner_id)
    if owner_id is not None and ("owner_id" in fields or "mission_id" in fields):
        mission_id = fields.get("mission_id", account.mission_id)
        check_owner(session, principal, owner_id=owner_id, mission_id=mission_id)
    if "handle" in fields and repository.account_id_for_handle(
        session, account.platform, fields["handle"]
    ):
        raise duplicate_handle()
    external_id = fields.get("external_id")
    if external_id and repository.account_id_for_external_id(
        session, account.platform, external_id
    ):
        raise _duplicate_external_id()


def writable_mission(session: Session, principal: Principal, mission_id: uuid.UUID) -> None:
    """404 "mission not found" unless visible; 403 unless the caller may write its inventory."""
    mission = repository.mission_by_id(session, principal, mission_id)
    if not principal.can(WRITE, mission.id):
        raise Forbidden("You may read this mission's inventory but not change it.")


def check_owner(
    session: Session, principal: Principal, *, owner_id: uuid.UUID, mission_id: uuid.UUID
) -> None:
    """The owner must be visible and belong to the mission or to a mission above it."""
    owner = repository.get_person(session, principal, owner_id)
    if owner is None:
        raise NotFound(OWNER_NOT_FOUND)
    if owner.mission_id != mission_id and mission_id not in descendants(session, owner.mission_id):
        raise Conflict(
            "The owner belongs to a mission that is neither this account's mission nor one above"
            " it (field: owner_id).",
            extra={"errors": [{"loc": ["body", "owner_id"], "msg": "owner of another mission"}]},
        )
