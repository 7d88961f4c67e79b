"""What the shape of a policy cannot say: fields, operators, values and thresholds that fit.

Each bad input of the issue (unknown field, wrong operator for a type, threshold of the wrong
type, duplicate rule id) is refused with the file, the line and the rule id, and nothing loads.
"""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from secops.policy.checks import CHECKS
from secops.policy.conditions import compile_condition
from secops.policy.facts import AccountFacts
from secops.policy.fields import FIELDS, FieldType
from secops.policy.loader import PolicyInvalid, PolicyProblem, inspect_paths, load_file
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import Op, PolicyFile
from secops.policy.validation import OPS_BY_TYPE, validate_policy

DATA = Path(__file__).parent / "data"

HEADER = """\
policy:
  id: test-policy
  version: "1"
  title: Test policy
  owner: Security office
  review_by: 2099-01-01
  thresholds:
    ministry_domains: {value: [mfa.example, diplo.example], source: Ministry directive}
rules:
"""
RULE_LINE = 10  # the "- id:" line of the first rule


def rule(condition: str = "", *, rule_id: str = "MFA.TEST.1v1", more: str = "") -> str:
    """A rule of the ``rules`` list: five fixed lines, then ``more`` lines, then ``condition``."""
    lines = [
        f"  - id: {rule_id}",
        "    title: A test rule",
        "    severity: high",
        "    rationale: Because it matters.",
        "    remediation: Fix the account.",
        *(f"    {line}" for line in more.splitlines()),
    ]
    if condition:
        lines.append(f"    condition: {condition}")
    return "\n".join(lines) + "\n"


def policy(*rules: str) -> str:
    return HEADER + "".join(rules)


def problems(tmp_path: Path, text: str) -> list[PolicyProblem]:
    """The problems of a file; proves nothing loaded (load_file raises)."""
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyInvalid) as caught:
        load_file(path, today=date(2026, 1, 15))
    assert all(p.path == str(path) for p in caught.value.problems)
    return list(caught.value.problems)


def one_problem(tmp_path: Path, text: str) -> PolicyProblem:
    (problem,) = problems(tmp_path, text)
    return problem


def loads(tmp_path: Path, text: str) -> PolicyFile:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file(path, today=date(2026, 1, 15)).spec


def test_rule_helper_writes_the_rule_where_the_tests_expect_it(tmp_path: Path) -> None:
    spec = loads(tmp_path, policy(rule("{field: mfa.enabled, op: eq, value: true}")))

    assert spec.rules[0].id == "MFA.TEST.1v1"
    text = policy(rule("{field: mfa.enabled, op: eq, value: true}"))
    assert text.splitlines()[RULE_LINE - 1] == "  - id: MFA.TEST.1v1"
    assert (
        text.splitlines()[RULE_LINE + 4]
        == "    condition: {field: mfa.enabled, op: eq, value: true}"
    )


def test_unknown_field_is_refused_naming_file_line_rule_and_the_close_name(
    tmp_path: Path,
) -> None:
    problem = one_problem(tmp_path, policy(rule("{field: mfa.enabeld, op: eq, value: true}")))

    assert (problem.line, problem.rule_id) == (RULE_LINE + 5, "MFA.TEST.1v1")
    assert problem.message == (
        "condition.field: unknown field 'mfa.enabeld' (did you mean 'mfa.enabled' or "
        "'mfa.enforced'?)"
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            "{field: mfa.enabled, op: lt, value: 1}",
            "condition.op: operator 'lt' does not apply to mfa.enabled (true/false); use one "
            "of: eq, ne, is_set, is_not_set",
        ),
        (
            "{field: mfa.methods, op: eq, value: sms}",
            "condition.op: operator 'eq' does not apply to mfa.methods (a list of text values); "
            "use one of: contains, not_contains, contains_any, contains_none, subset_of, "
            "is_set, is_not_set",
        ),
        (
            "{field: account.tier, op: contains, value: minister}",
            "condition.op: operator 'contains' does not apply to account.tier (one of a fixed "
            "set of values); use one of: eq, ne, in, not_in, is_set, is_not_set",
        ),
        (
            "{field: account.last_activity_at, op: gt, value: 90}",
            "condition.op: 'account.last_activity_at' is a date and time: compare its age with "
            "'value_type: age_days', or test it with is_set / is_not_set",
        ),
        (
            "{field: mfa.enabled, op: gt, value: 3, value_type: age_days}",
            "condition.value_type: value_type age_days needs a date and time field; "
            "'mfa.enabled' is true/false",
        ),
        (
            "{field: account.handle, op: ge, value: 3, value_type: count}",
            "condition.value_type: value_type count needs a list field; 'account.handle' is text",
        ),
        (
            "{field: recovery.phone_set, op: is_set, value: true}",
            "condition: 'is_set' takes no value, threshold or value_type",
        ),
        (
            "{field: admins, op: eq, value: 2}",
            "condition.field: 'admins' is a collection of records: test it with a quantifier, "
            "e.g. {collection: admins, some: {field: ..., op: ..., value: ...}}",
        ),
    ],
    ids=[
        "lt-on-bool",
        "eq-on-list",
        "contains-on-enum",
        "raw-datetime",
        "age-on-bool",
        "count-on-string",
        "is-set-with-value",
        "collection-as-leaf",
    ],
)
def test_operator_that_does_not_suit_the_field_type_is_refused(
    tmp_path: Path, condition: str, expected: str
) -> None:
    problem = one_problem(tmp_path, policy(rule(condition)))

    assert (problem.line, problem.rule_id, problem.message) == (
        RULE_LINE + 5,
        "MFA.TEST.1v1",
        expected,
    )


