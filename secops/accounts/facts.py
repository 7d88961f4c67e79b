"""Record facts about accounts, from an officer's attestation or from a connector.

``source`` is ``"attested"`` (observed now, by the principal) or ``"api:<connector kind>"``
(observed when the API says, default now). ``fact_status=FactStatus.ERROR`` with an
``error_reason`` records that the source refused or failed: the last known values stay, marked
with the status, and the account's MFA summary reads ``unknown``. A group's content that did not
change is not audited again (connectors re-read facts on every sync); an attestation is always
audited, as one event naming the groups attested.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from secops.accounts import fact_writers as writers
from secops.accounts import repository
from secops.accounts.accounts import get_account
from secops.accounts.fact_schemas import (
    AdminIn,
    AttestationIn,
    ConnectedAppIn,
    CredentialIn,
    MfaStateIn,
    RecoveryIn,
)
from secops.accounts.fact_writers import Evidence
from secops.accounts.mfa import best_strength
from secops.accounts.models import ATTESTED, Account, FactGroup, FactStatus, MfaStrength
from secops.audit import service as audit_service
from secops.core.db import clock_of
from secops.core.errors import BadRequest
from secops.core.principal import Principal

Writer = Callable[[Session, Principal, Account, Any, Evidence], tuple[Any, Any]]

# Audit keys per group. Not "credential": the audit redactor hides any key containing it.
GROUPS: dict[str, tuple[str, Writer]] = {
    "mfa": ("mfa", writers.write_mfa_state),
    "mfa_methods": ("mfa_methods", writers.write_mfa_methods),
    "recovery": ("recovery", writers.write_recovery),
    "credential": ("login_facts", writers.write_credential),
    "admins": ("admins", writers.write_admins),
    "apps": ("apps", writers.write_apps),
}


def attest(
    session: Session, *, principal: Principal, account_id: uuid.UUID, facts: AttestationIn
) -> Account:
    """Set the groups in ``facts`` as attested by the principal now; one audit event."""
    account = get_account(session, principal=principal, account_id=account_id, for_write=True)
    groups = facts.groups()
    if not groups:
        raise BadRequest("Name at least one fact group to attest (mfa, recovery, admins, ...).")
    evidence = _evidence(session, principal, ATTESTED, None, FactStatus.OK, None)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for group in groups:
        key, writer = GROUPS[group]
        before[key], after[key] = writer(
            session, principal, account, getattr(facts, group), evidence
        )
    refresh_summaries(session, [account.id])
    audit_service.record(
        session,
        principal=principal,
        action="account.attest",
        object_type="account",
        object_id=account.id,
        mission_id=account.mission_id,
        details={"groups": [GROUPS[g][0] for g in groups]},
        before=before,
        after=after,
    )
    return account


def set_mfa_state(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    state: MfaStateIn | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record whether MFA is on and enforced; True if that changed (then audited)."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "mfa", state, evidence)


def replace_mfa_methods(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    methods: Sequence[str] | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record the registered methods as reported (raw strings); True if they changed."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "mfa_methods", methods, evidence)


def set_recovery(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    recovery: RecoveryIn | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record how the account is recovered (address and phone encrypted); True if changed."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "recovery", recovery, evidence)


def set_credential(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    credential: CredentialIn | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record how the password is kept and who holds it; True if that changed."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "credential", credential, evidence)


def replace_admins(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    admins: Sequence[AdminIn] | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record the account's administrators; True if the list changed."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "admins", admins, evidence)


def replace_apps(
    session: Session,
    *,
    principal: Principal,
    account_id: uuid.UUID,
    apps: Sequence[ConnectedAppIn] | None,
    source: str,
    observed_at: datetime | None = None,
    fact_status: FactStatus = FactStatus.OK,
    error_reason: str | None = None,
) -> bool:
    """Record the account's connected apps; True if the list changed."""
    evidence = _evidence(session, principal, source, observed_at, fact_status, error_reason)
    return _write(session, principal, account_id, "apps", apps, evidence)


def _evidence(
    session: Session,
    principal: Principal,
    source: str,
    observed_at: datetime | None,
    fact_status: FactStatus,
    error_reason: str | None,
) -> Evidence:
    return Evidence.of(
        principal=principal,
        source=source,
        now=clock_of(session).now(),
        observed_at=observed_at,
        fact_status=fact_status,
        error_reason=error_reason,
    )


def _write(
    session: Session,
    principal: Principal,
    account_id: uuid.UUID,
    group: str,
    payload: Any,
    evidence: Evidence,
) -> bool:
    account = get_account(session, principal=principal, account_id=account_id, for_write=True)
    key, writer = GROUPS[group]
    before, after = writer(session, principal, account, payload, evidence)
    refresh_summaries(session, [account.id])
    if before == after:
        return False
    audit_service.record(
        session,
        principal=principal,
        action=f"account.{key}.set",
        object_type="account",
        object_id=account.id,
        mission_id=account.mission_id,
        details={"source": evidence.source, "fact_status": str(evidence.fact_status)},
        before={key: before},
        after={key: after},
    )
    return True


def refresh_summaries(session: Session, account_ids: Iterable[uuid.UUID]) -> None:
    """Recompute ``account.mfa_strength`` and ``account.evidence_at`` from the fact rows.

    Call it after writing facts by any path (bulk imports included); it reads and writes in
    batches, so a whole import costs a few statements per thousand accounts.
    """
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        summaries = [
            {"id": account_id, "mfa_strength": strength, "evidence_at": oldest}
            for account_id, (strength, oldest) in _summaries(session, chunk).items()
        ]
        if summaries:
            session.execute(update(Account), summaries)
    session.flush()


def _summaries(
    session: Session, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[MfaStrength | None, datetime | None]]:
    rows = repository.evidence_rows(session, ids)
    methods = repository.methods_of(session, ids)
    result = {}
    for account_id in ids:
        facts = rows.get(account_id, {})
        result[account_id] = (
            mfa_summary(facts, [m.strength for m in methods[account_id]]),
            oldest_evidence(facts),
        )
    return result


def mfa_summary(
    facts: dict[str, tuple[FactStatus, datetime | None, Any]], strengths: list[MfaStrength]
) -> MfaStrength | None:
    """The strongest method, ``unknown`` if the latest read failed, None with no evidence."""
    state = facts.get("mfa")
    group = facts.get(FactGroup.MFA_METHODS.value)
    if any(f is not None and f[0] != FactStatus.OK for f in (state, group)):
        return MfaStrength.UNKNOWN
    if strengths:
        return best_strength(strengths)
    if group is not None or (state is not None and state[2] is False):
        return MfaStrength.NONE
    if state is not None and state[2] is True:
        # On, but nobody said how: not a pass for any tier.
        return MfaStrength.UNKNOWN
    return None


def oldest_evidence(facts: dict[str, tuple[FactStatus, datetime | None, Any]]) -> datetime | None:
    """The oldest observation among the recorded groups; None if any has none (or none at all)."""
    times = [observed for _, observed, _ in facts.values()]
    if not times or any(t is None for t in times):
        return None
    return min(t for t in times if t is not None)
