"""The naive policy evaluation the benchmark compares with: one account at a time, through the ORM.

For each account: ``session.get`` the account, its owner and each one-to-one fact row; select its
fact-group rows, methods, apps, admins and credential holders, then ``session.get`` each admin's
and holder's person; select its newest previous result. The facts are built exactly as
:func:`secops.policy.facts.load_facts` builds them (a sample is checked against it), evaluated
with the same compiled policy, classified with the same :class:`~secops.policy.evaluation.RunRows`,
and added to the session as ORM objects, flushed once at the end and rolled back.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Final

from pydantic_core import to_json
from sqlalchemy import select
from sqlmodel import Session, col

from secops.accounts.mfa import best_strength
from secops.accounts.models import (
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountFactSheet,
    AccountMfaMethod,
    ConnectedApp,
    MfaStrength,
    Person,
)
from secops.core.db import clock_of, info_of
from secops.core.principal import system_principal
from secops.core.runtime import Runtime
from secops.policy import loader
from secops.policy.evaluation import (
    FINDING_COLUMNS,
    REASON_COLUMNS,
    RESULT_COLUMNS,
    Previous,
    RunRows,
)
from secops.policy.evaluator import CompiledPolicy, SnapshotWriter
from secops.policy.facts import AccountFacts, Provenance, load_facts
from secops.policy.fields import EMAIL_METHODS, FIELDS, PHONE_METHODS, Group, method_key
from secops.policy.models import (
    PolicyAccountResult,
    PolicyFinding,
    PolicyReason,
    PolicyRun,
    RunStatus,
    RunTrigger,
)
from secops.policy.runs import rule_table

CHECKED: Final = 200  # accounts whose naive facts are compared with load_facts
_LIST_GROUPS: Final = {"mfa_methods": Group.MFA_METHODS, "admins": Group.ADMINS,
                       "apps": Group.APPS}  # fmt: skip


def _provenance(row: Any) -> Provenance:
    return Provenance(row.source, row.observed_at, row.attested_by, row.fact_status,
                      row.error_reason)  # fmt: skip


def _one_to_one(session: Session, account_id: uuid.UUID, facts: AccountFacts) -> None:
    values, groups = facts.values, facts.groups
    sheet = session.get(AccountFactSheet, account_id)
    if sheet is None:
        return
    mfa = sheet.mfa()
    if mfa.recorded:
        values["mfa.enabled"], values["mfa.enforced"] = mfa.mfa_enabled, mfa.mfa_enforced
        groups[Group.MFA] = _provenance(mfa)
    recovery = sheet.recovery()
    if recovery.recorded:
        values.update(
            {
                "recovery.email_domain": recovery.email_domain,
                "recovery.email_inventoried": recovery.email_account_id is not None,
                "recovery.phone_set": recovery.phone is not None,
                "recovery.phone_owner": recovery.phone_owner,
                "recovery.carrier_lock": recovery.carrier_lock,
                "recovery.backup_codes_escrowed": recovery.backup_codes_escrowed,
                "recovery.last_verified_at": recovery.last_verified_at,
            }
        )
        facts.recovery_email_account_id = recovery.email_account_id
        groups[Group.RECOVERY] = _provenance(recovery)
    credential = sheet.credential()
    if credential.recorded:
        values.update(
            {
                "credential.storage": credential.storage,
                "credential.last_rotated_at": credential.last_rotated_at,
                "credential.min_length": credential.min_length,
                "credential.breach_checked_at": credential.breach_checked_at,
                "credential.holders": [],
            }
        )
        groups[Group.CREDENTIAL] = _provenance(credential)


def _lists(session: Session, account_id: uuid.UUID, facts: AccountFacts) -> None:
    values = facts.values
    sheet = session.get(AccountFactSheet, account_id)
    for row in sheet.groups() if sheet is not None else []:
        group = _LIST_GROUPS.get(str(row.fact_group))
        if group is not None:
            facts.groups[group] = _provenance(row)
            values["mfa.methods" if group is Group.MFA_METHODS else group.value] = []
    holders = values["credential.holders"]
    for link in session.scalars(
        select(AccountCredentialHolder).where(col(AccountCredentialHolder.account_id) == account_id)
    ):
        person = session.get(Person, link.person_id)
        if holders is not None and person is not None:
            holders.append({"label": person.full_name, "person_status": person.status,
                            "left_at": person.left_at})  # fmt: skip
    admins = values["admins"]
    for admin in session.scalars(
        select(AccountAdmin).where(col(AccountAdmin.account_id) == account_id)
    ):
        person = session.get(Person, admin.person_id) if admin.person_id else None
        if admins is not None:
            admins.append(
                {
                    "label": (person.full_name if person else None) or admin.external_identity
                    or admin.platform_role,
                    "named": admin.person_id is not None,
                    "person_status": person.status if person else None,
                    "left_at": person.left_at if person else None,
                    "affiliation": admin.affiliation,
                    "email_domain": admin.email_domain,
                    "last_sign_in_at": admin.last_sign_in_at,
                    "platform_role": admin.platform_role,
                }
            )  # fmt: skip
    if values["mfa.methods"] is not None:
        methods = sorted(
            (m.method, m.strength)
            for m in session.scalars(
                select(AccountMfaMethod).where(col(AccountMfaMethod.account_id) == account_id)
            )
        )
        keys = [method_key(method) for method, _ in methods]
        values["mfa.methods"] = [method for method, _ in methods]
        values["mfa.strengths"] = [strength for _, strength in methods]
        values["mfa.strongest"] = best_strength(MfaStrength(s) for _, s in methods).value
        values["mfa.phone_factor"] = any(key in PHONE_METHODS for key in keys)
        values["mfa.email_factor"] = any(key in EMAIL_METHODS for key in keys)
    apps = values["apps"]
    for app in session.scalars(
        select(ConnectedApp).where(col(ConnectedApp.account_id) == account_id)
    ):
        if apps is not None:
            apps.append({"label": app.name, "name": app.name, "publisher": app.publisher,
                         "allow_listed": app.allow_listed, "granted_at": app.granted_at,
                         "last_reviewed_at": app.last_reviewed_at})  # fmt: skip
    for name in ("credential.holders", "admins", "apps"):
        if values[name]:
            values[name].sort(key=lambda record: str(record.get("label") or ""))


def naive_facts(session: Session, account_id: uuid.UUID) -> AccountFacts | None:
    """One account's facts, loaded through the ORM row by row."""
    account = session.get(Account, account_id)
    if account is None:
        return None
    owner = session.get(Person, account.owner_id) if account.owner_id else None
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    values.update(
        {
            "account.platform": account.platform,
            "account.tier": account.tier,
            "account.kind": account.kind,
            "account.status": account.status,
            "account.handle": account.handle,
            "account.owner": owner.full_name if owner else None,
            "account.last_activity_at": account.last_activity_at,
            "account.verified_badge": account.verified_badge,
            "account.in_public_registry": account.in_public_registry,
            "owner.status": owner.status if owner else None,
        }
    )
    groups: dict[Group, Provenance | None] = dict.fromkeys(Group)
    groups[Group.ACCOUNT] = Provenance("inventory", account.updated_at, None)
    if owner is not None:
        groups[Group.OWNER] = Provenance("directory", owner.updated_at, None)
    facts = AccountFacts(account.id, account.mission_id, values, groups)
    _one_to_one(session, account.id, facts)
    _lists(session, account.id, facts)
    return facts