@pytest.mark.parametrize(
    ("threshold", "condition", "expected"),
    [
        (
            "{value: '90', source: CIS Controls v8}",
            "{field: account.last_activity_at, op: le, threshold: limit, value_type: age_days}",
            "condition.threshold: threshold 'limit' is a string ('90'), but 'le' on "
            "account.last_activity_at (its age in days) needs a number",
        ),
        (
            "{value: mfa.example, source: Ministry directive}",
            "{field: recovery.email_domain, op: in, threshold: limit}",
            "condition.threshold: threshold 'limit' is a string ('mfa.example'), but 'in' on "
            "recovery.email_domain (text) needs a non-empty list of strings",
        ),
        (
            "{value: true, source: GSA toolkit}",
            "{collection: admins, count: {op: ge, threshold: limit}}",
            "condition.count.threshold: threshold 'limit' is true/false (true), but a count "
            "compares with a whole number of records (0 or more)",
        ),
        (
            "{value: -1, source: GSA toolkit}",
            "{collection: admins, count: {op: ge, threshold: limit}}",
            "condition.count.threshold: threshold 'limit' is a number (-1), but a count "
            "compares with a whole number of records (0 or more)",
        ),
        (
            "{value: [fido2], source: NIST SP 800-63B-4}",
            "{field: mfa.strengths, op: contains_any, threshold: limit}",
            "condition.threshold: threshold 'limit': 'fido2' is not a value of mfa.strengths; "
            "use one of: phishing_resistant, app_push, totp, phone_email, none, unknown",
        ),
    ],
    ids=["string-for-age", "string-for-in", "bool-for-count", "negative-count", "bad-choice"],
)
def test_threshold_of_the_wrong_type_is_refused(
    tmp_path: Path, threshold: str, condition: str, expected: str
) -> None:
    more = f"thresholds:\n  limit: {threshold}\n"
    problem = one_problem(tmp_path, policy(rule(condition, more=more)))

    assert (problem.line, problem.rule_id, problem.message) == (
        RULE_LINE + 7,
        "MFA.TEST.1v1",
        expected,
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            "{field: mfa.enabled, op: eq, value: 'yes'}",
            "condition.value: the value is a string ('yes'), but 'eq' on mfa.enabled "
            "(true/false) needs true or false",
        ),
        (
            "{field: account.tier, op: in, value: [minister, king]}",
            "condition.value: 'king' is not a value of account.tier; use one of: minister, "
            "ministry_main, head_of_mission, mission, staff, service",
        ),
        (
            "{field: account.tier, op: eq, value: [minister]}",
            "condition.value: the value is a list of 1, but 'eq' on account.tier (one of a "
            "fixed set of values) needs a single value (a string), not a list",
        ),
        (
            "{field: account.tier, op: in, value: []}",
            "condition.value: the value is a list of 0, but 'in' on account.tier (one of a "
            "fixed set of values) needs a non-empty list of strings",
        ),
        (
            "{field: credential.min_length, op: ge, value: .nan}",
            "condition.value: the value is a number (nan), but 'ge' on credential.min_length "
            "(a number) needs a number",
        ),
        (
            "{field: credential.min_length, op: ge, value: true}",
            "condition.value: the value is true/false (true), but 'ge' on "
            "credential.min_length (a number) needs a number",
        ),
        (
            "{field: mfa.enabled, op: eq}",
            "condition: 'eq' needs exactly one of 'value' or 'threshold'",
        ),
        (
            "{field: recovery.email_domain, op: in, value: [a.example], "
            "threshold: ministry_domains}",
            "condition: 'in' needs exactly one of 'value' or 'threshold'",
        ),
        (
            "{field: recovery.email_domain, op: in, threshold: ministry_domain}",
            "condition.threshold: unknown threshold 'ministry_domain' (did you mean "
            "'ministry_domains'?)",
        ),
    ],
    ids=[
        "string-for-bool",
        "unknown-choice",
        "list-for-eq",
        "empty-list",
        "nan",
        "bool-number",
        "no-value",
        "value-and-threshold",
        "unknown-threshold",
    ],
)
def test_value_that_does_not_fit_the_comparison_is_refused(
    tmp_path: Path, condition: str, expected: str
) -> None:
    problem = one_problem(tmp_path, policy(rule(condition)))

    assert (problem.rule_id, problem.message) == ("MFA.TEST.1v1", expected)


