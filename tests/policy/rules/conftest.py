"""Builders for the baseline rule tests: a compliant account's facts, changed one fact at a time.

``build_facts()`` returns the facts of an account that passes every rule of
``policies/ministry-baseline.yaml`` that applies to it (an ambassador's X account, every fact
group attested five days ago). A test changes the facts the rule is about, drops a group as never
recorded, or marks a group's source as failed, and evaluates the real policy file through the
loader and the compiled policy, as a run does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from secops.policy.evaluator import CompiledPolicy, PreviousState, snapshot
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import Group
from secops.policy.loader import load_file
from secops.policy.outcomes import ResultStatus, RuleResult

NOW: Final = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASELINE: Final = Path(__file__).resolve().parents[3] / "policies" / "ministry-baseline.yaml"
ATTESTED_BY: Final = uuid.UUID("00000000-0000-4000-8000-00000000a77e")
MAILBOX_ID: Final = uuid.UUID("00000000-0000-4000-8000-0000000b0c5e")
GRAPH_DENIED: Final = "Authorization_RequestDenied"

PASS, FAIL = ResultStatus.PASS, ResultStatus.FAIL
MANUAL, ERROR = ResultStatus.MANUAL, ResultStatus.ERROR
NOT_APPLICABLE = ResultStatus.NOT_APPLICABLE


def days_ago(days: int) -> datetime:
    """The evaluation time minus ``days`` days."""
    return NOW - timedelta(days=days)


def admin(**changes: Any) -> dict[str, Any]:
    """A named, active ministry administrator who signed in last week."""
    record: dict[str, Any] = {
        "label": "Jonas Fenech",
        "named": True,
        "person_status": "active",
        "left_at": None,
        "affiliation": "ministry",
        "email_domain": "mfa.example",
        "last_sign_in_at": days_ago(6),
        "platform_role": "admin",
    }
    return record | changes


def app(**changes: Any) -> dict[str, Any]:
    """An allow-listed scheduling tool reviewed 40 days ago."""
    record: dict[str, Any] = {
        "label": "Hootsuite",
        "name": "Hootsuite",
        "publisher": "Hootsuite Inc.",
        "allow_listed": True,
        "granted_at": days_ago(500),
        "last_reviewed_at": days_ago(40),
    }
    return record | changes


def holder(**changes: Any) -> dict[str, Any]:
    """A person who knows the shared password and still works here."""
    record: dict[str, Any] = {"label": "Karim Ellul", "person_status": "active", "left_at": None}
    return record | changes


def compliant_values() -> dict[str, Any]:
    """Every field of an account that meets the whole baseline."""
    return {
        "account.platform": "x",
        "account.tier": "head_of_mission",
        "account.kind": "institutional",
        "account.status": "active",
        "account.handle": "meridiaembparis",
        "account.owner": "juno.spiteri@mfa.example",
        "account.last_activity_at": days_ago(3),
        "account.verified_badge": True,
        "account.in_public_registry": True,
        "owner.status": "active",
        "mfa.enabled": True,
        "mfa.enforced": True,
        "mfa.methods": ["fido2", "authenticator_app"],
        "mfa.strengths": ["phishing_resistant", "totp"],
        "mfa.strongest": "phishing_resistant",
        "mfa.phone_factor": False,
        "mfa.email_factor": False,
        "recovery.email_domain": "mfa.example",
        "recovery.email_inventoried": True,
        "recovery.phone_set": True,
        "recovery.phone_owner": "institutional",
        "recovery.carrier_lock": True,
        "recovery.backup_codes_escrowed": True,
        "recovery.last_verified_at": days_ago(30),
        "credential.storage": "vault",
        "credential.last_rotated_at": days_ago(20),
        "credential.min_length": 20,
        "credential.breach_checked_at": days_ago(10),
        "credential.holders": [holder()],
        "admins": [admin(), admin(label="Rosa Galea")],
        "apps": [app()],
    }


def attested(days: int = 5) -> Provenance:
    """Facts an officer attested ``days`` days ago."""
    return Provenance(source="attested", observed_at=days_ago(days), attested_by=ATTESTED_BY)


def refused(reason: str = GRAPH_DENIED) -> Provenance:
    """Facts a connector could not read."""
    return Provenance(
        source="api:microsoft_graph",
        observed_at=days_ago(1),
        attested_by=None,
        status="error",
        reason=reason,
    )


def build_facts(
    changes: Mapping[str, Any] | None = None,
    *,
    never: Iterable[Group] = (),
    failed: Mapping[Group, str] | None = None,
    recovery_mailbox: uuid.UUID | None = MAILBOX_ID,
) -> AccountFacts:
    """A compliant account's facts with ``changes`` applied.

    ``never``: groups never recorded (no provenance). ``failed``: groups whose source answered
    with an error, and the reason. ``recovery_mailbox``: the inventoried mailbox id behind the
    recovery e-mail (None when it is not inventoried).
    """
    values = compliant_values() | dict(changes or {})
    groups: dict[Group, Provenance | None] = {group: attested() for group in Group}
    groups[Group.ACCOUNT] = Provenance(source="inventory", observed_at=None, attested_by=None)
    for group in never:
        groups[group] = None
    for group, reason in (failed or {}).items():
        groups[group] = refused(reason)
    return AccountFacts(
        account_id=uuid.uuid4(),
        mission_id=uuid.UUID("00000000-0000-4000-8000-0000000e3b00"),
        values=values,
        groups=groups,
        recovery_email_account_id=recovery_mailbox,
    )


def mailbox_facts(changes: Mapping[str, Any] | None = None, **options: Any) -> AccountFacts:
    """The press office's Microsoft 365 mailbox that receives recovery mail, on FIDO2 keys."""
    base = {
        "account.platform": "microsoft365",
        "account.tier": "service",
        "account.handle": "press.office@mfa.example",
        "mfa.methods": ["fido2"],
        "mfa.strengths": ["phishing_resistant"],
        "recovery.email_domain": None,
        "recovery.email_inventoried": False,
    }
    facts = build_facts(base | dict(changes or {}), recovery_mailbox=None, **options)
    facts.account_id = MAILBOX_ID
    return facts


