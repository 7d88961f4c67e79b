"""Batched reads for import and export: a few queries per thousand rows, never one per row.

Look-ups by e-mail and by (platform, handle) span the whole ministry on purpose: both keys are
unique everywhere, so an import must know a key is taken even on a mission the caller cannot
see. The importer then checks each row against the caller's grants with ``principal.can``;
nothing read here is returned to the caller for a mission they may not read.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple, TypeVar

from sqlalchemy import ARRAY, Row, String, Uuid, any_, bindparam, select, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, col

from secops.accounts.models import (
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountFactSheet,
    AccountMfaMethod,
    ConnectedApp,
    FactGroup,
    Person,
    Platform,
)
from secops.core.db import UTCDateTime
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.scope import scope

CHUNK = 900  # below SQLite's oldest limit of 999 bound parameters per statement
T = TypeVar("T")
READ = Permission.ACCOUNTS_READ


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def matching(session: Session, column: Any, values: Collection[Any]) -> Iterator[Any]:
    """Conditions that together select the rows whose ``column`` is one of ``values``.

    SQLite: ``IN`` lists of at most ``CHUNK`` values. PostgreSQL: ``= ANY(array)`` with every
    value in one array parameter, so a whole inventory is one statement, not fifty-odd whose
    hundreds of placeholders the driver and the server parse again each time.
    """
    # In any order: the result does not depend on it, and sorting UUIDs is slow (Python code).
    listed = list(values)
    if not listed:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, listed, type_=ARRAY(column.type)))
        return
    for part in chunks(listed):
        yield column.in_(part)


def visible_missions(session: Session, principal: Principal) -> list[Mission]:
    """Every mission whose inventory ``principal`` may read."""
    return list(session.scalars(scope(select(Mission), principal, READ, Mission.id)))


def people_by_email(session: Session, emails: Collection[str]) -> dict[str, Person]:
    """Anyone with one of these (lower-case) addresses, visible or not."""
    # unscoped: e-mail is unique ministry-wide; the importer checks each match with can()
    found: dict[str, Person] = {}
    for condition in matching(session, col(Person.email), emails):
        for person in session.scalars(select(Person).where(condition)):
            found[person.email] = person
    return found


def people_by_id(session: Session, person_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Person]:
    """People by id, for owners, holders and admins of accounts already read."""
    # unscoped: the ids come from accounts the caller may read (their owners and holders)
    found: dict[uuid.UUID, Person] = {}
    for condition in matching(session, col(Person.id), person_ids):
        for person in session.scalars(select(Person).where(condition)):
            found[person.id] = person
    return found


def accounts_by_handle(
    session: Session, keys: Collection[tuple[Platform, str]]
) -> dict[tuple[Platform, str], Account]:
    """Any account with one of these (platform, normalised handle) keys, visible or not."""
    # unscoped: (platform, handle) is unique ministry-wide; the importer checks matches with can()
    wanted = set(keys)
    found: dict[tuple[Platform, str], Account] = {}
    handles = {handle for _, handle in wanted}
    for condition in matching(session, col(Account.handle), handles):
        for account in session.scalars(select(Account).where(condition)):
            key = (Platform(account.platform), account.handle)
            if key in wanted:
                found[key] = account
    return found


def mailboxes_by_address(
    session: Session, addresses: Collection[str]
) -> dict[str, list[tuple[str, uuid.UUID]]]:
    """Inventoried mailboxes (Microsoft 365, Google Workspace) whose handle is one of these
    addresses, as (platform, id) candidates per address."""
    # unscoped: the recovery link is kept whichever mission holds the mailbox; only the id is kept
    found: dict[str, list[tuple[str, uuid.UUID]]] = defaultdict(list)
    platforms = [Platform.MICROSOFT365, Platform.GOOGLE_WORKSPACE]
    query = select(col(Account.handle), col(Account.platform), col(Account.id))
    for condition in matching(session, col(Account.handle), addresses):
        rows = session.execute(query.where(condition, col(Account.platform).in_(platforms)))
        for handle, platform, account_id in rows:
            found[handle].append((str(platform), account_id))
    return dict(found)


# Columns of the fact tables that no file describes: row ids, link ids, derived and
# bookkeeping values. Each read costs a conversion per row (a UUID or a timestamp).
_UNREAD = frozenset(
    {
        "id",
        "person_id",
        "email_account_id",
        "email_domain",
        "external_id",
        "strength",
        "recorded_at",
    }
)


def _by_account(
    session: Session, model: Any, account_ids: Collection[uuid.UUID], *extra: Any
) -> Iterator[Row[Any]]:
    # unscoped: facts_of passes ids of accounts read through scope() or checked with can()
    table = model.__table__
    sqlite = session.get_bind().dialect.name == "sqlite"
    columns = [_shared(c) if sqlite else c for c in table.c if c.name not in _UNREAD]
    query = select(*columns, *extra)
    if extra:
        query = query.outerjoin(Person, col(Person.id) == table.c.person_id)
    for condition in matching(session, table.c.account_id, account_ids):
        # fetchall, not a fetch per row: the rows are all kept anyway
        yield from session.execute(query.where(condition)).all()


@lru_cache(maxsize=65_536)
def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


@lru_cache(maxsize=65_536)
def _time(text: str) -> datetime:
    # SQLite keeps UTCDateTime values as naive UTC text ("2026-12-06 08:00:00.000000").
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class _SharedUuid(TypeDecorator[uuid.UUID]):
    """A UUID read through a cache of parsed values (SQLite stores UUIDs as text)."""

    impl = String  # the stored text, unprocessed
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else _uuid(value)


class _SharedTime(TypeDecorator[datetime]):
    """A timestamp read through a cache of parsed values, aware and in UTC as ``UTCDateTime``."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _time(value)


