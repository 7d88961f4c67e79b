"""CompiledPolicy: a result per rule in file order; applicability, thresholds, checks, evidence."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from secops.policy.checks import PreviousState
from secops.policy.conditions.memo import MEMO_ENTRIES, Memo
from secops.policy.evaluator import CompiledPolicy, evidence, evidence_from_snapshot, snapshot
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import FIELDS, Group
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import PolicyFile

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
OFFICER = uuid.uuid4()
ATTESTED = Provenance("attested", NOW - timedelta(days=12), OFFICER)
BASELINE = Path(__file__).resolve().parents[2] / "policies" / "ministry-baseline.yaml"
TEXT = {"rationale": "Because it matters a lot.", "remediation": "1. Fix it in the settings."}


def rule(rule_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "title": f"Rule {rule_id}", "severity": "high", **TEXT, **fields}


POLICY = PolicyFile.model_validate(
    {
        "policy": {
            "id": "test-policy",
            "version": "1",
            "title": "Test policy",
            "owner": "Security office",
            "review_by": "2027-01-01",
            "thresholds": {
                "min_length": {"value": 12, "source": "policy default"},
                "max_age": {"value": 90, "source": "policy default"},
            },
        },
        "rules": [
            rule("MFA.ENABLED.1v1", condition={"field": "mfa.enabled", "op": "eq", "value": True}),
            rule(
                "MFA.GRAPH.1v1",
                applies_to={"platforms": ["microsoft365"]},
                condition={"field": "mfa.enforced", "op": "eq", "value": True},
            ),
            rule(
                "CRED.LENGTH.1v1",
                condition={"field": "credential.min_length", "op": "ge", "threshold": "min_length"},
                thresholds={"min_length": {"value": 15, "source": "NIST SP 800-63B-4"}},
            ),
            rule(
                "CRED.BREACH.1v1",
                condition={
                    "field": "credential.breach_checked_at",
                    "op": "le",
                    "value_type": "age_days",
                    "threshold": "max_age",
                },
            ),
            rule("MFA.TURNEDOFF.1v1", check="mfa_not_turned_off"),
        ],
    }
)


def make_facts(values: dict[str, Any] | None = None, **groups: Provenance | None) -> AccountFacts:
    """An active X mission account, every group attested 12 days ago unless overridden."""
    recorded: dict[Group, Provenance | None] = dict.fromkeys(Group, ATTESTED)
    recorded.update({Group(name): prov for name, prov in groups.items()})
    base = {
        **dict.fromkeys(FIELDS),
        "account.platform": "x",
        "account.tier": "mission",
        "account.kind": "institutional",
        "account.status": "active",
        "account.handle": "emb_paris",
    }
    return AccountFacts(uuid.uuid4(), uuid.uuid4(), {**base, **(values or {})}, recorded)


GOOD = {
    "mfa.enabled": True,
    "mfa.enforced": True,
    "credential.min_length": 16,
    "credential.breach_checked_at": NOW - timedelta(days=10),
}


def statuses(results: list[Any]) -> dict[str, ResultStatus]:
    return {r.rule_id: r.status for r in results}


def test_one_result_per_rule_in_file_order_with_not_applicable() -> None:
    policy = CompiledPolicy.build(POLICY)

    results = policy.evaluate(make_facts(GOOD), now=NOW)

    assert [r.rule_id for r in results] == list(policy.rule_ids)
    assert policy.rule_ids == tuple(r.id for r in POLICY.rules)
    assert set(policy.rules) == set(policy.rule_ids)
    graph = results[1]
    assert graph.status is ResultStatus.NOT_APPLICABLE
    assert graph.reason == "Does not apply to X mission accounts"
    assert graph.fields == ("account.platform",)
    assert [r.status for r in results if r.rule_id != "MFA.GRAPH.1v1"] == [ResultStatus.PASS] * 4


def test_closed_accounts_are_not_applicable_by_default() -> None:
    policy = CompiledPolicy.build(POLICY)

    results = policy.evaluate(make_facts({**GOOD, "account.status": "closed"}), now=NOW)

    assert {r.status for r in results} == {ResultStatus.NOT_APPLICABLE}
    assert results[0].reason == "Does not apply to closed X mission accounts"


def test_rule_thresholds_win_over_the_policys() -> None:
    policy = CompiledPolicy.build(POLICY)

    [result] = [
        r
        for r in policy.evaluate(make_facts({**GOOD, "credential.min_length": 13}), now=NOW)
        if r.rule_id == "CRED.LENGTH.1v1"
    ]

    assert result.status is ResultStatus.FAIL
    assert result.reason == (
        "Minimum password length is 13, expected at least 15 (attested 12 days ago)"
    )


def test_policy_thresholds_apply_when_the_rule_has_none() -> None:
    policy = CompiledPolicy.build(POLICY)
    stale = make_facts({**GOOD, "credential.breach_checked_at": NOW - timedelta(days=91)})

    result = statuses(policy.evaluate(stale, now=NOW))

    assert result["CRED.BREACH.1v1"] is ResultStatus.FAIL


def test_missing_data_never_passes_and_errors_keep_their_reason() -> None:
    policy = CompiledPolicy.build(POLICY)
    refused = Provenance("api:microsoft_graph", None, None, "error", "Authorization_RequestDenied")

    results = policy.evaluate(make_facts(GOOD, mfa=refused, credential=None), now=NOW)

    found = {r.rule_id: r for r in results}
    assert found["MFA.ENABLED.1v1"].status is ResultStatus.ERROR
    assert found["MFA.ENABLED.1v1"].reason == "Microsoft Graph refused: Authorization_RequestDenied"
    assert found["CRED.LENGTH.1v1"].status is ResultStatus.MANUAL
    assert found["CRED.LENGTH.1v1"].reason == "Password facts were never recorded"
    assert found["MFA.TURNEDOFF.1v1"].status is ResultStatus.ERROR


def test_a_check_compares_with_the_previous_snapshot_and_adds_details() -> None:
    policy = CompiledPolicy.build(POLICY)
    before = make_facts(GOOD)
    previous = PreviousState(
        statuses=statuses(policy.evaluate(before, now=NOW - timedelta(days=1))),
        snapshot=snapshot(before, NOW - timedelta(days=1)),
    )

    results = policy.evaluate(
        make_facts({**GOOD, "mfa.enabled": False}), now=NOW, previous=previous
    )

    turned_off = results[-1]
    assert turned_off.status is ResultStatus.FAIL
    assert turned_off.reason.startswith("MFA was turned off")
    assert turned_off.details["previous_mfa_enabled"] is True
    assert turned_off.fields == ("mfa.enabled",)


def test_passes_can_go_unexplained_while_failures_keep_their_sentence() -> None:
    policy = CompiledPolicy.build(POLICY)
    facts = make_facts({**GOOD, "credential.min_length": 8})

    quick = policy.evaluate(facts, now=NOW, explain_passes=False)
    full = policy.evaluate(facts, now=NOW)

    assert [r.status for r in quick] == [r.status for r in full]
    assert quick[0].reason == "Meets: MFA is enabled"
    assert full[0].reason == "MFA is enabled (attested 12 days ago)"
    assert quick[2] == full[2]  # the failure is explained either way
    assert policy.explain("MFA.ENABLED.1v1", facts, now=NOW) == full[0]
    assert policy.fields_of("CRED.BREACH.1v1") == ("credential.breach_checked_at",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"check": "no_such_check"}, "rule MFA.ENABLED.1v1: unknown check 'no_such_check'"),
        ({"condition": {"field": "mfa.nope", "op": "eq", "value": True}}, "unknown field"),
        ({"condition": {"field": "mfa.enabled", "op": "eq", "threshold": "t"}}, "'t' is not"),
    ],
)
def test_a_rule_that_cannot_run_is_refused_naming_it(change: dict[str, Any], message: str) -> None:
    data = POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["rules"][0].pop("condition")
    data["rules"][0].update(change)

    with pytest.raises(ValueError, match=message):
        CompiledPolicy.build(PolicyFile.model_validate(data))


def test_snapshot_is_json_and_keeps_every_fact_with_its_provenance() -> None:
    left = NOW - timedelta(days=40)
    facts = make_facts(
        {
            **GOOD,
            "admins": [{"label": "Cleo", "named": True, "person_status": "left", "left_at": left}],
        },
        owner=None,
    )

    stored = json.loads(json.dumps(snapshot(facts, NOW)))
    previous = PreviousState({}, stored)

    set_values = {name for name, value in facts.values.items() if value is not None}
    assert set(stored["values"]) == set_values  # the rest reads back as None
    assert all(previous.value(name) is None for name in set(FIELDS) - set_values)
    assert previous.value("mfa.enabled") is True
    assert (
        previous.value("credential.breach_checked_at")
        == GOOD["credential.breach_checked_at"].isoformat()
    )
    assert previous.value("admins")[0]["left_at"] == left.isoformat()
    assert previous.provenance(Group.OWNER) is None
    attested = {
        "source": "attested",
        "observed_at": ATTESTED.observed_at.isoformat() if ATTESTED.observed_at else None,
        "attested_by": str(OFFICER),
        "status": "ok",
        "reason": None,
    }
    assert stored["groups"]["account"] == attested  # written once, under the first group
    assert stored["groups"]["mfa"] == "account"  # recorded together: the group is named
    assert all(previous.provenance(g) == attested for g in Group if g is not Group.OWNER)


def test_snapshot_keeps_groups_recorded_apart_apart() -> None:
    synced = Provenance("api:microsoft_graph", NOW - timedelta(days=1), None)
    facts = make_facts(GOOD, mfa=synced)

    stored = snapshot(facts, NOW)

    assert PreviousState({}, stored).provenance(Group.MFA)["source"] == "api:microsoft_graph"
    assert PreviousState({}, stored).provenance(Group.RECOVERY)["source"] == "attested"
    fields = ["mfa.enabled", "credential.min_length"]
    assert evidence_from_snapshot(stored, fields, NOW) == evidence(facts, fields, NOW)


def test_snapshot_of_unchanged_facts_reads_the_same_a_day_later() -> None:
    facts = make_facts(GOOD)

    today, tomorrow = snapshot(facts, NOW), snapshot(facts, NOW + timedelta(days=1))

    assert today == tomorrow  # ages are worked out when read, not stored
    later = evidence_from_snapshot(tomorrow, ["mfa.enabled"], NOW + timedelta(days=1))
    assert later["mfa.enabled"]["provenance"]["age_days"] == 13


def test_evidence_gives_each_deciding_value_with_source_and_age() -> None:
    facts = make_facts(GOOD, recovery=None)
    fields = ["mfa.enabled", "recovery.carrier_lock"]

    found = evidence(facts, fields, NOW)

    assert found["mfa.enabled"]["value"] is True
    assert found["mfa.enabled"]["group"] == "mfa"
    assert found["mfa.enabled"]["provenance"]["source"] == "attested"
    assert found["mfa.enabled"]["provenance"]["age_days"] == 12
    assert found["recovery.carrier_lock"] == {
        "value": None,
        "group": "recovery",
        "provenance": None,
    }
    assert evidence_from_snapshot(snapshot(facts, NOW), fields, NOW) == found


def _baseline() -> PolicyFile:
    return PolicyFile.model_validate(yaml.safe_load(BASELINE.read_text(encoding="utf-8")))


@pytest.mark.parametrize("platform", ["x", "facebook", "microsoft365", "google_workspace"])
@pytest.mark.parametrize("tier", ["minister", "mission", "service"])
def test_an_account_with_nothing_recorded_passes_no_baseline_rule(platform: str, tier: str) -> None:
    policy = CompiledPolicy.build(_baseline())
    nothing = {g: None for g in Group if g is not Group.ACCOUNT}
    facts = make_facts(
        {"account.platform": platform, "account.tier": tier},
        **{g.value: p for g, p in nothing.items()},
    )

    for explain_passes in (True, False):
        results = policy.evaluate(facts, now=NOW, explain_passes=explain_passes)
        assert len(results) == len(policy.rule_ids) >= 25
        assert not [r.rule_id for r in results if r.status is ResultStatus.PASS]
        assert all(r.reason for r in results)


def _alike_accounts(count: int, seed: int) -> list[AccountFacts]:
    """Accounts drawn from a few values and a few shared provenance objects, as imports and
    attestation rounds leave them: many are decided alike, some not."""
    rng = random.Random(seed)
    provenances = [
        ATTESTED,
        Provenance("api:microsoft_graph", NOW - timedelta(days=2), None),
        Provenance("api:microsoft_graph", None, None, "error", "Authorization_RequestDenied"),
        None,
    ]
    admins = [
        [],
        [{"label": "Ada", "named": True, "person_status": "active", "left_at": None,
          "affiliation": "ministry", "email_domain": "mfa.example",
          "last_sign_in_at": NOW - timedelta(days=3), "platform_role": "admin"}],
        [{"label": "Bob", "named": False, "person_status": None, "left_at": None,
          "affiliation": "agency", "email_domain": "agency.example", "last_sign_in_at": None,
          "platform_role": "Global Administrator"}],
    ]  # fmt: skip
    accounts = []
    for _ in range(count):
        values = {
            "account.platform": rng.choice(["x", "facebook", "microsoft365"]),
            "account.tier": rng.choice(["minister", "mission", "service"]),
            "account.owner": rng.choice([None, "Ada"]),
            "mfa.enabled": rng.choice([True, False, None]),
            "mfa.enforced": rng.choice([True, False]),
            "mfa.strengths": rng.choice([[], ["sms"], ["phishing_resistant", "totp"]]),
            "mfa.strongest": rng.choice(["none", "sms", "phishing_resistant"]),
            "credential.min_length": rng.choice([None, 8, 16]),
            "credential.breach_checked_at": rng.choice([None, NOW - timedelta(days=400)]),
            "recovery.email_domain": rng.choice([None, "mfa.example", "gmail.com"]),
            "admins": [dict(a) for a in rng.choice(admins)],  # equal records, other objects
        }
        groups = {g.value: rng.choice(provenances) for g in Group if g is not Group.ACCOUNT}
        accounts.append(make_facts(values, **groups))
    return accounts


def test_verdicts_remembered_for_accounts_decided_alike_are_their_own() -> None:
    policy = CompiledPolicy.build(_baseline())
    accounts = _alike_accounts(400, seed=7)

    for facts in accounts:
        explained = [policy.explain(rule_id, facts, now=NOW) for rule_id in policy.rule_ids]
        quick = policy.evaluate(facts, now=NOW, explain_passes=False)
        full = policy.evaluate(facts, now=NOW)

        assert full == explained  # explain() never reads what was remembered
        assert [r.status for r in quick] == [r.status for r in explained]
        assert [q for q in quick if q.status is not ResultStatus.PASS] == [
            e for e in explained if e.status is not ResultStatus.PASS
        ]


def test_a_memo_that_keeps_missing_turns_itself_off_and_one_that_hits_does_not() -> None:
    facts = make_facts(GOOD)
    missing: Memo[str] = Memo(lambda f: next(counter), (Group.MFA,))
    hitting: Memo[str] = Memo(lambda f: "same", (Group.MFA,))
    counter = iter(range(10 * MEMO_ENTRIES))

    for _ in range(MEMO_ENTRIES + 1):
        key, found = missing.find(facts)
        missing.keep(key, facts, "verdict")
        key, found = hitting.find(facts)
        if found is None:
            hitting.keep(key, facts, "verdict")

    assert not missing.enabled
    assert hitting.enabled
    assert hitting.find(facts) == ("same", "verdict")
