"""What a policy file's shape cannot say: fields exist, operators and values fit their types.

:mod:`secops.policy.spec` checks the shape of a policy file (keys, enums, lengths). This module
checks its meaning against the vocabulary of :data:`secops.policy.fields.FIELDS`: a condition
names a field that exists (close names are suggested), the operator suits the field's type, the
value or threshold has the type the comparison needs, quantifiers range over collections, a rule
has exactly one of ``condition`` or ``check`` and names a check module that exists, rule ids are
unique. Each issue carries its location as YAML keys and list indexes (``("rules", 3,
"condition", "all", 0, "field")``); the loader turns that into a line number.

A passed review date and thresholds nobody uses are warnings: the policy still loads.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from secops.policy.checks import CHECKS
from secops.policy.fields import FIELDS, FieldSpec, FieldType
from secops.policy.spec import (
    AllOf,
    AnyOf,
    Condition,
    Count,
    Leaf,
    Not,
    Op,
    PolicyFile,
    Quantifier,
    Rule,
    Threshold,
    ValueType,
)

Loc = tuple[str | int, ...]

NO_VALUE_OPS: Final = frozenset({Op.IS_SET, Op.IS_NOT_SET})
LIST_VALUE_OPS: Final = frozenset(
    {Op.IN, Op.NOT_IN, Op.CONTAINS_ANY, Op.CONTAINS_NONE, Op.SUBSET_OF}
)
_LIST_OPS: Final = (Op.CONTAINS, Op.NOT_CONTAINS, Op.CONTAINS_ANY, Op.CONTAINS_NONE, Op.SUBSET_OF)
# A value converted by value_type (days, a count) is compared as a number, never a member.
CONVERTED_OPS: Final = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)
# The operators each kind of value accepts (after value_type conversion); is_set/is_not_set
# suit every field and are checked apart.
OPS_BY_TYPE: Final[Mapping[FieldType, tuple[Op, ...]]] = {
    FieldType.BOOL: (Op.EQ, Op.NE),
    FieldType.STRING: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN),
    FieldType.ENUM: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN),
    FieldType.INT: (*CONVERTED_OPS, Op.IN, Op.NOT_IN),
    FieldType.DATETIME: (),
    FieldType.STRING_LIST: _LIST_OPS,
    FieldType.COLLECTION: (),
}
_TYPE_WORDS: Final = {
    FieldType.BOOL: "true/false",
    FieldType.STRING: "text",
    FieldType.ENUM: "one of a fixed set of values",
    FieldType.INT: "a number",
    FieldType.DATETIME: "a date and time",
    FieldType.STRING_LIST: "a list of text values",
    FieldType.COLLECTION: "a collection of records",
}


@dataclass(frozen=True)
class Issue:
    """One thing wrong (or worth a warning) in a policy file, located by YAML keys."""

    loc: Loc
    rule_id: str | None
    message: str
    also_at: Loc | None = None  # the other place of a duplicate


@dataclass(frozen=True)
class Validation:
    """Errors stop a policy from loading; warnings do not."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()


def known_checks() -> Mapping[str, Collection[str]]:
    """Each registered check module by id, with the thresholds a rule naming it must define."""
    return {name: check.metadata.thresholds for name, check in CHECKS.items()}


def validate_policy(
    spec: PolicyFile, *, today: date, checks: Mapping[str, Collection[str]] | None = None
) -> Validation:
    """Check ``spec`` against the field vocabulary and the check registry; see the module doc.

    ``checks`` (check id -> the thresholds it needs) replaces the registry, for tests.
    """
    state = _State(spec=spec, checks=known_checks() if checks is None else checks)
    if spec.policy.review_by < today:
        state.warn(
            ("policy", "review_by"),
            None,
            f"the review date {spec.policy.review_by.isoformat()} has passed; review the "
            "policy and set the next date",
        )
    first_at: dict[str, int] = {}
    for index, rule in enumerate(spec.rules):
        if rule.id in first_at:
            state.error(
                ("rules", index, "id"),
                rule.id,
                f"rule id {rule.id} is used by two rules",
                also_at=("rules", first_at[rule.id], "id"),
            )
        else:
            first_at[rule.id] = index
        _check_rule(state, index, rule)
    for name in sorted(set(spec.policy.thresholds) - state.used_policy_thresholds):
        state.warn(
            ("policy", "thresholds", name), None, f"threshold {name!r} is not used by any rule"
        )
    return Validation(errors=tuple(state.errors), warnings=tuple(state.warnings))