def _shared(column: Any) -> Any:
    """``column`` read through a cache when its values repeat across rows (SQLite only).

    The fact rows of an account repeat its id, most name the same few attesting officers, and
    an import stamps one evidence date on thousands of rows: parsing each again cost a fifth
    of the fact reads of a re-import.
    """
    if isinstance(column.type, Uuid):
        return type_coerce(column, _SharedUuid()).label(column.name)
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, _SharedTime()).label(column.name)
    return column


class MfaRow(NamedTuple):
    """The MFA state group of a fact sheet."""

    account_id: uuid.UUID
    mfa_enabled: bool | None
    mfa_enforced: bool | None
    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: str
    error_reason: str | None
    recorded_at: datetime | None


class RecoveryRow(NamedTuple):
    """The recovery group of a fact sheet (address and number still encrypted)."""

    account_id: uuid.UUID
    email: bytes | None
    email_domain: str | None
    email_hint: str | None
    email_account_id: uuid.UUID | None
    phone: bytes | None
    phone_hint: str | None
    phone_owner: str
    carrier_lock: bool | None
    backup_codes_escrowed: bool | None
    last_verified_at: datetime | None
    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: str
    error_reason: str | None
    recorded_at: datetime | None


class CredentialRow(NamedTuple):
    """The credential group of a fact sheet."""

    account_id: uuid.UUID
    storage: str
    last_rotated_at: datetime | None
    min_length: int | None
    breach_checked_at: datetime | None
    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: str
    error_reason: str | None
    recorded_at: datetime | None


class ListGroupRow(NamedTuple):
    """When a list group of a fact sheet was seen as a whole."""

    account_id: uuid.UUID
    fact_group: str
    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: str
    error_reason: str | None
    recorded_at: datetime | None


# The fact sheet's columns as read, in order: each group's slice, then its provenance.
_RECOVERY_AT: Final = 1 + len(MfaRow._fields) - 1
_CREDENTIAL_AT: Final = _RECOVERY_AT + len(RecoveryRow._fields) - 1
_LISTS_AT: Final = _CREDENTIAL_AT + len(CredentialRow._fields) - 1
_PROVENANCE_WIDTH: Final = len(ListGroupRow._fields) - 2
SHEET_COLUMNS: Final = (
    "account_id",
    *MfaRow._fields[1:3],
    *(f"mfa_{name}" for name in MfaRow._fields[3:]),
    *(f"recovery_{name}" for name in RecoveryRow._fields[1:]),
    *(f"credential_{name}" for name in CredentialRow._fields[1:]),
    *(f"{group.value}_{name}" for group in FactGroup for name in ListGroupRow._fields[2:]),
)


