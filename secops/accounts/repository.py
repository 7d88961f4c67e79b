"""Scoped reads of people and accounts: every query that can return a row goes through ``scope``.

The fact look-ups take account ids that were themselves read through ``scope`` (a page or one
account); they say so with an ``# unscoped:`` reason. Uniqueness checks look across the whole
ministry on purpose: a handle is unique everywhere, visible or not.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.orm import load_only
from sqlmodel import Session, col

from secops.accounts.filters import (
    AccountFilters,
    AccountSort,
    MfaFilter,
    PersonFilters,
    after_key,
    make_cursor,
    read_cursor,
)
from secops.accounts.models import (
    SHEET_GROUPS,
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountFactSheet,
    AccountMfaMethod,
    ConnectedApp,
    CredentialFacts,
    FactStatus,
    ListGroupFacts,
    MfaFacts,
    MfaStrength,
    Person,
    Platform,
    RecoveryFacts,
    normalise_handle,
)
from secops.core.errors import NotFound
from secops.core.inline import InlineReader
from secops.core.pagination import clamp_limit
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.scope import fetch_visible, scope

MISSION_NOT_FOUND = "Mission not found, or not one of yours."
READ = Permission.ACCOUNTS_READ

# One page row: the account, its mission's code, its owner's name and its fact sheet (only the
# MFA state's columns loaded).
PageRow = Row[Account, str, str | None, AccountFactSheet | None]
_MFA_COLUMNS = [
    getattr(AccountFactSheet, f"mfa_{name}")
    for name in (
        "enabled",
        "enforced",
        "source",
        "observed_at",
        "attested_by",
        "fact_status",
        "error_reason",
    )
]


# -- missions -------------------------------------------------------------------------------


def find_mission(
    session: Session, principal: Principal, reference: str, *, permission: Permission = READ
) -> Mission | None:
    """The mission with this id or code, if ``principal`` holds ``permission`` on it."""
    try:
        condition = col(Mission.id) == uuid.UUID(reference)
    except ValueError:
        condition = col(Mission.code) == reference
    query = scope(select(Mission).where(condition), principal, permission, Mission.id)
    return session.scalars(query).one_or_none()


def mission_by_id(
    session: Session, principal: Principal, mission_id: uuid.UUID, *, permission: Permission = READ
) -> Mission:
    """The mission if ``principal`` holds ``permission`` on it; else 404 "mission not found"."""
    found = find_mission(session, principal, str(mission_id), permission=permission)
    if found is None:
        raise NotFound(MISSION_NOT_FOUND)
    return found


# -- people ---------------------------------------------------------------------------------


_PERSON = Person.__table__  # type: ignore[attr-defined]
# unscoped: a read by id on the event loop; ``read_person`` passes it through ``fetch_visible``.
PERSON_BY_ID: Final = select(*_PERSON.columns).where(_PERSON.c.id == bindparam("person_id"))


async def read_person(
    reader: InlineReader,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    permission: Permission = READ,
) -> Any | None:
    """The person's row (attributes named as ``Person``'s) if on a mission the caller reaches."""
    return await fetch_visible(
        reader, PERSON_BY_ID, {"person_id": person_id}, principal, permission, "mission_id"
    )


def get_person(
    session: Session,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    permission: Permission = READ,
    for_update: bool = False,
) -> Person | None:
    """The person if ``principal`` holds ``permission`` on their mission."""
    query = scope(
        select(Person).where(col(Person.id) == person_id), principal, permission, Person.mission_id
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def person_by_email(session: Session, principal: Principal, email: str) -> Person | None:
    """The visible person with this (lower-cased) e-mail address."""
    query = select(Person).where(col(Person.email) == email.lower())
    return session.scalars(scope(query, principal, READ, Person.mission_id)).one_or_none()


def person_id_for_email(session: Session, email: str) -> uuid.UUID | None:
    """Any person's id by e-mail, visible or not (e-mail addresses are unique ministry-wide)."""
    # unscoped: a uniqueness check; the id is never shown to the caller
    query = select(col(Person.id)).where(col(Person.email) == email.lower())
    return session.scalars(query).one_or_none()