@dataclass
class _State:
    spec: PolicyFile
    checks: Mapping[str, Collection[str]]
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    used_policy_thresholds: set[str] = field(default_factory=set)

    def error(
        self, loc: Loc, rule_id: str | None, message: str, also_at: Loc | None = None
    ) -> None:
        self.errors.append(Issue(loc, rule_id, message, also_at))

    def warn(self, loc: Loc, rule_id: str | None, message: str) -> None:
        self.warnings.append(Issue(loc, rule_id, message))


@dataclass
class _RuleScope:
    """What the conditions of one rule can see: its location, thresholds, the fields in scope."""

    state: _State
    rule: Rule
    loc: Loc
    used: set[str] = field(default_factory=set)

    def error(self, loc: Loc, message: str) -> None:
        self.state.error(loc, self.rule.id, message)

    def threshold(self, loc: Loc, name: str) -> Threshold | None:
        """The threshold ``name`` (the rule's own first, then the policy's), or an error."""
        self.used.add(name)
        if name in self.rule.thresholds:
            return self.rule.thresholds[name]
        policy_thresholds = self.state.spec.policy.thresholds
        if name in policy_thresholds:
            self.state.used_policy_thresholds.add(name)
            return policy_thresholds[name]
        names = sorted({*self.rule.thresholds, *policy_thresholds})
        self.error(loc, f"unknown threshold {name!r}{suggest(name, names)}")
        return None


def _check_rule(state: _State, index: int, rule: Rule) -> None:
    loc: Loc = ("rules", index)
    scope = _RuleScope(state, rule, loc)
    if (rule.condition is None) == (rule.check is None):
        state.error(
            loc,
            rule.id,
            "a rule needs exactly one of 'condition' (data) or 'check' (a check module's name)",
        )
    if rule.check is not None:
        _check_check(scope, rule.check)
    if rule.condition is not None:
        _check_condition(scope, (*loc, "condition"), rule.condition, FIELDS, None)
    for name in sorted(set(rule.thresholds) - scope.used):
        state.warn((*loc, "thresholds", name), rule.id, f"threshold {name!r} is not used")


def _check_check(scope: _RuleScope, name: str) -> None:
    """The check module exists and every threshold it reads is defined."""
    loc = scope.loc
    needed = scope.state.checks.get(name)
    if needed is None:
        known = sorted(scope.state.checks)
        scope.error((*loc, "check"), f"unknown check {name!r}{suggest(name, known)}")
        return
    defined = {*scope.rule.thresholds, *scope.state.spec.policy.thresholds}
    for threshold in needed:
        if threshold in defined:
            scope.threshold((*loc, "check"), threshold)
        else:
            scope.error(
                (*loc, "check"),
                f"check {name!r} needs the threshold {threshold!r}: define it in the rule's "
                "or the policy's thresholds",
            )


def _check_condition(
    scope: _RuleScope,
    loc: Loc,
    condition: Condition,
    fields: Mapping[str, FieldSpec],
    collection: str | None,
) -> None:
    if isinstance(condition, AllOf | AnyOf):
        key, items = (
            ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
        )
        for i, item in enumerate(items):
            _check_condition(scope, (*loc, key, i), item, fields, collection)
    elif isinstance(condition, Not):
        _check_condition(scope, (*loc, "not"), condition.not_, fields, collection)
    elif isinstance(condition, Quantifier):
        _check_quantifier(scope, loc, condition, collection)
    else:
        _check_leaf(scope, loc, condition, fields, collection)


