"""The shipped baseline as a whole: it loads, every rule is tested, unknown facts never pass."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from secops.accounts.io.demo import dataset
from secops.accounts.models import AccountTier, Platform
from secops.policy.evaluator import CompiledPolicy
from secops.policy.fields import Group
from secops.policy.loader import check_paths, inspect_paths, load_file
from secops.policy.outcomes import ResultStatus
from tests.policy.rules import (
    test_account_rules,
    test_admin_rules,
    test_credential_rules,
    test_mfa_rules,
    test_recovery_rules,
)
from tests.policy.rules.conftest import (
    BASELINE,
    MANUAL,
    NOT_APPLICABLE,
    NOW,
    PASS,
    build_facts,
    evaluate_all,
    mailbox_facts,
)

ALL_CASES = [
    *test_mfa_rules.CASES,
    *test_credential_rules.CASES,
    *test_recovery_rules.CASES,
    *test_admin_rules.CASES,
    *test_account_rules.CASES,
]
STEP = re.compile(r"^(\d+)\. \S")


def test_baseline_loads_without_problems_or_warnings() -> None:
    assert check_paths([BASELINE], today=NOW.date()) == []
    report = inspect_paths([BASELINE], today=NOW.date())
    assert report.warnings == ()
    loaded = load_file(BASELINE, today=NOW.date())
    assert loaded.id == "ministry-baseline"
    assert len(loaded.sha256) == 64


def test_baseline_ships_at_least_27_rules(baseline: CompiledPolicy) -> None:
    assert len(baseline.rule_ids) >= 27
    assert len(set(baseline.rule_ids)) == len(baseline.rule_ids)


def test_every_rule_has_pass_fail_and_unknown_cases() -> None:
    seen: dict[str, set[ResultStatus]] = defaultdict(set)
    for case in ALL_CASES:
        seen[case.rule].add(case.expected)
    rule_ids = [rule.id for rule in load_file(BASELINE, today=NOW.date()).spec.rules]
    assert set(seen) == set(rule_ids), "a case names a rule the baseline lacks, or the reverse"
    for rule_id in rule_ids:
        statuses = seen[rule_id]
        assert {ResultStatus.PASS, ResultStatus.FAIL} <= statuses, rule_id
        assert statuses & {ResultStatus.MANUAL, ResultStatus.ERROR}, rule_id


def test_every_rule_explains_itself_in_numbered_steps(baseline: CompiledPolicy) -> None:
    for rule in baseline.spec.rules:
        steps = [
            int(m.group(1)) for line in rule.remediation.splitlines() if (m := STEP.match(line))
        ]
        assert steps == list(range(1, len(steps) + 1)), rule.id
        assert len(steps) >= 2, rule.id
        assert rule.references, rule.id
        assert rule.compliance, rule.id


def test_ministry_domains_cover_the_demo_ministry_staff(baseline: CompiledPolicy) -> None:
    domains = baseline.spec.policy.thresholds["ministry_domains"].value
    assert isinstance(domains, list)
    staff = {person["email"].rsplit("@", 1)[1] for person in dataset(NOW)["people"]}
    assert staff <= set(domains)


@pytest.mark.parametrize(
    ("platform", "tier"),
    [
        ("x", "minister"),
        ("facebook", "mission"),
        ("linkedin", "ministry_main"),
        ("microsoft365", "service"),
        ("google_workspace", "head_of_mission"),
        ("zoom", "staff"),
        ("telegram", "mission"),
    ],
)
def test_compliant_account_passes_every_rule_that_applies(
    baseline: CompiledPolicy, platform: str, tier: str
) -> None:
    changes = {"account.platform": platform, "account.tier": tier}
    if platform in ("facebook", "linkedin", "youtube"):
        changes["credential.holders"] = []  # managers there have named roles
    results = evaluate_all(
        baseline, build_facts(changes), previous=build_facts(changes), known=[mailbox_facts()]
    )
    assert list(results) == list(baseline.rule_ids)
    wrong = {rid: r.reason for rid, r in results.items() if r.status not in (PASS, NOT_APPLICABLE)}
    assert wrong == {}


def test_closed_accounts_are_out_of_scope(baseline: CompiledPolicy) -> None:
    facts = build_facts({"account.status": "closed", "mfa.enabled": False})
    results = evaluate_all(baseline, facts)
    assert {r.status for r in results.values()} == {NOT_APPLICABLE}


def test_rules_limited_to_platforms_skip_the_others(baseline: CompiledPolicy) -> None:
    for rule in baseline.spec.rules:
        if not rule.applies_to.platforms:
            continue
        outside = next(p for p in Platform if p not in rule.applies_to.platforms)
        tier = rule.applies_to.tiers[0] if rule.applies_to.tiers else AccountTier.MISSION
        facts = build_facts({"account.platform": outside.value, "account.tier": tier.value})
        result = evaluate_all(baseline, facts)[rule.id]
        assert result.status is NOT_APPLICABLE, (rule.id, outside)


def test_rules_limited_to_tiers_skip_the_others(baseline: CompiledPolicy) -> None:
    for rule in baseline.spec.rules:
        if not rule.applies_to.tiers:
            continue
        outside = next(t for t in AccountTier if t not in rule.applies_to.tiers)
        platform = rule.applies_to.platforms[0] if rule.applies_to.platforms else Platform.X
        facts = build_facts({"account.platform": platform.value, "account.tier": outside.value})
        result = evaluate_all(baseline, facts)[rule.id]
        assert result.status is NOT_APPLICABLE, (rule.id, outside)


def test_facts_never_recorded_never_pass(baseline: CompiledPolicy) -> None:
    """With only the inventory row known, a rule passes only on the account's own facts."""
    unrecorded = [group for group in Group if group is not Group.ACCOUNT]
    facts = build_facts(never=unrecorded, recovery_mailbox=None)
    results = evaluate_all(baseline, facts, previous=build_facts())
    for rule_id, result in results.items():
        if result.status is PASS:
            assert all(name.startswith("account.") for name in result.fields), rule_id
            assert result.fields, rule_id
    unknown = [rid for rid, r in results.items() if r.status is MANUAL]
    assert "MFA.ENABLED.1v1" in unknown
    assert "MFA.TURNEDOFF.1v1" in unknown