def people_page(
    session: Session,
    principal: Principal,
    filters: PersonFilters,
    mission_id: uuid.UUID | None,
    *,
    cursor: str | None,
    limit: int | None,
) -> tuple[Sequence[Person], str | None]:
    """One page of visible people, ordered by name then id."""
    size = clamp_limit(limit)
    query = scope(select(Person), principal, READ, Person.mission_id)
    if mission_id is not None:
        query = query.where(col(Person.mission_id) == mission_id)
    if filters.status is not None:
        query = query.where(col(Person.status) == filters.status)
    if filters.email is not None:
        query = query.where(col(Person.email) == filters.email.lower())
    if filters.q is not None:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(col(Person.full_name)).contains(needle, autoescape=True),
                col(Person.email).contains(needle, autoescape=True),
            )
        )
    columns: list[Any] = [col(Person.full_name), col(Person.id)]
    if cursor is not None:
        key = read_cursor(cursor, "name", [str, uuid.UUID])
        query = query.where(after_key(columns, key, descending=False))
    rows = session.scalars(query.order_by(*columns).limit(size + 1)).all()
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], make_cursor("name", [last.full_name, last.id])


# -- accounts -------------------------------------------------------------------------------


def get_account(
    session: Session,
    principal: Principal,
    account_id: uuid.UUID,
    *,
    permission: Permission = READ,
    for_update: bool = False,
) -> Account | None:
    """The account if ``principal`` holds ``permission`` on its mission."""
    query = scope(
        select(Account).where(col(Account.id) == account_id),
        principal,
        permission,
        Account.mission_id,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def account_by_handle(
    session: Session, principal: Principal, platform: Platform, handle: str
) -> Account | None:
    """The visible account with this (already normalised) handle on ``platform``."""
    query = select(Account).where(col(Account.platform) == platform, col(Account.handle) == handle)
    return session.scalars(scope(query, principal, READ, Account.mission_id)).one_or_none()


def account_id_for_handle(session: Session, platform: Platform, handle: str) -> uuid.UUID | None:
    """Any account's id by (platform, handle), visible or not."""
    # unscoped: a uniqueness check; the id is never shown to the caller
    query = select(col(Account.id)).where(
        col(Account.platform) == platform, col(Account.handle) == handle
    )
    return session.scalars(query).one_or_none()


def account_id_for_external_id(
    session: Session, platform: Platform, external_id: str
) -> uuid.UUID | None:
    """Any account's id by (platform, external id), visible or not."""
    # unscoped: a uniqueness check; the id is never shown to the caller
    query = select(col(Account.id)).where(
        col(Account.platform) == platform, col(Account.external_id) == external_id
    )
    return session.scalars(query).one_or_none()


def mailbox_for_address(session: Session, address: str) -> uuid.UUID | None:
    """The inventoried mailbox (Microsoft 365, Google Workspace) whose handle is ``address``."""
    # unscoped: the policy needs the link whichever mission holds the mailbox; only the id is kept
    query = select(col(Account.id)).where(
        col(Account.handle) == address.lower(),
        col(Account.platform).in_([Platform.MICROSOFT365, Platform.GOOGLE_WORKSPACE]),
    )
    return session.scalars(query.order_by(col(Account.platform))).first()


_SORT_COLUMNS: dict[str, tuple[list[Any], list[type]]] = {
    "handle": ([col(Account.handle), col(Account.id)], [str, uuid.UUID]),
    "platform": (
        [col(Account.platform), col(Account.handle), col(Account.id)],
        [str, str, uuid.UUID],
    ),
    "mission": ([col(Mission.code), col(Account.handle), col(Account.id)], [str, str, uuid.UUID]),
    "updated_at": ([col(Account.updated_at), col(Account.id)], [datetime, uuid.UUID]),
}


def _summary_query(principal: Principal) -> Any:
    query = (
        select(Account, col(Mission.code), col(Person.full_name), AccountFactSheet)
        .join(Mission, col(Mission.id) == col(Account.mission_id))
        .outerjoin(Person, col(Person.id) == col(Account.owner_id))
        .outerjoin(AccountFactSheet, col(AccountFactSheet.account_id) == col(Account.id))
        .options(load_only(*_MFA_COLUMNS))
    )
    return scope(query, principal, READ, Account.mission_id)


def account_row(session: Session, principal: Principal, account_id: uuid.UUID) -> PageRow | None:
    """One visible account as a page row (mission code, owner name, MFA state)."""
    query = _summary_query(principal).where(col(Account.id) == account_id)
    row: PageRow | None = session.execute(query).one_or_none()
    return row


def account_page(
    session: Session,
    principal: Principal,
    filters: AccountFilters,
    *,
    mission_id: uuid.UUID | None,
    stale_before: datetime,
    sort: AccountSort,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[PageRow], str | None]:
    """One page of visible accounts with mission code, owner name and MFA state: one statement."""
    size = clamp_limit(limit)
    query = _summary_query(principal).where(*_conditions(filters, mission_id, stale_before))
    columns, kinds = _SORT_COLUMNS[sort.field]
    if cursor is not None:
        key = read_cursor(cursor, sort.value, kinds)
        query = query.where(after_key(columns, key, descending=sort.descending))
    order = [c.desc() if sort.descending else c.asc() for c in columns]
    rows = list(session.execute(query.order_by(*order).limit(size + 1)).all())
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], make_cursor(sort.value, _sort_key(sort.field, last))