def _previous(
    session: Session, rows: RunRows, policy_id: str, account_id: uuid.UUID
) -> Previous | None:
    row = session.scalars(
        select(PolicyAccountResult)
        .where(
            col(PolicyAccountResult.policy_id) == policy_id,
            col(PolicyAccountResult.account_id) == account_id,
        )
        .order_by(col(PolicyAccountResult.run_seq).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    run = session.get(PolicyRun, row.run_id)
    alignment = rows.alignment(run.rule_ids if run is not None else [])
    holder = (
        row
        if row.snapshot is not None
        else session.get(PolicyAccountResult, (row.snapshot_run_id, row.account_id))
    )
    snapshot = holder.snapshot if holder is not None else None
    return rows.previous(alignment, row.statuses, to_json(row.first_seen).decode(),
                         to_json(snapshot or {}).decode(), row.snapshot_run_id)  # fmt: skip


def _check_same_facts(session: Session, account_ids: list[uuid.UUID]) -> None:
    bulk = load_facts(session, system_principal("bench"), mission_ids=None,
                      account_ids=account_ids[:CHECKED])  # fmt: skip
    for expected in bulk:
        found = naive_facts(session, expected.account_id)
        if found is None or (found.values, found.groups) != (expected.values, expected.groups):
            raise RuntimeError(f"naive facts differ from load_facts for {expected.account_id}")


def naive_evaluate(runtime: Runtime, *, limit: int) -> tuple[int, float, int]:
    """Evaluate ``limit`` accounts (0: all) one at a time; (accounts, seconds, rules)."""
    session = runtime.sessions()
    try:
        account_ids = list(session.scalars(select(col(Account.id)).order_by(col(Account.id))))
        account_ids = account_ids[:limit] if limit else account_ids
        _check_same_facts(session, account_ids)
        session.expunge_all()
        started = time.perf_counter()
        count, rules = _loop(session, account_ids)
        session.flush()
        return count, time.perf_counter() - started, rules
    finally:
        session.rollback()
        session.close()


def _loop(session: Session, account_ids: list[uuid.UUID]) -> tuple[int, int]:
    loaded = loader.load_policy(info_of(session, "settings"), None)
    compiled = CompiledPolicy.build(loaded.spec)
    now = clock_of(session).now()
    run = PolicyRun(seq=0, policy_id=loaded.id, policy_version=loaded.version,
                    policy_sha256=loaded.sha256, policy_title=loaded.spec.policy.title,
                    trigger=RunTrigger.MANUAL, status=RunStatus.RUNNING, started_at=now,
                    rules=rule_table(loaded.spec),
                    rule_ids=[rule.id for rule in loaded.spec.rules])  # fmt: skip
    session.add(run)
    rows = RunRows(run.id, run.seq, run.policy_id, now, run.rules)
    writer = SnapshotWriter()

    def lookup(account_id: uuid.UUID) -> AccountFacts | None:
        return naive_facts(session, account_id)

    for account_id in account_ids:
        facts = naive_facts(session, account_id)
        if facts is None:
            continue
        before = _previous(session, rows, loaded.id, account_id)
        state = None if before is None else rows.previous_state(before)
        results = compiled.evaluate(facts, now=now, previous=state, lookup=lookup)
        rows.add(account_id, facts.mission_id, results, before, writer(facts))
        account_rows, findings, reasons = rows.drain()
        session.add_all(
            PolicyAccountResult(**dict(zip(RESULT_COLUMNS, row, strict=True)))
            for row in account_rows
        )
        session.add_all(
            PolicyFinding(**dict(zip(FINDING_COLUMNS, row, strict=True))) for row in findings
        )
        session.add_all(
            PolicyReason(**dict(zip(REASON_COLUMNS, row, strict=True))) for row in reasons
        )
    return len(account_ids), len(compiled.rule_ids)