def _split_sheet(row: Sequence[Any], facts: StoredFacts) -> None:
    """A fact sheet's recorded groups (those with a source), each as a row of its own."""
    account_id = row[0]
    if row[3] is not None:
        facts.mfa[account_id] = MfaRow._make(row[:_RECOVERY_AT])
    if row[_CREDENTIAL_AT - _PROVENANCE_WIDTH] is not None:
        facts.recovery[account_id] = RecoveryRow(account_id, *row[_RECOVERY_AT:_CREDENTIAL_AT])
    if row[_LISTS_AT - _PROVENANCE_WIDTH] is not None:
        facts.credential[account_id] = CredentialRow(account_id, *row[_CREDENTIAL_AT:_LISTS_AT])
    start = _LISTS_AT
    for group in _LIST_GROUP_NAMES:
        if row[start] is not None:
            facts.groups[account_id][group] = ListGroupRow(
                account_id, group, *row[start : start + _PROVENANCE_WIDTH]
            )
        start += _PROVENANCE_WIDTH


_LIST_GROUP_NAMES: Final = tuple(group.value for group in FactGroup)


def _sheets(session: Session, account_ids: Collection[uuid.UUID]) -> Iterator[Row[Any]]:
    # unscoped: facts_of passes ids of accounts read through scope() or checked with can()
    table = AccountFactSheet.__table__  # type: ignore[attr-defined]
    sqlite = session.get_bind().dialect.name == "sqlite"
    columns = [table.c[name] for name in SHEET_COLUMNS]
    query = select(*(_shared(c) if sqlite else c for c in columns))
    for condition in matching(session, table.c.account_id, account_ids):
        yield from session.execute(query.where(condition)).all()


class StoredFacts:
    """Every fact row of a set of accounts, grouped by account id.

    The rows are plain result rows (attributes named as the columns, values converted by the
    columns' types as the ORM would), not ORM objects: building an object and its identity-map
    entry for each of the half a million rows of a large inventory took most of an export.
    Nothing reading them writes through them, and the columns a file does not describe
    (``_UNREAD``) are left out.
    """

    def __init__(self) -> None:
        self.mfa: dict[uuid.UUID, MfaRow] = {}
        self.methods: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
        self.groups: dict[uuid.UUID, dict[str, ListGroupRow]] = defaultdict(dict)
        self.recovery: dict[uuid.UUID, RecoveryRow] = {}
        self.credential: dict[uuid.UUID, CredentialRow] = {}
        self.holders: dict[uuid.UUID, list[str]] = defaultdict(list)
        self.admins: dict[uuid.UUID, list[tuple[Row[Any], str | None]]] = defaultdict(list)
        self.apps: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)


def facts_of(session: Session, account_ids: Iterable[uuid.UUID]) -> StoredFacts:
    """Load the facts of these accounts: one query per fact table and thousand accounts."""
    # unscoped: the ids come from accounts read through scope() or matched and checked by can()
    ids = set(account_ids)
    facts = StoredFacts()
    for row in _sheets(session, ids):
        _split_sheet(row, facts)
    for row in _by_account(session, AccountMfaMethod, ids):
        facts.methods[row.account_id].append(row)
    for row in _by_account(session, AccountCredentialHolder, ids, col(Person.email)):
        facts.holders[row.account_id].append(row.email)
    for row in _by_account(session, AccountAdmin, ids, col(Person.email).label("person_email")):
        facts.admins[row.account_id].append((row, row.person_email))
    for row in _by_account(session, ConnectedApp, ids):
        facts.apps[row.account_id].append(row)
    return facts


def people_in_scope(session: Session, principal: Principal) -> list[Person]:
    """Every person whose mission's inventory ``principal`` may read, by e-mail."""
    query = scope(select(Person), principal, READ, Person.mission_id)
    return list(session.scalars(query.order_by(col(Person.email))))
