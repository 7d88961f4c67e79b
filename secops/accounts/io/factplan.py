"""Merge the fact groups a row gives with what is recorded, and decide whether each changed.

A group the row gives is merged over the recorded one field by field (a column the file leaves
out keeps its recorded value). It counts as changed when a value differs, when the row gives an
evidence date other than the recorded one, or always in an attestation file, which exists to
re-record facts with fresh evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from secops.accounts import masking
from secops.accounts.io.cells import Masked
from secops.accounts.io.columns import GROUP_COLUMNS, OBSERVED_AT
from secops.accounts.io.context import Context
from secops.accounts.io.records import ITEMS, AccountRecord, Errors, Group, GroupRecord
from secops.accounts.models import CredentialStorage, PhoneOwner

DEFAULTS: Final[dict[Group, dict[str, Any]]] = {
    Group.MFA: {"enabled": None, "enforced": None},
    Group.MFA_METHODS: {ITEMS: []},
    Group.RECOVERY: {
        "email": None,
        "phone": None,
        "phone_owner": PhoneOwner.UNKNOWN,
        "carrier_lock": None,
        "backup_codes_escrowed": None,
        "last_verified_at": None,
    },
    Group.CREDENTIAL: {
        "storage": CredentialStorage.UNKNOWN,
        "last_rotated_at": None,
        "min_length": None,
        "breach_checked_at": None,
        "holders": [],
    },
    Group.ADMINS: {ITEMS: []},
    Group.CONNECTED_APPS: {ITEMS: []},
}
_MASKS: Final = {"email": masking.mask_email, "phone": masking.mask_phone}


@dataclass
class GroupChange:
    """A fact group to record: its full values and when the evidence was true."""

    group: Group
    values: dict[str, Any]
    observed_at: datetime
    # For the credential group: whether the holders differ from the recorded ones.
    holders_changed: bool = True


def _column_name(group: Group, key: str) -> str:
    for column in GROUP_COLUMNS[group]:
        if column.key == key:
            return column.name
    return f"{group.value}_{key}"


def _stored_values(stored: GroupRecord | None, group: Group) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {key: stored.values.get(key) for key in DEFAULTS[group]}


def _unmask(
    group: Group, key: str, value: Masked, stored: dict[str, Any] | None
) -> tuple[bool, Any]:
    plain = None if stored is None else stored.get(key)
    if plain is None or _MASKS[key](str(plain)) != value:
        return False, None
    return True, plain


def merge(
    context: Context,
    record: AccountRecord,
    group: Group,
    given: GroupRecord,
    stored: GroupRecord | None,
    errors: Errors,
    *,
    attest: bool,
) -> GroupChange | None:
    """The group to write for this row, or None when it is unchanged (or in error)."""
    defaults = DEFAULTS[group]
    old = _stored_values(stored, group)
    values = dict(defaults if old is None else old)
    ok = True
    for key, value in given.values.items():
        if value is None:
            # Fields that always hold a value (lists, owner, storage): empty sets the default.
            default = defaults[key]
            if default is not None:
                value = default
        elif isinstance(value, Masked):
            found, value = _unmask(group, key, value, old)
            if not found:
                errors.add(
                    record.where,
                    _column_name(group, key),
                    "a masked value that does not match "
                    "the recorded one; give the full value or leave the cell as exported",
                )
                ok = False
        values[key] = value
    observed = given.observed_at
    if observed is not None and observed > context.now:
        errors.add(
            record.where, _column_name(group, OBSERVED_AT), "the evidence date is in the future"
        )
        ok = False
    if group is Group.CREDENTIAL:
        ok = _check_people(context, record, values, old, errors) and ok
    if not ok:
        return None
    recorded_at = stored.observed_at if stored is not None else None
    changed = old != values or (observed is not None and observed != recorded_at) or attest
    if not changed:
        return None
    holders_changed = old is None or old.get("holders") != values.get("holders")
    return GroupChange(group, values, observed or context.now, holders_changed)


def _check_people(
    context: Context,
    record: AccountRecord,
    values: dict[str, Any],
    old: dict[str, Any] | None,
    errors: Errors,
) -> bool:
    holders = values.get("holders") or []
    if old is not None and holders == old.get("holders"):
        return True  # the recorded holders, kept as they are (some may be on other missions)
    unknown = [email for email in holders if email not in context.people]
    for _ in unknown:
        errors.add(
            record.where,
            "credential_holders",
            "a holder is not a person on your missions (add them as a person row first)",
        )
    return not unknown


def plan_groups(
    context: Context,
    record: AccountRecord,
    stored: dict[Group, GroupRecord],
    errors: Errors,
    *,
    attest: bool,
) -> list[GroupChange]:
    """Every group of this row that must be recorded."""
    changes = []
    for group, given in record.groups.items():
        change = merge(context, record, group, given, stored.get(group), errors, attest=attest)
        if change is not None:
            changes.append(change)
    return changes