def test_duplicate_rule_id_is_refused_naming_both_lines(tmp_path: Path) -> None:
    condition = "{field: mfa.enabled, op: eq, value: true}"
    text = policy(rule(condition), rule(condition, rule_id="MFA.OTHER.1v1"), rule(condition))

    problem = one_problem(tmp_path, text)

    assert (problem.line, problem.rule_id) == (RULE_LINE + 12, "MFA.TEST.1v1")
    assert problem.message == (
        f"id: rule id MFA.TEST.1v1 is used by two rules (also at line {RULE_LINE})"
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            "{collection: admin, some: {field: named, op: eq, value: true}}",
            "condition.collection: unknown collection 'admin' (did you mean 'admins'?)",
        ),
        (
            "{collection: mfa.methods, some: {field: named, op: eq, value: true}}",
            "condition.collection: 'mfa.methods' is a list of text values, not a collection "
            "of records (collections: admins, apps, credential.holders)",
        ),
        (
            "{collection: admins}",
            "condition: a quantifier over 'admins' needs exactly one of every, some or count",
        ),
        (
            "{collection: admins, every: {field: named, op: eq, value: true}, "
            "some: {field: named, op: eq, value: true}}",
            "condition: a quantifier over 'admins' needs exactly one of every, some or count",
        ),
        (
            "{collection: admins, every: {field: named, op: eq, value: true}, "
            "where: {field: named, op: eq, value: true}}",
            "condition.where: 'where' selects the records to count: use it with 'count' only",
        ),
        (
            "{collection: admins, count: {op: ge}}",
            "condition.count: a count needs exactly one of 'value' or 'threshold'",
        ),
        (
            "{collection: admins, count: {op: ge, value: true}}",
            "condition.count.value: must be a whole number",
        ),
        (
            "{collection: admins, some: {field: nmed, op: eq, value: true}}",
            "condition.some.field: unknown field 'nmed' in admins records (did you mean 'named'?)",
        ),
        (
            "{collection: admins, some: {field: admins.named, op: eq, value: true}}",
            "condition.some.field: inside a quantifier over 'admins', name the record's own "
            "fields without the prefix: write 'named'",
        ),
        (
            "{collection: admins, some: {field: mfa.enabled, op: eq, value: true}}",
            "condition.some.field: unknown field 'mfa.enabled' in admins records",
        ),
        (
            "{collection: admins, some: {collection: apps, some: {field: name, op: is_set}}}",
            "condition.some.collection: quantifiers cannot nest inside 'admins' records",
        ),
        (
            "{field: admins.named, op: eq, value: true}",
            "condition.field: 'admins' is a collection of records: test 'named' inside a "
            "quantifier, e.g. {collection: admins, some: {field: named, ...}}",
        ),
        (
            "{collection: credential.holders, every: {field: left_at, op: lt, value: 30}}",
            "condition.every.op: 'left_at' is a date and time: compare its age with "
            "'value_type: age_days', or test it with is_set / is_not_set",
        ),
    ],
    ids=[
        "unknown",
        "not-records",
        "no-mode",
        "two-modes",
        "where-without-count",
        "count-empty",
        "count-of-true",
        "inner-typo",
        "prefixed",
        "outer-field",
        "nested",
        "leaf-on-record",
        "inner-type",
    ],
)
def test_quantifier_mistakes_are_refused(tmp_path: Path, condition: str, expected: str) -> None:
    problem = one_problem(tmp_path, policy(rule(condition)))

    assert (problem.rule_id, problem.message) == ("MFA.TEST.1v1", expected)