_ACCOUNT_TABLE: Final = Account.__table__  # type: ignore[attr-defined]


def account_rows(
    session: Session,
    principal: Principal,
    filters: AccountFilters,
    *,
    fields: Sequence[str],
    mission_id: uuid.UUID | None,
    stale_before: datetime,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Row[Any]]:
    """Up to ``limit`` visible accounts after ``after`` in (handle, id) order, as plain rows of
    ``id``, ``handle``, the account columns ``fields`` and ``owner_email``: the list's filters
    and scope without ORM objects, for reading a whole inventory."""
    columns = [_ACCOUNT_TABLE.c[name] for name in dict.fromkeys(("id", "handle", *fields))]
    query = (
        select(*columns, col(Person.email).label("owner_email"))
        .outerjoin(Person, col(Person.id) == _ACCOUNT_TABLE.c.owner_id)
        .where(*_conditions(filters, mission_id, stale_before))
    )
    query = scope(query, principal, READ, Account.mission_id)
    order = [col(Account.handle), col(Account.id)]
    if after is not None:
        query = query.where(after_key(order, list(after), descending=False))
    return list(session.execute(query.order_by(*order).limit(limit)).all())


def _sort_key(field: str, row: PageRow) -> list[Any]:
    account, code = row[0], row[1]
    return {
        "handle": [account.handle, account.id],
        "platform": [account.platform, account.handle, account.id],
        "mission": [code, account.handle, account.id],
        "updated_at": [account.updated_at, account.id],
    }[field]


def _conditions(
    filters: AccountFilters, mission_id: uuid.UUID | None, stale_before: datetime
) -> list[Any]:
    where: list[Any] = []
    if mission_id is not None:
        where.append(col(Account.mission_id) == mission_id)
    for name in ("platform", "tier", "kind", "status"):
        value = getattr(filters, name)
        if value is not None:
            where.append(getattr(Account, name) == value)
    if filters.owner is not None:
        where.append(_owner_condition(filters.owner))
    if filters.mfa == MfaFilter.MISSING:
        where.append(col(Account.mfa_strength).is_(None))
    elif filters.mfa is not None:
        where.append(col(Account.mfa_strength) == filters.mfa.value)
    if filters.stale:
        where.append(
            or_(col(Account.evidence_at).is_(None), col(Account.evidence_at) < stale_before)
        )
    if filters.handle is not None:
        where.append(_handle_condition(filters.handle, filters.platform))
    if filters.q is not None:
        needle = filters.q.lower()
        where.append(
            or_(
                col(Account.handle).contains(needle, autoescape=True),
                func.lower(col(Account.display_name)).contains(needle, autoescape=True),
            )
        )
    return where


