"""Decide, row by row, what an import would create, update or leave alone; collect every error.

Nothing is written here: a dry run stops after planning, and a real import writes the plan only
when it has no error at all. Every row is checked against the caller's grants (write on the
row's mission, and on the stored row's mission when it moves).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

from secops.accounts.io.context import Context, PersonRef, account_key
from secops.accounts.io.factplan import GroupChange, plan_groups
from secops.accounts.io.records import AccountRecord, Errors, ParsedFile, PersonRecord, Where
from secops.accounts.models import Account, AccountStatus, Person, PersonStatus, Platform
from secops.accounts.results import UpsertOutcome
from secops.core import ids
from secops.core.db import new_id

CREATED, UPDATED, UNCHANGED = UpsertOutcome.CREATED, UpsertOutcome.UPDATED, UpsertOutcome.UNCHANGED
PERSON_FIELDS = ("full_name", "email", "mission_id", "position", "status", "left_at")
ACCOUNT_FIELDS = (
    "url",
    "display_name",
    "mission_id",
    "tier",
    "kind",
    "owner_id",
    "status",
    "last_activity_at",
    "verified_badge",
    "in_public_registry",
)
UNASSIGNED: Final = uuid.UUID(int=0)
_NOT_NULL = frozenset({"full_name", "mission", "tier", "kind", "status", "in_public_registry"})


@dataclass
class PersonPlan:
    """One person row: what happens, and the person's fields afterwards."""

    where: Where
    email: str
    outcome: UpsertOutcome
    person_id: uuid.UUID
    fields: dict[str, Any]
    changed: list[str] = field(default_factory=list)


@dataclass
class AccountPlan:
    """One account row: what happens to the account and to each fact group given."""

    where: Where
    platform: Platform
    handle: str
    outcome: UpsertOutcome
    account_id: uuid.UUID
    fields: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    groups: list[GroupChange] = field(default_factory=list)
    stored: Account | None = None

    @property
    def mission_id(self) -> uuid.UUID:
        """The account's mission after the import."""
        mission_id: uuid.UUID = self.fields["mission_id"]
        return mission_id


@dataclass
class Plan:
    """The whole import: people first (accounts may name them), then accounts."""

    people: list[PersonPlan] = field(default_factory=list)
    accounts: list[AccountPlan] = field(default_factory=list)


def _mission(context: Context, code: str, where: Where, errors: Errors) -> uuid.UUID | None:
    mission = context.missions.get(code)
    if mission is None:
        errors.add(where, "mission", f"unknown mission '{code}'")
        return None
    return mission.id


def _may_write(
    context: Context,
    where: Where,
    key_column: str,
    stored_mission: uuid.UUID | None,
    mission_id: uuid.UUID,
    errors: Errors,
) -> bool:
    """A row that changes something needs write on its mission, and on the one it leaves."""
    if stored_mission is not None and not context.can_write(stored_mission):
        noun = "person" if key_column == "email" else "account"
        errors.add(where, key_column, f"this {noun} is on a mission you may not change")
        return False
    if not context.can_write(mission_id):
        code = context.mission_code(mission_id)
        errors.add(where, "mission", f"you may not change the inventory of {code}")
        return False
    return True


def _given(values: dict[str, Any], key: str) -> bool:
    # An empty cell for a field that always holds a value leaves the recorded value alone.
    return key in values and not (values[key] is None and key in _NOT_NULL)


# -- people ------------------------------------------------------------------------------------


def _person_fields(
    context: Context, record: PersonRecord, stored: Person | None, errors: Errors
) -> dict[str, Any] | None:
    values, where = record.values, record.where
    fields: dict[str, Any] = (
        {k: getattr(stored, k) for k in PERSON_FIELDS}
        if stored
        else {
            "email": record.email,
            "position": None,
            "status": PersonStatus.ACTIVE,
            "left_at": None,
        }
    )
    ok = True
    for key in ("full_name", "position", "status", "left_at"):
        if _given(values, key):
            fields[key] = values[key]
    if _given(values, "mission"):
        mission_id = _mission(context, values["mission"], where, errors)
        ok = mission_id is not None
        fields["mission_id"] = mission_id
    for key in ("full_name", "mission_id"):
        if fields.get(key) is None and ok:
            errors.add(where, key.removesuffix("_id"), "required for a new person")
            ok = False
    if fields["status"] == PersonStatus.ACTIVE:
        fields["left_at"] = None
    elif fields["left_at"] is None:
        # The core's rule: leaving without a date is leaving now (or when already recorded).
        fields["left_at"] = stored.left_at if stored and stored.left_at else context.now
    return fields if ok else None