def test_conditions_nested_in_all_any_not_are_checked_with_their_path(tmp_path: Path) -> None:
    condition = """
      all:
        - {field: mfa.enabled, op: eq, value: true}
        - any:
            - {field: mfa.enforced, op: eq, value: true}
            - not: {field: mfa.strongest, op: eq, value: strong}
    """
    text = policy(rule(more="condition:" + textwrap.indent(textwrap.dedent(condition), "  ")))

    problem = one_problem(tmp_path, text)

    assert problem.line == RULE_LINE + 10
    assert problem.message.startswith(
        "condition.all[1].any[1].not.value: 'strong' is not a value of mfa.strongest"
    )


def test_rule_needs_exactly_one_of_condition_or_check(tmp_path: Path) -> None:
    check = next(name for name, c in sorted(CHECKS.items()) if not c.metadata.thresholds)
    both = rule("{field: mfa.enabled, op: eq, value: true}", more=f"check: {check}\n")
    neither = rule(rule_id="MFA.NONE.1v1")

    found = problems(tmp_path, policy(both, neither))

    message = "a rule needs exactly one of 'condition' (data) or 'check' (a check module's name)"
    assert [(p.line, p.rule_id, p.message) for p in found] == [
        (RULE_LINE, "MFA.TEST.1v1", message),
        (RULE_LINE + 7, "MFA.NONE.1v1", message),
    ]


def test_rule_may_name_every_registered_check(tmp_path: Path) -> None:
    rules = []
    for index, (name, check) in enumerate(sorted(CHECKS.items())):
        thresholds = "".join(
            f"  {t}: {{value: 1, source: test}}\n" for t in check.metadata.thresholds
        )
        more = f"check: {name}\n" + (f"thresholds:\n{thresholds}" if thresholds else "")
        rules.append(rule(rule_id=f"CHECK.C{index}.1v1", more=more))

    spec = loads(tmp_path, policy(*rules))

    assert [r.check for r in spec.rules] == sorted(CHECKS)


def test_unknown_check_is_refused_with_the_close_name(tmp_path: Path) -> None:
    name = sorted(CHECKS)[0]

    problem = one_problem(tmp_path, policy(rule(more=f"check: {name}x\n")))

    assert (problem.line, problem.rule_id) == (RULE_LINE + 5, "MFA.TEST.1v1")
    assert problem.message == f"check: unknown check '{name}x' (did you mean '{name}'?)"


def test_check_missing_a_threshold_it_reads_is_refused() -> None:
    spec = PolicyFile.model_validate(
        {
            "policy": {"id": "p-one", "version": "1", "title": "Pol", "owner": "me",
                       "review_by": "2099-01-01"},
            "rules": [{"id": "CRED.ROTATE.1v1", "title": "Rotated", "severity": "high",
                       "check": "rotated", "rationale": "r" * 10, "remediation": "m" * 10}],
        }
    )  # fmt: skip

    checked = validate_policy(spec, today=date(2026, 1, 1), checks={"rotated": ("grace_days",)})

    (issue,) = checked.errors
    assert issue.loc == ("rules", 0, "check")
    assert issue.message == (
        "check 'rotated' needs the threshold 'grace_days': define it in the rule's or the "
        "policy's thresholds"
    )


def test_every_problem_in_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    text = policy(
        rule("{field: mfa.enabeld, op: eq, value: true}", rule_id="MFA.A.1v1"),
        rule("{field: mfa.enabled, op: gt, value: 1}", rule_id="MFA.B.1v1"),
        rule("{field: account.tier, op: eq, value: king}", rule_id="MFA.C.1v1"),
    )

    found = problems(tmp_path, text)

    assert [(p.line, p.rule_id) for p in found] == [
        (RULE_LINE + 5, "MFA.A.1v1"),
        (RULE_LINE + 11, "MFA.B.1v1"),
        (RULE_LINE + 17, "MFA.C.1v1"),
    ]