def _handle_condition(handle: str, platform: Platform | None) -> Any:
    if platform is not None:
        return col(Account.handle) == normalise_handle(platform, handle)
    # Without a platform, match the handle as typed or in its social (lower-case, no @) form.
    social = normalise_handle(Platform.X, handle)
    return col(Account.handle).in_(sorted({handle.strip(), handle.strip().lower(), social}))


def _owner_condition(owner: str) -> Any:
    try:
        return col(Account.owner_id) == uuid.UUID(owner)
    except ValueError:
        # unscoped: a sub-select inside the scoped page query; only visible accounts come back
        by_email = select(col(Person.id)).where(col(Person.email) == owner.lower())
        return col(Account.owner_id).in_(by_email.scalar_subquery())


# -- facts of accounts already read through scope -------------------------------------------


def methods_of(
    session: Session, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[AccountMfaMethod]]:
    """The MFA methods of these accounts, strongest first, in one query."""
    # unscoped: the ids come from a page or an account read through scope()
    found: dict[uuid.UUID, list[AccountMfaMethod]] = {i: [] for i in account_ids}
    if not account_ids:
        return found
    query = select(AccountMfaMethod).where(col(AccountMfaMethod.account_id).in_(account_ids))
    for method in session.scalars(query.order_by(col(AccountMfaMethod.method))):
        found[method.account_id].append(method)
    for methods in found.values():
        methods.sort(key=lambda m: -MfaStrength(m.strength).rank)
    return found


def sheet_of(session: Session, account_id: uuid.UUID) -> AccountFactSheet | None:
    """The account's fact sheet, if any group was ever recorded."""
    # unscoped: account_id was read through scope() by the caller
    return session.get(AccountFactSheet, account_id)


def fact_sheet(session: Session, account_id: uuid.UUID) -> AccountFactSheet:
    """The account's fact sheet, made (and flushed) on the first write of any group."""
    sheet = sheet_of(session, account_id)
    if sheet is None:
        sheet = AccountFactSheet(account_id=account_id)
        session.add(sheet)
        session.flush()
    return sheet


def one_to_one(
    session: Session, account_id: uuid.UUID
) -> tuple[MfaFacts | None, RecoveryFacts | None, CredentialFacts | None]:
    """The account's MFA state, recovery and credential groups, those recorded."""
    sheet = sheet_of(session, account_id)
    if sheet is None:
        return None, None, None
    return (
        sheet.mfa().if_recorded(),
        sheet.recovery().if_recorded(),
        sheet.credential().if_recorded(),
    )