def _check_quantifier(
    scope: _RuleScope, loc: Loc, quantifier: Quantifier, outer: str | None
) -> None:
    name = quantifier.collection
    if outer is not None:
        scope.error((*loc, "collection"), f"quantifiers cannot nest inside {outer!r} records")
        return
    collections = sorted(n for n, s in FIELDS.items() if s.type is FieldType.COLLECTION)
    spec = FIELDS.get(name)
    if spec is None or spec.type is not FieldType.COLLECTION:
        if spec is None:
            message = f"unknown collection {name!r}{suggest(name, collections)}"
        else:
            message = (
                f"{name!r} is {_TYPE_WORDS[spec.type]}, not a collection of records "
                f"(collections: {', '.join(collections)})"
            )
        scope.error((*loc, "collection"), message)
        return
    modes = [m for m in ("every", "some", "count") if getattr(quantifier, m) is not None]
    if len(modes) != 1:
        scope.error(loc, f"a quantifier over {name!r} needs exactly one of every, some or count")
    if quantifier.where is not None and quantifier.count is None:
        scope.error(
            (*loc, "where"), "'where' selects the records to count: use it with 'count' only"
        )
    if quantifier.count is not None:
        _check_count(scope, (*loc, "count"), quantifier.count)
    for key in ("every", "some", "where"):
        inner = getattr(quantifier, key)
        if inner is not None:
            _check_condition(scope, (*loc, key), inner, spec.elements, name)


def _check_count(scope: _RuleScope, loc: Loc, count: Count) -> None:
    if (count.value is None) == (count.threshold is None):
        scope.error(loc, "a count needs exactly one of 'value' or 'threshold'")
        return
    if count.threshold is None:
        return
    threshold = scope.threshold((*loc, "threshold"), count.threshold)
    if threshold is not None and not _is_count(threshold.value):
        scope.error(
            (*loc, "threshold"),
            f"threshold {count.threshold!r} is {_describe(threshold.value)}, "
            "but a count compares with a whole number of records (0 or more)",
        )


def _check_leaf(
    scope: _RuleScope,
    loc: Loc,
    leaf: Leaf,
    fields: Mapping[str, FieldSpec],
    collection: str | None,
) -> None:
    spec = fields.get(leaf.field)
    if spec is None:
        scope.error((*loc, "field"), _unknown_field(leaf.field, fields, collection))
        return
    if spec.type is FieldType.COLLECTION:
        scope.error(
            (*loc, "field"),
            f"{leaf.field!r} is a collection of records: test it with a quantifier, e.g. "
            f"{{collection: {leaf.field}, some: {{field: ..., op: ..., value: ...}}}}",
        )
        return
    if leaf.op in NO_VALUE_OPS:
        if leaf.value is not None or leaf.threshold is not None or leaf.value_type is not None:
            scope.error(loc, f"'{leaf.op}' takes no value, threshold or value_type")
        return
    compared = _compared_type(scope, loc, leaf, spec)
    if compared is None:
        return
    allowed: tuple[Op, ...]
    offered: tuple[Op, ...]
    if leaf.value_type is not None:
        allowed, offered = CONVERTED_OPS, CONVERTED_OPS
    else:
        allowed = OPS_BY_TYPE[compared]
        offered = (*allowed, Op.IS_SET, Op.IS_NOT_SET)
    if leaf.op not in allowed:
        scope.error(
            (*loc, "op"),
            f"operator '{leaf.op}' does not apply to {_what(leaf, spec)}; use one of: "
            + ", ".join(str(op) for op in offered),
        )
        return
    _check_leaf_value(scope, loc, leaf, spec, compared)


def _compared_type(scope: _RuleScope, loc: Loc, leaf: Leaf, spec: FieldSpec) -> FieldType | None:
    """The type the comparison sees once ``value_type`` has converted the field, or an error."""
    if leaf.value_type is ValueType.AGE_DAYS:
        if spec.type is not FieldType.DATETIME:
            scope.error(
                (*loc, "value_type"),
                f"value_type age_days needs a date and time field; {leaf.field!r} is "
                f"{_TYPE_WORDS[spec.type]}",
            )
            return None
        return FieldType.INT
    if leaf.value_type is ValueType.COUNT:
        if spec.type is not FieldType.STRING_LIST:
            scope.error(
                (*loc, "value_type"),
                f"value_type count needs a list field; {leaf.field!r} is {_TYPE_WORDS[spec.type]}",
            )
            return None
        return FieldType.INT
    if spec.type is FieldType.DATETIME:
        scope.error(
            (*loc, "op"),
            f"{leaf.field!r} is a date and time: compare its age with 'value_type: age_days', "
            "or test it with is_set / is_not_set",
        )
        return None
    return spec.type