def plan_person(context: Context, record: PersonRecord, errors: Errors) -> PersonPlan | None:
    """Plan one person row."""
    stored = context.stored_people.get(record.email)
    if stored is not None and not context.can_read(stored.mission_id):
        errors.add(record.where, "email", "this person is on a mission you may not change")
        return None
    fields = _person_fields(context, record, stored, errors)
    if fields is None:
        return None
    if stored is None:
        person_id, outcome, changed = new_id(), CREATED, []
    else:
        person_id = stored.id
        changed = [k for k in PERSON_FIELDS if getattr(stored, k) != fields[k]]
        outcome = UPDATED if changed else UNCHANGED
    stored_mission = stored.mission_id if stored else None
    if outcome is not UNCHANGED and not _may_write(
        context, record.where, "email", stored_mission, fields["mission_id"], errors
    ):
        return None
    context.add_person(record.email, PersonRef(person_id, fields["mission_id"]))
    return PersonPlan(record.where, record.email, outcome, person_id, fields, changed)


# -- accounts ----------------------------------------------------------------------------------


_NEW_ACCOUNT: Final[dict[str, Any]] = {
    **dict.fromkeys(ACCOUNT_FIELDS),
    "status": AccountStatus.ACTIVE,
    "in_public_registry": False,
}
# The descriptive fields a row gives as they are (mission and owner are looked up).
_AS_GIVEN: Final = (
    "url",
    "display_name",
    "tier",
    "kind",
    "status",
    "last_activity_at",
    "verified_badge",
    "in_public_registry",
)
_ABSENT: Final = object()


def _account_fields(
    context: Context, record: AccountRecord, stored: Account | None, errors: Errors
) -> dict[str, Any] | None:
    values, where = record.values, record.where
    fields = {k: getattr(stored, k) for k in ACCOUNT_FIELDS} if stored else dict(_NEW_ACCOUNT)
    ok = True
    for key in _AS_GIVEN:
        value = values.get(key, _ABSENT)
        # As _given: an empty cell for a field that always holds a value leaves it alone.
        if value is not _ABSENT and (value is not None or key not in _NOT_NULL):
            fields[key] = value
    if _given(values, "mission"):
        fields["mission_id"] = _mission(context, values["mission"], where, errors)
        ok = fields["mission_id"] is not None
    if "owner" in values and not _same_owner(context, stored, values["owner"]):
        owner = context.people.get(values["owner"]) if values["owner"] else None
        if values["owner"] and owner is None:
            errors.add(
                where,
                "owner",
                "no person with this address on your missions (add them as a person row first)",
            )
            ok = False
        fields["owner_id"] = owner.id if owner else None
    for key in ("mission_id", "tier", "kind"):
        if fields.get(key) is None and ok:
            errors.add(where, key.removesuffix("_id"), "required for a new account")
            ok = False
    return fields if ok and _owner_allowed(context, record, stored, fields, errors) else None


def _same_owner(context: Context, stored: Account | None, owner: str | None) -> bool:
    # The stored owner named again: kept as is, even on a mission the caller cannot see.
    if stored is None or stored.owner_id is None:
        return False
    return bool(owner) and context.stored_records[stored.id].values.get("owner") == owner


def _owner_allowed(
    context: Context,
    record: AccountRecord,
    stored: Account | None,
    fields: dict[str, Any],
    errors: Errors,
) -> bool:
    owner_id = fields["owner_id"]
    moved = (
        stored is None or stored.owner_id != owner_id or stored.mission_id != fields["mission_id"]
    )
    if owner_id is None or not moved:
        return True
    owner = context.people_by_id.get(owner_id)
    if owner is None:
        # The stored owner, on a mission the caller cannot see: the move cannot be checked.
        errors.add(
            record.where,
            "owner",
            "the owner is not a person on your missions; name an owner to move this account",
        )
        return False
    if context.may_own(owner.mission_id, fields["mission_id"]):
        return True
    errors.add(
        record.where,
        "owner",
        "belongs to a mission that is neither this account's nor one above it",
    )
    return False


