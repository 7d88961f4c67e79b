"""The condition interpreter: each operator, three-valued logic, reasons, and compile errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from secops.policy.conditions import Decision, compile_condition, compile_node, describe_condition
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import FIELDS, Group
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import Condition, Threshold

PASS, FAIL = ResultStatus.PASS, ResultStatus.FAIL
MANUAL, ERROR = ResultStatus.MANUAL, ResultStatus.ERROR
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
ATTESTED = Provenance("attested", NOW - timedelta(days=12), uuid.uuid4())
GRAPH = Provenance("api:microsoft_graph", NOW - timedelta(days=2), None)
REFUSED = Provenance("api:microsoft_graph", None, None, "error", "Authorization_RequestDenied")
MISSING = Provenance("api:google_workspace", None, None, "missing", "not exposed for this user")
_CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


def condition(data: dict[str, Any]) -> Condition:
    """A condition as the policy loader would build it."""
    return _CONDITION.validate_python(data)


def make_facts(
    values: dict[str, Any] | None = None, groups: dict[Group, Provenance | None] | None = None
) -> AccountFacts:
    """Every group recorded (attested 12 days ago) unless ``groups`` says otherwise."""
    recorded: dict[Group, Provenance | None] = dict.fromkeys(Group, ATTESTED)
    recorded[Group.ACCOUNT] = Provenance("inventory", NOW, None)
    recorded.update(groups or {})
    return AccountFacts(uuid.uuid4(), uuid.uuid4(), {**dict.fromkeys(FIELDS), **(values or {})},
                        recorded)  # fmt: skip


def decide(
    data: dict[str, Any], facts: AccountFacts, thresholds: dict[str, Any] | None = None
) -> Decision:
    """Compile ``data`` and apply it; the status-only closure must agree with the decision."""
    node = compile_node(condition(data), thresholds or {})
    decision = node.explain(facts, NOW)
    assert node.status(facts, NOW) is decision.status
    return decision


MFA_ON = {"field": "mfa.enabled", "op": "eq", "value": True}


def test_a_false_condition_fails_naming_the_fact_and_its_age() -> None:
    decision = decide(MFA_ON, make_facts({"mfa.enabled": False}))

    assert decision.status is FAIL
    assert decision.reason == "MFA is not enabled (attested 12 days ago)"
    assert decision.fields == ("mfa.enabled",)


def test_a_true_condition_passes_with_the_fact_and_its_source() -> None:
    decision = decide(MFA_ON, make_facts({"mfa.enabled": True}, {Group.MFA: GRAPH}))

    assert decision.status is PASS
    assert decision.reason == "MFA is enabled (read from Microsoft Graph 2 days ago)"


def test_a_group_never_recorded_is_manual() -> None:
    facts = make_facts({"recovery.carrier_lock": True}, {Group.RECOVERY: None})

    decision = decide({"field": "recovery.carrier_lock", "op": "eq", "value": True}, facts)

    assert decision.status is MANUAL
    assert decision.reason == "Recovery facts were never recorded"


def test_a_refused_source_is_an_error_with_its_reason_even_with_a_stale_value() -> None:
    facts = make_facts({"mfa.enabled": True}, {Group.MFA: REFUSED})

    decision = decide(MFA_ON, facts)

    assert decision.status is ERROR
    assert decision.reason == "Microsoft Graph refused: Authorization_RequestDenied"
    assert decision.fields == ("mfa.enabled",)


def test_a_source_that_had_nothing_is_manual_with_its_reason() -> None:
    decision = decide(MFA_ON, make_facts({"mfa.enabled": True}, {Group.MFA: MISSING}))

    assert decision.status is MANUAL
    assert decision.reason == "MFA facts are missing: not exposed for this user"


def test_an_unset_field_is_manual_but_is_set_decides_on_it() -> None:
    facts = make_facts({"mfa.enforced": None, "account.owner": None})

    enforced = decide({"field": "mfa.enforced", "op": "eq", "value": True}, facts)
    owner_set = decide({"field": "account.owner", "op": "is_set"}, facts)
    owner_unset = decide({"field": "account.owner", "op": "is_not_set"}, facts)

    assert (enforced.status, enforced.reason) == (
        MANUAL,
        "Whether MFA is enforced was not recorded",
    )
    assert (owner_set.status, owner_set.reason) == (FAIL, "Owner is not set")
    assert owner_unset.status is PASS


@pytest.mark.parametrize(
    ("field", "op", "operand", "value", "expected"),
    [
        ("credential.storage", "eq", "vault", "vault", PASS),
        ("credential.storage", "eq", "vault", "chat", FAIL),
        ("credential.storage", "ne", "chat", "vault", PASS),
        ("credential.storage", "ne", "chat", "chat", FAIL),
        ("recovery.email_domain", "in", ["a.example", "b.example"], "b.example", PASS),
        ("recovery.email_domain", "in", ["a.example"], "gmail.com", FAIL),
        ("recovery.email_domain", "not_in", ["gmail.com"], "a.example", PASS),
        ("recovery.email_domain", "not_in", ["gmail.com"], "gmail.com", FAIL),
        ("credential.min_length", "lt", 15, 14, PASS),
        ("credential.min_length", "lt", 15, 15, FAIL),
        ("credential.min_length", "le", 15, 15, PASS),
        ("credential.min_length", "gt", 15, 15, FAIL),
        ("credential.min_length", "ge", 15, 15, PASS),
        ("credential.min_length", "ge", 15, 14, FAIL),
        ("mfa.methods", "contains", "fido2", ["sms", "fido2"], PASS),
        ("mfa.methods", "contains", "fido2", ["sms"], FAIL),
        ("mfa.methods", "not_contains", "sms", ["fido2"], PASS),
        ("mfa.methods", "not_contains", "sms", ["sms"], FAIL),
        ("mfa.strengths", "contains_any", ["phishing_resistant"], ["totp"], FAIL),
        ("mfa.strengths", "contains_any", ["phishing_resistant"], ["phishing_resistant"], PASS),
        ("mfa.methods", "contains_none", ["sms", "voice"], ["fido2"], PASS),
        ("mfa.methods", "contains_none", ["sms", "voice"], ["fido2", "voice"], FAIL),
        ("mfa.methods", "contains_none", ["sms"], [], PASS),
        ("mfa.strengths", "subset_of", ["phishing_resistant", "totp"], ["totp"], PASS),
        ("mfa.strengths", "subset_of", ["phishing_resistant"], ["totp"], FAIL),
        ("mfa.strengths", "subset_of", ["phishing_resistant"], [], PASS),
        ("mfa.methods", "is_set", None, [], FAIL),
        ("mfa.methods", "is_not_set", None, [], PASS),
        ("account.owner", "is_set", None, "Ada", PASS),
        ("recovery.carrier_lock", "eq", False, False, PASS),
        ("recovery.carrier_lock", "ne", False, False, FAIL),
    ],
)
def test_each_operator_compares_as_documented(
    field: str, op: str, operand: Any, value: Any, expected: ResultStatus
) -> None:
    leaf = {"field": field, "op": op} | ({} if operand is None else {"value": operand})

    assert decide(leaf, make_facts({field: value})).status is expected
    # ``not`` is the same comparison inverted, and unknown stays unknown.
    negated = decide({"not": leaf}, make_facts({field: value}))
    assert negated.status is (FAIL if expected is PASS else PASS)


def test_age_in_days_compares_whole_days_before_now() -> None:
    verified = {
        "field": "recovery.last_verified_at",
        "op": "le",
        "value_type": "age_days",
        "value": 180,
    }
    old = make_facts({"recovery.last_verified_at": NOW - timedelta(days=200, hours=3)})
    edge = make_facts({"recovery.last_verified_at": NOW - timedelta(days=180, hours=23)})

    decision = decide(verified, old)

    assert decision.status is FAIL
    assert decision.reason == (
        "Recovery details last verified 200 days ago, expected at most 180 days ago"
        " (attested 12 days ago)"
    )
    assert decide(verified, edge).status is PASS


def test_count_compares_the_length_of_a_list() -> None:
    at_least_one = {"field": "mfa.methods", "op": "ge", "value_type": "count", "value": 1}

    assert decide(at_least_one, make_facts({"mfa.methods": ["fido2"]})).status is PASS
    empty = decide(at_least_one, make_facts({"mfa.methods": []}))
    assert (empty.status, empty.reason) == (
        FAIL,
        "Registered MFA methods: 0, expected at least 1 (attested 12 days ago)",
    )


def test_threshold_replaces_the_value_and_may_be_a_threshold_object() -> None:
    leaf = {"field": "recovery.email_domain", "op": "in", "threshold": "ministry_domains"}
    facts = make_facts({"recovery.email_domain": "gmail.com"})
    as_object = {"ministry_domains": Threshold(value=["mfa.example"], source="ministry list")}

    decision = decide(leaf, facts, {"ministry_domains": ["mfa.example", "mission.example"]})

    assert decision.status is FAIL
    assert "expected one of mfa.example, mission.example" in decision.reason
    assert decide(leaf, make_facts({"recovery.email_domain": "mfa.example"}), as_object).known


def test_not_states_the_inverted_expectation() -> None:
    not_long = {"not": {"field": "credential.min_length", "op": "ge", "value": 15}}

    decision = decide(not_long, make_facts({"credential.min_length": 20}))

    assert decision.status is FAIL
    assert (
        decision.reason == "Minimum password length is 20, expected under 15 (attested 12 days ago)"
    )


def test_all_is_false_when_any_part_is_false_even_beside_unknown() -> None:
    facts = make_facts({"mfa.enabled": False, "recovery.carrier_lock": True}, {Group.APPS: None})
    rule = {
        "all": [
            MFA_ON,
            {"collection": "apps", "every": {"field": "allow_listed", "op": "eq", "value": True}},
        ]
    }

    decision = decide(rule, facts)

    assert decision.status is FAIL
    assert decision.fields == ("mfa.enabled",)


def test_all_is_error_over_manual_and_gives_both_reasons() -> None:
    facts = make_facts({}, {Group.MFA: REFUSED, Group.RECOVERY: None})
    rule = {"all": [{"field": "recovery.carrier_lock", "op": "eq", "value": True}, MFA_ON]}

    decision = decide(rule, facts)

    assert decision.status is ERROR
    assert decision.reason == (
        "Microsoft Graph refused: Authorization_RequestDenied; Recovery facts were never recorded"
    )
    assert set(decision.fields) == {"mfa.enabled", "recovery.carrier_lock"}


def test_any_is_true_when_one_part_is_true_even_beside_unknown() -> None:
    facts = make_facts({"recovery.phone_set": False}, {Group.MFA: REFUSED})
    rule = {"any": [MFA_ON, {"field": "recovery.phone_set", "op": "eq", "value": False}]}

    decision = decide(rule, facts)

    assert decision.status is PASS
    assert decision.reason == "No recovery phone is registered (attested 12 days ago)"


def test_any_that_fails_keeps_the_more_specific_of_two_reasons_on_one_field() -> None:
    rule = {
        "any": [
            {"field": "recovery.email_domain", "op": "is_not_set"},
            {"field": "recovery.email_domain", "op": "in", "value": ["ministry.example"]},
        ]
    }

    decision = decide(rule, make_facts({"recovery.email_domain": "gmail.com"}))

    assert decision.status is FAIL
    assert decision.reason == (
        "Recovery e-mail domain is gmail.com, expected ministry.example (attested 12 days ago)"
    )


ADMIN_ACTIVE = {"field": "person_status", "op": "eq", "value": "active"}


def admin(label: str, **fields: Any) -> dict[str, Any]:
    """An admin record as load_facts builds it."""
    return {"label": label, "named": True, "person_status": "active", **fields}


def test_every_is_true_on_an_empty_collection_and_some_is_false() -> None:
    facts = make_facts({"admins": []}, {Group.ADMINS: GRAPH})

    every = decide({"collection": "admins", "every": ADMIN_ACTIVE}, facts)
    some = decide({"collection": "admins", "some": ADMIN_ACTIVE}, facts)

    assert (every.status, some.status) == (PASS, FAIL)
    assert some.reason == "No admins recorded (read from Microsoft Graph 2 days ago)"


def test_every_names_the_record_that_fails() -> None:
    admins = [
        admin("Ada"),
        admin("Jane Doe", person_status="left"),
        admin("Bo", person_status="left"),
    ]

    decision = decide(
        {"collection": "admins", "every": ADMIN_ACTIVE},
        make_facts({"admins": admins}, {Group.ADMINS: GRAPH}),
    )

    assert decision.status is FAIL
    assert decision.reason == (
        "Admin Jane Doe: status is left, expected active; and 1 more admin"
        " (read from Microsoft Graph 2 days ago)"
    )
    assert decision.fields == ("admins",)


def test_count_where_reads_as_a_number_found_and_required() -> None:
    two_named = {
        "collection": "admins",
        "count": {"op": "ge", "threshold": "min_admins"},
        "where": {"field": "named", "op": "eq", "value": True},
    }
    facts = make_facts({"admins": [admin("Ada"), admin("x@agency.example", named=False)]})

    decision = decide(two_named, facts, {"min_admins": 2})

    assert decision.status is FAIL
    assert decision.reason == "1 named admin found, expected at least 2 (attested 12 days ago)"


def test_a_record_missing_a_deciding_value_makes_the_quantifier_manual() -> None:
    facts = make_facts({"admins": [admin("Ada"), admin("Ext", person_status=None)]})

    some_left = decide(
        {"collection": "admins", "some": {"field": "person_status", "op": "eq", "value": "left"}},
        facts,
    )
    counted = decide(
        {"collection": "admins", "count": {"op": "eq", "value": 0}, "where": ADMIN_ACTIVE},
        facts,
    )

    assert (some_left.status, some_left.reason) == (
        MANUAL,
        "Admin Ext: status not recorded (attested 12 days ago)",
    )
    assert counted.status is MANUAL


def test_collection_group_decides_unknown_before_the_records() -> None:
    every = {"collection": "admins", "every": ADMIN_ACTIVE}

    never = decide(every, make_facts({"admins": None}, {Group.ADMINS: None}))
    refused = decide(every, make_facts({"admins": [admin("A")]}, {Group.ADMINS: REFUSED}))

    assert (never.status, never.reason) == (MANUAL, "Admin facts were never recorded")
    assert refused.status is ERROR


def test_not_every_is_some_not() -> None:
    facts = make_facts({"admins": [admin("Ada"), admin("Jane", person_status="left")]})

    decision = decide({"not": {"collection": "admins", "every": ADMIN_ACTIVE}}, facts)

    assert decision.status is PASS
    assert decision.reason.startswith("Admin Jane: status is left")


def test_describe_condition_says_the_compliant_state() -> None:
    rule = condition(
        {
            "all": [
                MFA_ON,
                {"field": "mfa.methods", "op": "contains_none", "value": ["sms"]},
                {"not": {"field": "credential.storage", "op": "eq", "value": "chat"}},
            ]
        }
    )

    assert describe_condition(rule, {}) == (
        "MFA is enabled and Registered MFA methods include none of sms"
        " and Shared password kept in is not chat"
    )


@pytest.mark.parametrize(
    ("data", "thresholds", "message"),
    [
        ({"field": "mfa.nope", "op": "eq", "value": True}, {}, "unknown field 'mfa.nope'"),
        ({"field": "mfa.enabled", "op": "gt", "value": 1}, {}, "does not fit"),
        ({"field": "mfa.enabled", "op": "eq"}, {}, "needs a value or a threshold"),
        ({"field": "mfa.enabled", "op": "eq", "threshold": "nope"}, {}, "is not defined"),
        (
            {"field": "mfa.enabled", "op": "eq", "value": True, "threshold": "t"},
            {"t": True},
            "not both",
        ),
        ({"field": "recovery.email_domain", "op": "in", "value": "a.example"}, {}, "a list"),
        ({"field": "account.owner", "op": "is_set", "value": "x"}, {}, "takes no value"),
        ({"field": "admins", "op": "is_set"}, {}, "use a quantifier"),
        ({"field": "mfa.enabled", "op": "le", "value_type": "age_days", "value": 3}, {}, "fit"),
        ({"field": "credential.min_length", "op": "ge", "value": "long"}, {}, "needs a number"),
        ({"field": "recovery.last_verified_at", "op": "le", "value": 3}, {}, "does not fit"),
        ({"collection": "mfa.enabled", "every": MFA_ON}, {}, "not a collection"),
        ({"collection": "admins"}, {}, "exactly one of"),
        ({"collection": "admins", "every": ADMIN_ACTIVE, "where": ADMIN_ACTIVE}, {}, "where"),
        ({"collection": "admins", "every": MFA_ON}, {}, "in admins records"),
        ({"collection": "admins", "count": {"op": "ge", "threshold": "n"}}, {"n": "two"}, "whole"),
    ],
)
def test_impossible_conditions_raise_a_clear_value_error(
    data: dict[str, Any], thresholds: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compile_condition(condition(data), thresholds)


# -- properties (hypothesis) ------------------------------------------------------------------

_BOOL_FIELDS = ("mfa.enabled", "mfa.enforced", "recovery.carrier_lock",
                "recovery.backup_codes_escrowed", "account.in_public_registry")  # fmt: skip
_GROUP_OF = {name: FIELDS[name].group for name in (*_BOOL_FIELDS, "credential.min_length")}
_HIDEABLE = (Group.MFA, Group.RECOVERY, Group.CREDENTIAL, Group.ADMINS)
_COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}  # fmt: skip
_PROVENANCES = st.sampled_from([None, ATTESTED, GRAPH, REFUSED, MISSING])


def _bool_leaf(fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        st.sampled_from(fields), st.sampled_from(["eq", "ne"]), st.booleans(),
    )  # fmt: skip


_ACCOUNT_LEAF = st.one_of(
    _bool_leaf(_BOOL_FIELDS),
    st.builds(
        lambda op, v: {"field": "credential.min_length", "op": op, "value": v},
        st.sampled_from(sorted(_COMPARE)),
        st.sampled_from([8, 12, 15]),
    ),
    st.builds(
        lambda f, op: {"field": f, "op": op},
        st.sampled_from([*_BOOL_FIELDS, "credential.min_length"]),
        st.sampled_from(["is_set", "is_not_set"]),
    ),
)
_RECORD_LEAF = st.one_of(
    _bool_leaf(("named",)),
    st.builds(
        lambda v: {"field": "person_status", "op": "eq", "value": v},
        st.sampled_from(["active", "left"]),
    ),
    st.builds(
        lambda op: {"field": "person_status", "op": op}, st.sampled_from(["is_set", "is_not_set"])
    ),
)


def _tree(leaves: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=6,
    )


_QUANTIFIER = st.one_of(
    st.builds(
        lambda k, c: {"collection": "admins", k: c},
        st.sampled_from(["every", "some"]),
        _tree(_RECORD_LEAF),
    ),
    st.builds(
        lambda op, n, where: (
            {"collection": "admins", "count": {"op": op, "value": n}}
            | ({} if where is None else {"where": where})
        ),
        st.sampled_from(sorted(_COMPARE)),
        st.integers(0, 3),
        st.none() | _tree(_RECORD_LEAF),
    ),
)
CONDITIONS = _tree(st.one_of(_ACCOUNT_LEAF, _QUANTIFIER))
_ADMIN = st.fixed_dictionaries(
    {"label": st.sampled_from(["Ada", "Bo", "Cy"]), "named": st.booleans(),
     "person_status": st.sampled_from(["active", "left", None])}
)  # fmt: skip


@st.composite
def account_facts(draw: st.DrawFn) -> AccountFacts:
    """Facts with every state a group can be in, and values that may be missing."""
    values = {name: draw(st.none() | st.booleans()) for name in _BOOL_FIELDS}
    values["account.in_public_registry"] = draw(st.booleans())
    values["credential.min_length"] = draw(st.none() | st.sampled_from([6, 8, 12, 15, 20]))
    values["admins"] = draw(st.lists(_ADMIN, max_size=3))
    return make_facts(values, {group: draw(_PROVENANCES) for group in _HIDEABLE})


def _kleene(results: list[ResultStatus], decisive: ResultStatus) -> ResultStatus:
    if decisive in results:
        return decisive
    if ERROR in results:
        return ERROR
    if MANUAL in results:
        return MANUAL
    return PASS if decisive is FAIL else FAIL


def _group_state(facts: AccountFacts, group: Group) -> ResultStatus | None:
    prov = facts.groups[group]
    if prov is None:
        return MANUAL
    return None if prov.status == "ok" else (ERROR if prov.status == "error" else MANUAL)


def reference(node: dict[str, Any], facts: AccountFacts, record: Any = None) -> ResultStatus:
    """A plain recursive three-valued interpreter, written from the design's wording."""
    if "all" in node:
        return _kleene([reference(n, facts, record) for n in node["all"]], FAIL)
    if "any" in node:
        return _kleene([reference(n, facts, record) for n in node["any"]], PASS)
    if "not" in node:
        inner = reference(node["not"], facts, record)
        return {PASS: FAIL, FAIL: PASS}.get(inner, inner)
    if "collection" in node:
        unknown = _group_state(facts, Group.ADMINS)
        if unknown is not None:
            return unknown
        records = facts.values["admins"]
        if "every" in node:
            return _kleene([reference(node["every"], facts, r) for r in records], FAIL)
        if "some" in node:
            return _kleene([reference(node["some"], facts, r) for r in records], PASS)
        selected = [reference(node["where"], facts, r) for r in records] if "where" in node else []
        if any(s in (MANUAL, ERROR) for s in selected):
            return ERROR if ERROR in selected else MANUAL
        n = selected.count(PASS) if "where" in node else len(records)
        return PASS if _COMPARE[node["count"]["op"]](n, node["count"]["value"]) else FAIL
    if record is None:
        unknown = _group_state(facts, _GROUP_OF[node["field"]])
        if unknown is not None:
            return unknown
        value = facts.values[node["field"]]
    else:
        value = record[node["field"]]
    if node["op"] in ("is_set", "is_not_set"):
        return PASS if (value is not None) is (node["op"] == "is_set") else FAIL
    if value is None:
        return MANUAL
    return PASS if _COMPARE[node["op"]](value, node["value"]) else FAIL