@dataclass(frozen=True)
class Case:
    """One rule, one situation, the status the baseline must give it."""

    rule: str
    expected: ResultStatus
    when: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    never: tuple[Group, ...] = ()
    failed: Mapping[Group, str] = field(default_factory=dict)
    # Field the verdict must name among its deciding facts (checked for pass and fail).
    deciding: str | None = None
    # Facts of the previous run, as changes to the compliant account (None: no previous run).
    previous: Mapping[str, Any] | None = None
    # The recovery mailbox: changes to its compliant facts, or None when it is not inventoried.
    mailbox: Mapping[str, Any] | None = field(default_factory=dict)
    mailbox_never: tuple[Group, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule} {self.expected.value} when {self.when}"


Evaluate = Callable[..., dict[str, RuleResult]]


@pytest.fixture(scope="session")
def baseline() -> CompiledPolicy:
    """The shipped baseline, loaded and validated by the loader, compiled once."""
    return CompiledPolicy.build(load_file(BASELINE).spec)


def evaluate_all(
    policy: CompiledPolicy,
    facts: AccountFacts,
    *,
    previous: AccountFacts | None = None,
    known: Iterable[AccountFacts] = (),
) -> dict[str, RuleResult]:
    """Every rule's result on ``facts`` by rule id; ``known`` are accounts ``lookup`` can find."""
    state = None
    if previous is not None:
        state = PreviousState(statuses={}, snapshot=snapshot(previous, NOW), open_since={})
    index = {other.account_id: other for other in known}
    results = policy.evaluate(facts, now=NOW, previous=state, lookup=index.get)
    return {result.rule_id: result for result in results}


def run_case(policy: CompiledPolicy, case: Case) -> RuleResult:
    """Evaluate the baseline on the account ``case`` describes; the result of its rule."""
    mailbox_id = None if case.mailbox is None else MAILBOX_ID
    facts = build_facts(
        case.changes, never=case.never, failed=case.failed, recovery_mailbox=mailbox_id
    )
    known = []
    if case.mailbox is not None:
        known.append(mailbox_facts(case.mailbox, never=case.mailbox_never))
    previous = None if case.previous is None else build_facts(case.previous)
    return evaluate_all(policy, facts, previous=previous, known=known)[case.rule]


def check_case(policy: CompiledPolicy, case: Case) -> None:
    """Assert the baseline gives ``case`` its expected status, with a reason and evidence."""
    result = run_case(policy, case)
    assert result.status is case.expected, f"{case}: got {result.status} ({result.reason})"
    assert result.reason.strip(), f"{case}: empty reason"
    if case.expected is ERROR:
        assert GRAPH_DENIED in result.reason or any(
            reason in result.reason for reason in case.failed.values()
        ), result.reason
    if case.deciding is not None and case.expected in (PASS, FAIL):
        assert case.deciding in result.fields, f"{case}: fields {result.fields}"