def plan_account(
    context: Context, record: AccountRecord, errors: Errors, *, attest: bool
) -> AccountPlan | None:
    """Plan one account row (its descriptive fields, then its fact groups)."""
    platform, handle = account_key(record)
    where = record.where
    if not handle:
        errors.add(where, "handle", "empty once normalised")
        return None
    stored = context.stored_accounts.get((platform, handle))
    if stored is not None and not context.can_read(stored.mission_id):
        errors.add(where, "handle", "this account is on a mission you may not change")
        return None
    if stored is None and attest:
        errors.add(
            where,
            "handle",
            "no such account on your missions (an attestation file "
            "only records facts of existing accounts)",
        )
        return None
    fields = _account_fields(context, record, stored, errors)
    stored_groups = context.stored_groups(stored.id) if stored else {}
    groups = plan_groups(context, record, stored_groups, errors, attest=attest)
    if fields is None:
        return None
    if attest and not record.groups:
        errors.add(where, None, "no facts given to attest")
    changed: list[str] = []
    if stored is not None:
        changed = [k for k in ACCOUNT_FIELDS if getattr(stored, k) != fields[k]]
        changed += [g.group.value for g in groups]
    outcome = CREATED if stored is None else UPDATED if changed else UNCHANGED
    stored_mission = stored.mission_id if stored else None
    if outcome is not UNCHANGED and not _may_write(
        context, where, "handle", stored_mission, fields["mission_id"], errors
    ):
        return None
    # A new account's id is drawn by new_account_ids, in file order.
    account_id = stored.id if stored else UNASSIGNED
    return AccountPlan(
        where, platform, handle, outcome, account_id, fields, changed, groups, stored
    )


# -- the whole file ----------------------------------------------------------------------------


def check_duplicates(parsed: ParsedFile, errors: Errors) -> None:
    """A person or account named twice in the file is an error on its second row."""
    seen_people: dict[str, Where] = {}
    for person in parsed.people:
        first = seen_people.setdefault(person.email, person.where)
        if first is not person.where:
            errors.add(person.where, "email", f"the same person as {first.label}")
    seen_accounts: dict[tuple[Platform, str], Where] = {}
    for account in parsed.accounts:
        first = seen_accounts.setdefault(account_key(account), account.where)
        if first is not account.where:
            errors.add(account.where, "handle", f"the same account as {first.label}")


def build(context: Context, parsed: ParsedFile, errors: Errors, *, attest: bool) -> Plan:
    """Plan every row; ``errors`` collects every problem found."""
    plan = Plan()
    check_duplicates(parsed, errors)
    plan_people(context, parsed, errors, plan)
    new_ids = new_account_ids(context, parsed)
    for batch in account_batches(context, parsed, errors, new_ids, len(parsed.accounts), attest):
        plan.accounts.extend(batch)
    return plan


def plan_people(context: Context, parsed: ParsedFile, errors: Errors, plan: Plan) -> None:
    """Plan the person rows (before any account: accounts may name them)."""
    for person in parsed.people:
        planned = plan_person(context, person, errors)
        if planned is not None:
            plan.people.append(planned)


def new_account_ids(context: Context, parsed: ParsedFile) -> dict[tuple[Platform, str], uuid.UUID]:
    """Fresh ids, increasing in file order, for every account the file names that is not
    stored (the rows that will be created if the file has no error)."""
    keys = [account_key(a) for a in parsed.accounts]
    new = list(dict.fromkeys(k for k in keys if k not in context.stored_accounts))
    return dict(zip(new, ids.ordered_ids(len(new)), strict=True))


def spans(total: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of batches of ``size`` items, the first and the last a fifth as long:
    the second thread waits for the first batch, and nothing is planned while the last one is
    written, so short ones keep both waits short."""
    size = max(size, 1)
    short = max(size // 5, 1)
    bounds = [0]
    if total > short:
        bounds.append(short)
    bounds.extend(range(bounds[-1] + size, total, size))
    if total - bounds[-1] > short:
        bounds.append(total - short)
    bounds.append(total)
    return pairwise(bounds) if total else iter(())


def account_batches(
    context: Context,
    parsed: ParsedFile,
    errors: Errors,
    new_ids: dict[tuple[Platform, str], uuid.UUID],
    size: int,
    attest: bool = False,
) -> Iterator[list[AccountPlan]]:
    """The account rows planned ``size`` at a time, new accounts given their ids from
    ``new_ids``, so that each batch can be written while the next one is planned."""
    accounts = parsed.accounts
    for start, end in spans(len(accounts), size):
        batch = []
        for record in accounts[start:end]:
            planned = plan_account(context, record, errors, attest=attest)
            if planned is not None:
                if planned.outcome is CREATED:
                    planned.account_id = new_ids[planned.platform, planned.handle]
                batch.append(planned)
        yield batch