LAWS = settings(max_examples=300, deadline=None)


@LAWS
@given(CONDITIONS, account_facts())
def test_compiled_conditions_agree_with_a_reference_interpreter(
    data: dict[str, Any], facts: AccountFacts
) -> None:
    decision = decide(data, facts)  # also checks that status() agrees with explain()

    assert decision.status is reference(data, facts)
    assert decision.reason
    assert decision.fields


@LAWS
@given(CONDITIONS, account_facts())
def test_double_negation_changes_nothing(data: dict[str, Any], facts: AccountFacts) -> None:
    assert decide({"not": {"not": data}}, facts) == decide(data, facts)


@LAWS
@given(CONDITIONS, account_facts(), st.sets(st.sampled_from(_HIDEABLE), min_size=1), _PROVENANCES)
def test_hiding_facts_never_turns_a_result_into_a_pass(
    data: dict[str, Any], facts: AccountFacts, hidden: set[Group], unknown: Provenance | None
) -> None:
    unknown = unknown if unknown is None or unknown.status != "ok" else None
    partial = make_facts(dict(facts.values), {**facts.groups, **dict.fromkeys(hidden, unknown)})

    known = decide(data, facts).status
    guessed = decide(data, partial).status

    # Unknown is never a pass: less information can only leave a verdict or make it unknown.
    assert guessed in (known, MANUAL, ERROR)
    assert guessed is not PASS or known is PASS


@LAWS
@given(st.lists(st.tuples(st.sampled_from(_BOOL_FIELDS), st.booleans(), st.booleans()),
                min_size=1, max_size=5))  # fmt: skip
def test_all_and_any_agree_with_python_on_decided_values(
    leaves: list[tuple[str, bool, bool]],
) -> None:
    values = {name: value for name, value, _ in leaves}
    facts = make_facts(values, dict.fromkeys(_HIDEABLE, ATTESTED))
    parts = [{"field": name, "op": "eq", "value": wanted} for name, _, wanted in leaves]
    truths = [values[name] == wanted for name, _, wanted in leaves]

    assert decide({"all": parts}, facts).status is (PASS if all(truths) else FAIL)
    assert decide({"any": parts}, facts).status is (PASS if any(truths) else FAIL)
    assert decide({"not": {"all": parts}}, facts).status is (FAIL if all(truths) else PASS)