def _check_leaf_value(
    scope: _RuleScope, loc: Loc, leaf: Leaf, spec: FieldSpec, compared: FieldType
) -> None:
    if (leaf.value is None) == (leaf.threshold is None):
        scope.error(loc, f"'{leaf.op}' needs exactly one of 'value' or 'threshold'")
        return
    value: Any
    if leaf.threshold is not None:
        threshold = scope.threshold((*loc, "threshold"), leaf.threshold)
        if threshold is None:
            return
        value, where = threshold.value, (*loc, "threshold")
        label, prefix = f"threshold {leaf.threshold!r}", f"threshold {leaf.threshold!r}: "
    else:
        value, where, label, prefix = leaf.value, (*loc, "value"), "the value", ""
    problem = _value_problem(leaf.op, compared, value)
    if problem is not None:
        scope.error(
            where,
            f"{label} is {_describe(value)}, but '{leaf.op}' on {_what(leaf, spec)} {problem}",
        )
        return
    unknown = [item for item in (value if isinstance(value, list) else [value])
               if spec.choices and item not in spec.choices]  # fmt: skip
    if unknown:
        scope.error(
            where,
            f"{prefix}{', '.join(repr(u) for u in unknown)} is not a value of {leaf.field}; "
            f"use one of: {', '.join(spec.choices)}",
        )


def _value_problem(op: Op, compared: FieldType, value: Any) -> str | None:
    """Why ``value`` does not suit ``op`` (the end of a sentence), or None when it does."""
    item_type = FieldType.STRING if compared is FieldType.STRING_LIST else compared
    wanted = _WANTED[item_type]
    if op in LIST_VALUE_OPS:
        if not isinstance(value, list) or not value:
            return f"needs a non-empty list of {wanted[1]}"
        items: list[Any] = value
    elif isinstance(value, list):
        return f"needs a single value ({wanted[0]}), not a list"
    else:
        items = [value]
    if all(_fits(item_type, item) for item in items):
        return None
    return f"needs {wanted[0]}" if op not in LIST_VALUE_OPS else f"needs a list of {wanted[1]}"


_WANTED: Final[Mapping[FieldType, tuple[str, str]]] = {
    FieldType.BOOL: ("true or false", "true/false values"),
    FieldType.STRING: ("a string", "strings"),
    FieldType.ENUM: ("a string", "strings"),
    FieldType.INT: ("a number", "numbers"),
}


def _fits(item_type: FieldType, value: Any) -> bool:
    if item_type is FieldType.BOOL:
        return isinstance(value, bool)
    if item_type is FieldType.INT:
        return _is_number(value)
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _describe(value: Any) -> str:
    """A value's kind in words, with the value when short (policy files hold no secrets)."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "a mapping"


def _what(leaf: Leaf, spec: FieldSpec) -> str:
    if leaf.value_type is ValueType.AGE_DAYS:
        return f"{leaf.field} (its age in days)"
    if leaf.value_type is ValueType.COUNT:
        return f"{leaf.field} (its number of items)"
    return f"{leaf.field} ({_TYPE_WORDS[spec.type]})"


def _unknown_field(name: str, fields: Mapping[str, FieldSpec], collection: str | None) -> str:
    if collection is None:
        head, _, rest = name.partition(".")
        owner = FIELDS.get(head)
        if owner is not None and owner.type is FieldType.COLLECTION and rest in owner.elements:
            return (
                f"{head!r} is a collection of records: test {rest!r} inside a quantifier, e.g. "
                f"{{collection: {head}, some: {{field: {rest}, ...}}}}"
            )
        return f"unknown field {name!r}{suggest(name, list(fields))}"
    prefix = collection + "."
    if name.startswith(prefix) and name[len(prefix) :] in fields:
        return (
            f"inside a quantifier over {collection!r}, name the record's own fields without "
            f"the prefix: write {name[len(prefix) :]!r}"
        )
    return f"unknown field {name!r} in {collection} records{suggest(name, list(fields))}"


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when some of ``candidates`` are close to ``name``; else ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