def holders_of(session: Session, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Who holds the account's shared password."""
    # unscoped: account_id was read through scope() by the caller
    query = select(col(AccountCredentialHolder.person_id)).where(
        col(AccountCredentialHolder.account_id) == account_id
    )
    return sorted(session.scalars(query).all())


def admins_of(session: Session, account_id: uuid.UUID) -> list[tuple[AccountAdmin, str | None]]:
    """The account's administrators, with the matching person's name when there is one."""
    # unscoped: account_id was read through scope() by the caller
    query = (
        select(AccountAdmin, col(Person.full_name))
        .outerjoin(Person, col(Person.id) == col(AccountAdmin.person_id))
        .where(col(AccountAdmin.account_id) == account_id)
        .order_by(col(AccountAdmin.external_identity), col(AccountAdmin.id))
    )
    return [(admin, name) for admin, name in session.execute(query).all()]


def apps_of(session: Session, account_id: uuid.UUID) -> list[ConnectedApp]:
    """The account's connected apps, by name."""
    # unscoped: account_id was read through scope() by the caller
    query = select(ConnectedApp).where(col(ConnectedApp.account_id) == account_id)
    return list(session.scalars(query.order_by(col(ConnectedApp.name), col(ConnectedApp.id))))


def groups_of(session: Session, account_id: uuid.UUID) -> list[ListGroupFacts]:
    """When each list-valued group was last seen."""
    sheet = sheet_of(session, account_id)
    return [] if sheet is None else sheet.groups()


def people_visible(
    session: Session, principal: Principal, person_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """The people among ``person_ids`` that ``principal`` may read."""
    if not person_ids:
        return {}
    query = scope(
        select(Person).where(col(Person.id).in_(person_ids)), principal, READ, Person.mission_id
    )
    return {p.id: p for p in session.scalars(query)}


FactSummary = tuple[FactStatus, datetime | None, Any]


def evidence_rows(
    session: Session, account_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, FactSummary]]:
    """Per account and recorded group: (status, observed_at, mfa_enabled for the MFA state)."""
    # unscoped: summaries are recomputed for accounts a writer has already checked
    found: dict[uuid.UUID, dict[str, FactSummary]] = {}
    if not account_ids:
        return found
    ids = list(account_ids)
    sheet = AccountFactSheet.__table__.c  # type: ignore[attr-defined]
    columns = [sheet.account_id, sheet.mfa_enabled]
    for group in SHEET_GROUPS:
        columns += [sheet[f"{group}_fact_status"], sheet[f"{group}_observed_at"]]
    for account_id, enabled, *pairs in session.execute(
        select(*columns).where(sheet.account_id.in_(ids))
    ):
        summary = found.setdefault(account_id, {})
        for index, group in enumerate(SHEET_GROUPS):
            status, observed = pairs[2 * index], pairs[2 * index + 1]
            if status is not None:
                value = enabled if group == "mfa" else None
                summary[group] = (FactStatus(status), observed, value)
    return found


# -- bulk look-ups --------------------------------------------------------------------------


def missions_by_ids(
    session: Session,
    principal: Principal,
    mission_ids: Collection[uuid.UUID],
    permission: Permission,
) -> dict[uuid.UUID, str]:
    """Code per mission among ``mission_ids`` on which ``principal`` holds ``permission``."""
    if not mission_ids:
        return {}
    query = select(col(Mission.id), col(Mission.code)).where(col(Mission.id).in_(list(mission_ids)))
    rows = session.execute(scope(query, principal, permission, Mission.id)).all()
    return dict(rows)


def person_missions(
    session: Session, principal: Principal, person_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Mission per visible person among ``person_ids``."""
    if not person_ids:
        return {}
    query = select(col(Person.id), col(Person.mission_id))
    query = query.where(col(Person.id).in_(list(person_ids)))
    rows = session.execute(scope(query, principal, READ, Person.mission_id)).all()
    return dict(rows)


CHUNK = 500


def accounts_by_handles(
    session: Session, keys: Collection[tuple[Platform, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Existing accounts by (platform, handle), visible or not, as plain column mappings."""
    # unscoped: an upsert must find the row whichever mission holds it; the caller checks scope
    by_platform: dict[str, list[str]] = {}
    for platform_key, handle in keys:
        by_platform.setdefault(str(platform_key), []).append(handle)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    table = Account.__table__  # type: ignore[attr-defined]
    for platform_name, handles in by_platform.items():
        for start in range(0, len(handles), CHUNK):
            chunk = handles[start : start + CHUNK]
            query = select(table).where(
                table.c.platform == platform_name, table.c.handle.in_(chunk)
            )
            for row in session.execute(query).mappings():
                found[(row["platform"], row["handle"])] = dict(row)
    return found


def accounts_by_external_ids(
    session: Session, keys: Collection[tuple[Platform, str]]
) -> dict[tuple[str, str], uuid.UUID]:
    """Existing account ids by (platform, external id), visible or not."""
    # unscoped: a uniqueness check; the ids are never shown to the caller
    found: dict[tuple[str, str], uuid.UUID] = {}
    by_platform: dict[str, list[str]] = {}
    for platform_key, external_id in keys:
        by_platform.setdefault(str(platform_key), []).append(external_id)
    for platform_name, values in by_platform.items():
        for start in range(0, len(values), CHUNK):
            query = select(col(Account.id), col(Account.external_id)).where(
                col(Account.platform) == platform_name,
                col(Account.external_id).in_(values[start : start + CHUNK]),
            )
            for account_id, external_id in session.execute(query):
                if external_id is not None:
                    found[(platform_name, external_id)] = account_id
    return found