def test_passed_review_date_and_unused_thresholds_are_warnings_only(tmp_path: Path) -> None:
    text = policy(
        rule(
            "{field: mfa.enabled, op: eq, value: true}",
            more="thresholds:\n  spare: {value: 1, source: test}\n",
        )
    ).replace("2099-01-01", "2025-06-30")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")

    loaded = load_file(path, today=date(2026, 1, 15))

    assert [(w.line, w.rule_id, w.message) for w in loaded.warnings] == [
        (6, None, "policy.review_by: the review date 2025-06-30 has passed; review the policy "
                  "and set the next date"),
        (8, None, "policy.thresholds.ministry_domains: threshold 'ministry_domains' is not "
                  "used by any rule"),
        (RULE_LINE + 6, "MFA.TEST.1v1", "thresholds.spare: threshold 'spare' is not used"),
    ]  # fmt: skip
    assert inspect_paths([path], today=date(2026, 1, 15)).problems == ()


def test_rule_threshold_takes_precedence_over_the_policy_threshold(tmp_path: Path) -> None:
    condition = "{field: recovery.email_domain, op: in, threshold: ministry_domains}"
    more = "thresholds:\n  ministry_domains: {value: 12, source: test}\n"

    problem = one_problem(tmp_path, policy(rule(condition, more=more)))

    assert "threshold 'ministry_domains' is a number (12)" in problem.message


def test_good_fixture_uses_every_kind_of_condition_without_warnings() -> None:
    loaded = load_file(DATA / "good-policy.yaml", today=date(2026, 1, 15))

    assert loaded.warnings == ()
    conditions = [r.condition for r in loaded.spec.rules]
    kinds = {type(c).__name__ for c in conditions}
    assert kinds == {"Leaf", "AllOf", "AnyOf", "Quantifier"}


def test_every_field_has_operators_and_every_operator_suits_some_field() -> None:
    used = {op for spec in FIELDS.values() for op in OPS_BY_TYPE[spec.type]}
    scalar_types = {s.type for s in FIELDS.values()} - {FieldType.COLLECTION, FieldType.DATETIME}

    assert all(OPS_BY_TYPE[t] for t in scalar_types)
    assert used | {Op.IS_SET, Op.IS_NOT_SET} == set(Op)


_CANDIDATES: tuple[object, ...] = (
    True,
    3,
    2.5,
    "x",
    "totp",
    "active",
    [],
    ["totp"],
    ["x", 3],
    None,
)


def _leaf_variants() -> list[tuple[str | None, dict[str, object]]]:
    """Every field x operator x value type x candidate value, as (collection, leaf) pairs."""
    scoped = [(None, name, spec) for name, spec in FIELDS.items()]
    scoped += [
        (name, inner, element)
        for name, spec in FIELDS.items()
        for inner, element in spec.elements.items()
    ]
    variants = []
    for collection, name, _ in scoped:
        for op in Op:
            for value_type in (None, "age_days", "count"):
                for value in _CANDIDATES:
                    leaf: dict[str, object] = {"field": name, "op": op.value}
                    if value is not None:
                        leaf["value"] = value
                    if value_type is not None:
                        leaf["value_type"] = value_type
                    variants.append((collection, leaf))
    return variants


def test_every_condition_the_validator_accepts_compiles_and_never_passes_unknown_facts() -> None:
    header = {"id": "p-one", "version": "1", "title": "Pol", "owner": "me",
              "review_by": "2099-01-01"}  # fmt: skip
    facts = AccountFacts(account_id=uuid.uuid4(), mission_id=uuid.uuid4(), values={})
    accepted = refused = 0
    for collection, leaf in _leaf_variants():
        condition = leaf if collection is None else {"collection": collection, "some": leaf}
        rule = {"id": "MFA.T.1v1", "title": "A rule", "severity": "low",
                "rationale": "r" * 10, "remediation": "m" * 10, "condition": condition}  # fmt: skip
        try:
            spec = PolicyFile.model_validate({"policy": header, "rules": [rule]})
        except ValueError:
            continue  # the shape refused it (a float count, a value the union cannot hold)
        if validate_policy(spec, today=date(2026, 1, 1), checks={}).errors:
            refused += 1
            continue
        accepted += 1
        compiled_from = spec.rules[0].condition
        assert compiled_from is not None
        compiled = compile_condition(compiled_from, {})
        decision = compiled(facts, datetime(2026, 1, 1, tzinfo=UTC))
        assert decision.status is not ResultStatus.PASS, (collection, leaf)
    assert accepted > 100
    assert refused > accepted
