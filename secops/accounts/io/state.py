"""Stored rows as records: what an export writes and what an import compares against.

Both sides of the comparison are built by the same functions, so a file exported and imported
again finds every field equal and every row unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlmodel import Session

from secops.accounts.io.columns import sort_admins, sort_apps
from secops.accounts.io.records import (
    ITEMS,
    AccountRecord,
    AdminItem,
    AppItem,
    Group,
    GroupRecord,
    PersonRecord,
    Where,
)
from secops.accounts.io.repository import StoredFacts
from secops.accounts.models import (
    Affiliation,
    FactStatus,
    Person,
)
from secops.core.crypto import decrypt_field

RECOVERY_TABLE = "account_recovery"


def person_record(person: Person, mission_code: str) -> PersonRecord:
    """A stored person as the file would describe them."""
    return PersonRecord(
        Where("stored"),
        {
            "email": person.email,
            "full_name": person.full_name,
            "mission": mission_code,
            "position": person.position,
            "status": person.status,
            "left_at": person.left_at,
        },
    )


# An account as the file describes it: an ORM ``Account`` or a result row of its columns.
AccountRow = Any


def account_values(
    account: AccountRow, mission_code: str, owner_email: str | None
) -> dict[str, Any]:
    """An account's descriptive fields as the file names them."""
    return {
        "platform": account.platform,
        "handle": account.handle,
        "url": account.url,
        "display_name": account.display_name,
        "mission": mission_code,
        "tier": account.tier,
        "kind": account.kind,
        "owner": owner_email,
        "status": account.status,
        "last_activity_at": account.last_activity_at,
        "verified_badge": account.verified_badge,
        "in_public_registry": account.in_public_registry,
    }


# A stored fact row: a result row of a fact table (``repository.StoredFacts``) or an ORM object.
FactRow = Any


def _evidence(row: FactRow | None, values: dict[str, Any]) -> GroupRecord:
    if row is None:
        return GroupRecord(values=values)
    evidence = row.source
    if row.fact_status != FactStatus.OK:
        evidence += f" ({row.fact_status}: {row.error_reason or 'no reason given'})"
    # The CSV's one ``<group>_source`` cell; JSON carries the provenance fields separately.
    values["evidence"] = evidence
    values["source"] = row.source
    values["attested_by"] = str(row.attested_by) if row.attested_by else None
    values["fact_status"] = str(row.fact_status)
    values["error_reason"] = row.error_reason
    return GroupRecord(values=values, observed_at=row.observed_at)


def _list_evidence(
    group_row: FactRow | None, items: list[FactRow], values: dict[str, Any]
) -> GroupRecord:
    if group_row is not None:
        return _evidence(group_row, values)
    # No whole-list record: the oldest item's evidence stands for the list.
    dated = [(i.observed_at, n) for n, i in enumerate(items) if i.observed_at is not None]
    return _evidence(items[min(dated)[1]] if dated else None, values)


Reveal = Callable[[uuid.UUID], bool]


def fact_groups(
    session: Session, account: AccountRow, facts: StoredFacts, *, reveal: bool
) -> dict[Group, GroupRecord]:
    """Every recorded fact group of an account; recovery in clear only when ``reveal``."""
    groups: dict[Group, GroupRecord] = {}
    account_id = account.id
    mfa = facts.mfa.get(account_id)
    if mfa is not None:
        groups[Group.MFA] = _evidence(
            mfa, {"enabled": mfa.mfa_enabled, "enforced": mfa.mfa_enforced}
        )
    recorded = facts.groups.get(account_id, {})
    methods = facts.methods.get(account_id, [])
    if methods or "mfa_methods" in recorded:
        values = {ITEMS: sorted({m.method for m in methods})}
        groups[Group.MFA_METHODS] = _list_evidence(
            recorded.get("mfa_methods"), list(methods), values
        )
    recovery = facts.recovery.get(account_id)
    if recovery is not None:
        groups[Group.RECOVERY] = _evidence(recovery, recovery_values(session, recovery, reveal))
    credential = facts.credential.get(account_id)
    if credential is not None:
        groups[Group.CREDENTIAL] = _evidence(
            credential,
            {
                "storage": credential.storage,
                "last_rotated_at": credential.last_rotated_at,
                "min_length": credential.min_length,
                "breach_checked_at": credential.breach_checked_at,
                "holders": sorted(facts.holders.get(account_id, [])),
            },
        )
    admins = facts.admins.get(account_id, [])
    if admins or "admins" in recorded:
        items = sort_admins([admin_item(admin, email) for admin, email in admins])
        groups[Group.ADMINS] = _list_evidence(
            recorded.get("admins"), [a for a, _ in admins], {ITEMS: items}
        )
    apps = facts.apps.get(account_id, [])
    if apps or "apps" in recorded:
        groups[Group.CONNECTED_APPS] = _list_evidence(
            recorded.get("apps"), list(apps), {ITEMS: sort_apps([app_item(a) for a in apps])}
        )
    return groups


def recovery_values(session: Session, row: Any, reveal: bool) -> dict[str, Any]:
    """The recovery group's values: the address and number decrypted, or their masks."""
    email, phone = row.email_hint, row.phone_hint
    if reveal:
        email = _decrypt(session, row.account_id, "email", row.email)
        phone = _decrypt(session, row.account_id, "phone", row.phone)
    return {
        "email": email,
        "phone": phone,
        "phone_owner": row.phone_owner,
        "carrier_lock": row.carrier_lock,
        "backup_codes_escrowed": row.backup_codes_escrowed,
        "last_verified_at": row.last_verified_at,
    }


def _decrypt(session: Session, row_id: uuid.UUID, column: str, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    return decrypt_field(session, table=RECOVERY_TABLE, column=column, row_id=row_id, blob=blob)


def admin_item(admin: Any, person_email: str | None) -> AdminItem:
    """An administrator row as the file describes it (a person by their e-mail address)."""
    return AdminItem(
        identity=person_email or admin.external_identity or "",
        role=admin.platform_role,
        affiliation=Affiliation(admin.affiliation),
        last_sign_in_at=admin.last_sign_in_at,
    )


def app_item(app: Any) -> AppItem:
    """A connected app row as the file describes it."""
    return AppItem(
        name=app.name,
        publisher=app.publisher,
        scopes=tuple(sorted(app.scopes or ())),
        granted_by=app.granted_by,
        granted_at=app.granted_at,
        last_reviewed_at=app.last_reviewed_at,
        allow_listed=bool(app.allow_listed),
    )


def account_record(
    session: Session,
    account: AccountRow,
    facts: StoredFacts,
    *,
    mission_codes: Mapping[uuid.UUID, str],
    owner_emails: Mapping[uuid.UUID, str],
    reveal: bool,
) -> AccountRecord:
    """A stored account with its facts, as the file would describe it."""
    owner = owner_emails.get(account.owner_id) if account.owner_id else None
    return AccountRecord(
        Where("stored"),
        account_values(account, mission_codes[account.mission_id], owner),
        fact_groups(session, account, facts, reveal=reveal),
    )
