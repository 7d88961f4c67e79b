"""Insert the people and accounts an import creates: a few multi-row statements per table.

The rows are exactly those the core's fact writers would produce (hints, domains, mailbox links,
method strengths, whole-list records), and the derived ``mfa_strength`` and ``evidence_at`` are
computed with the core's own functions, so a created account reads the same whichever path made
it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session, SQLModel

from secops.accounts import masking
from secops.accounts.facts import mfa_summary, oldest_evidence
from secops.accounts.io import fastinsert, repository
from secops.accounts.io.context import Context
from secops.accounts.io.factplan import GroupChange
from secops.accounts.io.plan import AccountPlan, PersonPlan
from secops.accounts.io.records import ITEMS, AdminItem, AppItem, Group
from secops.accounts.mfa import strength_of
from secops.accounts.models import ATTESTED, FactGroup, FactStatus, Platform
from secops.core.crypto import encrypt_field
from secops.core.db import new_id

OK = FactStatus.OK
# The core's name for each group in evidence summaries and whole-list records.
CORE_GROUP = {
    Group.MFA: "mfa",
    Group.MFA_METHODS: FactGroup.MFA_METHODS.value,
    Group.RECOVERY: "recovery",
    Group.CREDENTIAL: "credential",
    Group.ADMINS: FactGroup.ADMINS.value,
    Group.CONNECTED_APPS: FactGroup.APPS.value,
}
# The tables an import writes, parents first.
INVENTORY_TABLES = (
    "person",
    "account",
    "account_mfa",
    "account_mfa_method",
    "account_fact_group",
    "account_recovery",
    "account_credential",
    "account_credential_holder",
    "account_admin",
    "connected_app",
)
MAILBOXES = frozenset({Platform.MICROSOFT365, Platform.GOOGLE_WORKSPACE})


def table(name: str) -> Table:
    """A table of the metadata, for Core statements."""
    return SQLModel.metadata.tables[name]


def insert_rows(session: Session, name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows of one table in a few driver calls."""
    fastinsert.insert_many(session, table(name), rows)


def insert_people(session: Session, people: Sequence[PersonPlan], now: datetime) -> None:
    """Create the planned people."""
    rows = [
        {**p.fields, "id": p.person_id, "created_at": now, "updated_at": now, "version": 1}
        for p in people
    ]
    insert_rows(session, "person", rows)


