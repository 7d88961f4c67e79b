"""Apply an import's changes to rows that already exist, through the core's own rules.

Updates are the rare case of an import (a re-import is mostly unchanged rows), so they go one
account at a time through the core's services and fact writers: the same checks, the same
before/after audit events (``account.update``, ``person.update``, and ``account.attest`` for
the fact groups), the same derived summaries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from secops.accounts import facts as facts_service
from secops.accounts import service as accounts_service
from secops.accounts.accounts import apply_changes
from secops.accounts.fact_schemas import (
    AdminIn,
    ConnectedAppIn,
    CredentialIn,
    MfaStateIn,
    RecoveryIn,
)
from secops.accounts.fact_writers import Evidence
from secops.accounts.io.context import Context
from secops.accounts.io.factplan import GroupChange
from secops.accounts.io.plan import AccountPlan, PersonPlan
from secops.accounts.io.records import ITEMS, Group
from secops.accounts.models import ATTESTED, Account, FactStatus
from secops.accounts.schemas import PersonCreate
from secops.audit import service as audit_service
from secops.core.errors import ValidationFailed

_CORE_GROUP = {
    Group.MFA: "mfa",
    Group.MFA_METHODS: "mfa_methods",
    Group.RECOVERY: "recovery",
    Group.CREDENTIAL: "credential",
    Group.ADMINS: "admins",
    Group.CONNECTED_APPS: "apps",
}


def _refused(label: str, exc: ValidationError) -> ValidationFailed:
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
    return ValidationFailed(
        f"{label}: the core refused the row ({', '.join(fields)}); nothing was changed.",
        errors=[{"loc": [label, f], "msg": "refused by the account rules"} for f in fields],
    )


def update_people(session: Session, context: Context, people: Sequence[PersonPlan]) -> None:
    """Bring each stored person in line with the file (``person.update`` events)."""
    for plan in people:
        try:
            data = PersonCreate(**plan.fields)
        except ValidationError as exc:
            raise _refused(plan.where.label, exc) from None
        accounts_service.upsert_person(session, principal=context.principal, data=data)


def _payload(context: Context, change: GroupChange) -> Any:
    values = change.values
    if change.group is Group.MFA:
        return MfaStateIn(mfa_enabled=values["enabled"], mfa_enforced=values["enforced"])
    if change.group is Group.MFA_METHODS:
        return list(values[ITEMS])
    if change.group is Group.RECOVERY:
        return RecoveryIn(**values)
    if change.group is Group.CREDENTIAL:
        fields = {k: v for k, v in values.items() if k != "holders"}
        if not change.holders_changed:
            # None keeps the recorded holders (some may be on missions the caller cannot see).
            return CredentialIn(**fields, holder_ids=None)
        holders = [context.people[email].id for email in values["holders"]]
        return CredentialIn(**fields, holder_ids=holders)
    if change.group is Group.ADMINS:
        return [_admin(context, item) for item in values[ITEMS]]
    return [
        ConnectedAppIn(
            name=app.name,
            publisher=app.publisher,
            scopes=list(app.scopes),
            granted_by=app.granted_by,
            granted_at=app.granted_at,
            last_reviewed_at=app.last_reviewed_at,
            allow_listed=app.allow_listed,
        )
        for app in values[ITEMS]
    ]


def _admin(context: Context, item: Any) -> AdminIn:
    person = context.people.get(item.identity)
    return AdminIn(
        person_id=person.id if person else None,
        external_identity=None if person else item.identity,
        platform_role=item.role,
        affiliation=item.affiliation,
        last_sign_in_at=item.last_sign_in_at,
    )


def _evidence(context: Context, change: GroupChange) -> Evidence:
    return Evidence(
        source=ATTESTED,
        observed_at=change.observed_at,
        attested_by=context.principal.id,
        fact_status=FactStatus.OK,
        error_reason=None,
        recorded_at=context.now,
    )


def _stored(plan: AccountPlan) -> Account:
    if plan.stored is None:
        raise RuntimeError(f"{plan.where.label}: an update was planned without a stored account")
    return plan.stored


def _write_groups(
    session: Session, context: Context, plan: AccountPlan, import_id: uuid.UUID
) -> None:
    account = _stored(plan)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for change in plan.groups:
        key, writer = facts_service.GROUPS[_CORE_GROUP[change.group]]
        try:
            payload = _payload(context, change)
        except ValidationError as exc:
            raise _refused(plan.where.label, exc) from None
        before[key], after[key] = writer(
            session, context.principal, account, payload, _evidence(context, change)
        )
    audit_service.record(
        session,
        principal=context.principal,
        action="account.attest",
        object_type="account",
        object_id=account.id,
        mission_id=account.mission_id,
        details={"groups": sorted(before), "via": "import", "import_id": str(import_id)},
        before=before,
        after=after,
    )


def update_accounts(
    session: Session, context: Context, accounts: Sequence[AccountPlan], import_id: uuid.UUID
) -> None:
    """Apply descriptive changes and fact groups to stored accounts, then their summaries."""
    for plan in accounts:
        account = _stored(plan)
        fields = {k: plan.fields[k] for k in plan.changed if k in plan.fields}
        if fields:
            apply_changes(session, context.principal, account, fields)
        if plan.groups:
            _write_groups(session, context, plan, import_id)
    facts_service.refresh_summaries(session, [p.account_id for p in accounts])