@dataclass
class FactRows:
    """Rows for every fact table, gathered for all created accounts."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            name: []
            for name in (
                "account_mfa",
                "account_mfa_method",
                "account_fact_group",
                "account_recovery",
                "account_credential",
                "account_credential_holder",
                "account_admin",
                "connected_app",
            )
        }
    )


class Builder:
    """Turns planned fact groups into rows, with the evidence of the importing principal."""

    def __init__(self, session: Session, context: Context, mailboxes: dict[str, uuid.UUID]):
        self.session = session
        self.context = context
        self.mailboxes = mailboxes
        self.rows = FactRows()
        self.attested_by = context.principal.id

    def evidence(self, change: GroupChange) -> dict[str, Any]:
        """The provenance columns of every row of this group."""
        return {
            "source": ATTESTED,
            "observed_at": change.observed_at,
            "attested_by": self.attested_by,
            "fact_status": OK,
            "error_reason": None,
            "recorded_at": self.context.now,
        }

    def add(self, account_id: uuid.UUID, change: GroupChange) -> list[Any]:
        """Rows for one group; returns the MFA strengths it recorded."""
        prov = self.evidence(change)
        values, tables = change.values, self.rows.tables
        if change.group in (Group.MFA_METHODS, Group.ADMINS, Group.CONNECTED_APPS):
            tables["account_fact_group"].append(
                {"account_id": account_id, "fact_group": CORE_GROUP[change.group], **prov}
            )
        if change.group is Group.MFA:
            tables["account_mfa"].append(
                {
                    "account_id": account_id,
                    "mfa_enabled": values["enabled"],
                    "mfa_enforced": values["enforced"],
                    **prov,
                }
            )
        elif change.group is Group.MFA_METHODS:
            return self._methods(account_id, values[ITEMS], prov)
        elif change.group is Group.RECOVERY:
            tables["account_recovery"].append(self._recovery(account_id, values, prov))
        elif change.group is Group.CREDENTIAL:
            self._credential(account_id, values, prov)
        elif change.group is Group.ADMINS:
            tables["account_admin"].extend(self._admin(account_id, a, prov) for a in values[ITEMS])
        else:
            tables["connected_app"].extend(self._app(account_id, a, prov) for a in values[ITEMS])
        return []

    def _methods(
        self, account_id: uuid.UUID, methods: list[str], prov: dict[str, Any]
    ) -> list[Any]:
        strengths = []
        for method in methods:
            strength = strength_of(method)
            strengths.append(strength)
            self.rows.tables["account_mfa_method"].append(
                {
                    "id": new_id(),
                    "account_id": account_id,
                    "method": method,
                    "strength": strength,
                    **prov,
                }
            )
        return strengths

    def _recovery(
        self, account_id: uuid.UUID, values: dict[str, Any], prov: dict[str, Any]
    ) -> dict[str, Any]:
        email, phone = values["email"], values["phone"]
        return {
            "account_id": account_id,
            "email": self._seal(account_id, "email", email),
            "email_hint": masking.mask_email(email) if email else None,
            "email_domain": masking.email_domain(email) if email else None,
            "email_account_id": self.mailboxes.get(email) if email else None,
            "phone": self._seal(account_id, "phone", phone),
            "phone_hint": masking.mask_phone(phone) if phone else None,
            "phone_owner": values["phone_owner"],
            "carrier_lock": values["carrier_lock"],
            "backup_codes_escrowed": values["backup_codes_escrowed"],
            "last_verified_at": values["last_verified_at"],
            **prov,
        }

    def _seal(self, account_id: uuid.UUID, column: str, value: str | None) -> bytes | None:
        if not value:
            return None
        return encrypt_field(
            self.session,
            table="account_recovery",
            column=column,
            row_id=account_id,
            plaintext=value,
        )

    def _credential(
        self, account_id: uuid.UUID, values: dict[str, Any], prov: dict[str, Any]
    ) -> None:
        tables = self.rows.tables
        tables["account_credential"].append(
            {
                "account_id": account_id,
                "storage": values["storage"],
                "last_rotated_at": values["last_rotated_at"],
                "min_length": values["min_length"],
                "breach_checked_at": values["breach_checked_at"],
                **prov,
            }
        )
        holders = {self.context.people[email].id for email in values["holders"]}
        tables["account_credential_holder"].extend(
            {"account_id": account_id, "person_id": person_id} for person_id in sorted(holders)
        )

    def _admin(
        self, account_id: uuid.UUID, admin: AdminItem, prov: dict[str, Any]
    ) -> dict[str, Any]:
        person = self.context.people.get(admin.identity)
        domain = masking.email_domain(admin.identity) if "@" in admin.identity else None
        return {
            "id": new_id(),
            "account_id": account_id,
            "person_id": person.id if person else None,
            "external_identity": None if person else admin.identity,
            "external_id": None,
            "platform_role": admin.role,
            "affiliation": admin.affiliation,
            "email_domain": domain,
            "last_sign_in_at": admin.last_sign_in_at,
            **prov,
        }

    def _app(self, account_id: uuid.UUID, app: AppItem, prov: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": new_id(),
            "account_id": account_id,
            "name": app.name,
            "publisher": app.publisher,
            "scopes": list(app.scopes),
            "granted_by": app.granted_by,
            "granted_at": app.granted_at,
            "last_reviewed_at": app.last_reviewed_at,
            "allow_listed": app.allow_listed,
            "external_id": None,
            **prov,
        }


def _summary(changes: list[GroupChange], strengths: list[Any]) -> tuple[Any, Any]:
    facts: dict[str, tuple[FactStatus, datetime | None, Any]] = {}
    for change in changes:
        enabled = change.values["enabled"] if change.group is Group.MFA else None
        facts[CORE_GROUP[change.group]] = (OK, change.observed_at, enabled)
    return mfa_summary(facts, strengths), oldest_evidence(facts)


def _mailboxes(session: Session, accounts: Sequence[AccountPlan]) -> dict[str, uuid.UUID]:
    """Recovery addresses that are inventoried mailboxes, stored or created by this import."""
    addresses = {
        c.values["email"]
        for a in accounts
        for c in a.groups
        if c.group is Group.RECOVERY and c.values["email"]
    }
    if not addresses:
        return {}
    candidates = repository.mailboxes_by_address(session, addresses)
    for plan in accounts:
        if plan.platform in MAILBOXES and plan.handle in addresses:
            candidates.setdefault(plan.handle, []).append((str(plan.platform), plan.account_id))
    # As the core's look-up does: the first platform in name order wins.
    return {address: min(found)[1] for address, found in candidates.items()}


def insert_accounts(session: Session, context: Context, accounts: Sequence[AccountPlan]) -> None:
    """Create the planned accounts and their facts."""
    now = context.now
    builder = Builder(session, context, _mailboxes(session, accounts))
    rows = []
    for plan in accounts:
        strengths: list[Any] = []
        for change in plan.groups:
            strengths += builder.add(plan.account_id, change)
        strength, oldest = _summary(plan.groups, strengths)
        rows.append(
            {
                **plan.fields,
                "id": plan.account_id,
                "platform": plan.platform,
                "handle": plan.handle,
                "external_id": None,
                "mfa_strength": strength,
                "evidence_at": oldest,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    insert_rows(session, "account", rows)
    for name, fact_rows in builder.rows.tables.items():
        insert_rows(session, name, fact_rows)
