"""One comparison (``{field, op, value}``), compiled into a function of the field's value.

``comparison`` checks the operator against the field's type once and returns two functions of
the value: ``holds`` (a bare predicate) and ``explain`` (``(value, now, note) -> Decision``, whose
reason states the fact: "Minimum password length is 8, expected at least 15"). The caller deals
with groups never recorded and with ``None`` values; only ``is_set``/``is_not_set`` see a None.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, NamedTuple

from secops.policy.conditions import wording
from secops.policy.conditions.decision import FAIL, PASS, Decision
from secops.policy.fields import FieldSpec, FieldType
from secops.policy.spec import ValueType

# ``not_subset_of`` has no spelling in a policy file; it is what ``not: {subset_of}`` becomes.
NOT_SUBSET_OF: Final = "not_subset_of"
INVERSE: Final[dict[str, str]] = {
    "eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le",
    "in": "not_in", "not_in": "in", "contains": "not_contains", "not_contains": "contains",
    "contains_any": "contains_none", "contains_none": "contains_any",
    "subset_of": NOT_SUBSET_OF, NOT_SUBSET_OF: "subset_of",
    "is_set": "is_not_set", "is_not_set": "is_set",
}  # fmt: skip
ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "eq": operator.eq, "ne": operator.ne,
}  # fmt: skip
ORDER_WORDS: Final = {
    "lt": "under", "le": "at most", "gt": "more than", "ge": "at least", "eq": "exactly",
    "ne": "anything but",
}  # fmt: skip
LIST_OPERAND: Final = frozenset(
    {"in", "not_in", "contains_any", "contains_none", "subset_of", NOT_SUBSET_OF}
)
SET_OPS: Final = frozenset({"is_set", "is_not_set"})
_LIST_OPS: Final = frozenset(
    {"contains", "not_contains", "contains_any", "contains_none", "subset_of", NOT_SUBSET_OF}
)
_SCALAR_OPS: Final = frozenset({"eq", "ne", "in", "not_in"})
_ALLOWED: Final[dict[FieldType, frozenset[str]]] = {
    FieldType.BOOL: frozenset({"eq", "ne"}) | SET_OPS,
    FieldType.STRING: _SCALAR_OPS | SET_OPS,
    FieldType.ENUM: _SCALAR_OPS | SET_OPS,
    FieldType.INT: frozenset(ORDERING) | _SCALAR_OPS | SET_OPS,
    FieldType.DATETIME: SET_OPS,
    FieldType.STRING_LIST: _LIST_OPS | SET_OPS,
    FieldType.COLLECTION: frozenset(),
}
# With a value type, the converted number is compared.
_CONVERTED: Final = frozenset(ORDERING)
_VALUE_TYPE_OF: Final = {
    ValueType.AGE_DAYS: FieldType.DATETIME,
    ValueType.COUNT: FieldType.STRING_LIST,
}

Test = Callable[[Any, datetime, str], Decision]
Holds = Callable[[Any, datetime], bool]


class Comparison(NamedTuple):
    """A compiled comparison: whether it holds (fast), and why (a reason, when one is needed)."""

    holds: Holds  # called with a value that is not None, except for is_set/is_not_set
    explain: Test
    decides_none: bool  # is_set/is_not_set decide on a missing value; the others are unknown


def present(value: Any) -> bool:
    """``is_set``: the value exists and is not empty (an empty list or string is not set)."""
    return value is not None and value != "" and value != []


def check_leaf(spec: FieldSpec, op: str, operand: Any, value_type: ValueType | None) -> None:
    """Refuse a comparison that cannot be evaluated (the loader reports these first)."""
    where = f"field {spec.name!r}"
    if value_type is not None:
        if _VALUE_TYPE_OF[value_type] is not spec.type:
            raise ValueError(f"{where}: value_type {value_type.value} does not fit {spec.type}")
        if op not in _CONVERTED:
            raise ValueError(f"{where}: op {op} cannot compare a {value_type.value}")
    elif op not in _ALLOWED[spec.type]:
        raise ValueError(f"{where}: op {op} does not fit a {spec.type} field")
    if op in SET_OPS:
        if operand is not None:
            raise ValueError(f"{where}: op {op} takes no value")
        return
    if operand is None:
        raise ValueError(f"{where}: op {op} needs a value or a threshold")
    if op in LIST_OPERAND and not isinstance(operand, list | tuple | set | frozenset):
        raise ValueError(f"{where}: op {op} needs a list of values")
    if op in LIST_OPERAND or op == "contains":
        return
    numeric = value_type is not None or spec.type is FieldType.INT
    if op in ORDERING and op not in ("eq", "ne") and not numeric:
        raise ValueError(f"{where}: op {op} needs a number to compare")
    if numeric and (isinstance(operand, bool) or not isinstance(operand, int | float)):
        raise ValueError(f"{where}: op {op} needs a number, got {operand!r}")


def expectation(op: str, operand: Any, unit: str = "") -> str:
    """``"at least 15"``, ``"one of ministry.example, mission.example"``."""
    if op in ("in", "not_in"):
        members = sorted(operand, key=str)
        if len(members) == 1:
            return (
                wording.show(members[0])
                if op == "in"
                else f"anything but {wording.show(members[0])}"
            )
        return f"{'one' if op == 'in' else 'none'} of {wording.show_list(members)}"
    if op == "eq" and not unit:
        return wording.show(operand)
    return f"{ORDER_WORDS[op]} {wording.show(operand)}{unit}"


def comparison(spec: FieldSpec, op: str, operand: Any, value_type: ValueType | None) -> Comparison:
    """The comparison ``spec op operand``, checked once and compiled."""
    check_leaf(spec, op, operand, value_type)
    return Comparison(
        _holds(spec, op, operand, value_type),
        _explain(spec, op, operand, value_type),
        op in SET_OPS,
    )


def _holds(spec: FieldSpec, op: str, operand: Any, value_type: ValueType | None) -> Holds:
    """The bare predicate: no reason, no allocation."""
    if op in SET_OPS:
        wants_set = op == "is_set"
        return lambda value, now: present(value) is wants_set
    if value_type is ValueType.AGE_DAYS:
        compare = ORDERING[op]
        return lambda value, now: compare((now - value).days, operand)
    if value_type is ValueType.COUNT:
        compare = ORDERING[op]
        return lambda value, now: compare(len(value), operand)
    if op in ("contains", "not_contains"):
        wants = op == "contains"
        return lambda value, now: (operand in value) is wants
    if op in ("in", "not_in", "contains_any", "contains_none", "subset_of", NOT_SUBSET_OF):
        members = frozenset(operand)
        if op == "in":
            return lambda value, now: value in members
        if op == "not_in":
            return lambda value, now: value not in members
        if op == "contains_any":
            return lambda value, now: not members.isdisjoint(value)
        if op == "contains_none":
            return lambda value, now: members.isdisjoint(value)
        if op == "subset_of":
            return lambda value, now: members.issuperset(value)
        return lambda value, now: not members.issuperset(value)
    if spec.type is FieldType.BOOL:
        target, wants_equal = bool(operand), op == "eq"
        return lambda value, now: (value == target) is wants_equal
    if op == "eq":
        return lambda value, now: value == operand
    if op == "ne":
        return lambda value, now: value != operand
    compare = ORDERING[op]
    return lambda value, now: compare(value, operand)


def _explain(spec: FieldSpec, op: str, operand: Any, value_type: ValueType | None) -> Test:
    """The comparison with its reason: ``(value, now, note) -> Decision``."""
    fields = (spec.name,)
    label = wording.label(spec.name)
    if op in SET_OPS:
        return _set_test(spec, op == "is_set", label, fields)
    if value_type is ValueType.AGE_DAYS:
        return _age_test(
            ORDERING[op],
            operand,
            label,
            f", expected {expectation(op, operand, ' days ago')}",
            fields,
        )
    if value_type is ValueType.COUNT:
        return _count_test(
            ORDERING[op], operand, label, f", expected {expectation(op, operand)}", fields
        )
    if op in _LIST_OPS:
        return _list_test(op, operand, label, fields)
    if spec.type is FieldType.BOOL:
        return _bool_test(spec.name, op == "eq", operand, fields)
    if op in ("in", "not_in"):
        members = frozenset(operand)
        test: Callable[[Any], bool] = members.__contains__
        pred = test if op == "in" else (lambda v: not test(v))
    else:
        compare, bound = ORDERING[op], operand
        pred = lambda v: compare(v, bound)  # noqa: E731 - a closure over the operand
    return _scalar_test(pred, label, f", expected {expectation(op, operand)}", fields)


def _set_test(spec: FieldSpec, wants_set: bool, label: str, fields: tuple[str, ...]) -> Test:
    kind = spec.type

    def decide(value: Any, now: datetime, note: str) -> Decision:
        if present(value):
            if kind is FieldType.BOOL:
                text = wording.bool_phrase(spec.name, value)
            elif kind is FieldType.DATETIME:
                # Said as an age, like the age_days comparisons it usually stands beside.
                text = f"{label} {wording.days_ago((now - value).days)}"
            elif kind is FieldType.STRING_LIST:
                text = f"{label}: {wording.show(value)}"
            else:
                text = f"{label} is {wording.show(value)}"
            return Decision(PASS if wants_set else FAIL, text + note, fields)
        text = f"{label}: none" if value == [] else f"{label} is not set"
        return Decision(FAIL if wants_set else PASS, text + note, fields)

    return decide


def _age_test(
    compare: Callable[[Any, Any], bool],
    bound: Any,
    label: str,
    expect: str,
    fields: tuple[str, ...],
) -> Test:
    def decide(value: Any, now: datetime, note: str) -> Decision:
        days = (now - value).days
        if compare(days, bound):
            return Decision(PASS, f"{label} {wording.days_ago(days)}{note}", fields)
        return Decision(FAIL, f"{label} {wording.days_ago(days)}{expect}{note}", fields)

    return decide


def _count_test(
    compare: Callable[[Any, Any], bool],
    bound: Any,
    label: str,
    expect: str,
    fields: tuple[str, ...],
) -> Test:
    def decide(value: Any, now: datetime, note: str) -> Decision:
        count = len(value)
        if compare(count, bound):
            return Decision(PASS, f"{label}: {count}{note}", fields)
        return Decision(FAIL, f"{label}: {count}{expect}{note}", fields)

    return decide


def _bool_test(name: str, wants_equal: bool, operand: Any, fields: tuple[str, ...]) -> Test:
    target = bool(operand)
    texts = {True: wording.bool_phrase(name, True), False: wording.bool_phrase(name, False)}

    def decide(value: Any, now: datetime, note: str) -> Decision:
        ok = (value == target) is wants_equal
        return Decision(PASS if ok else FAIL, texts[bool(value)] + note, fields)

    return decide


def _scalar_test(
    pred: Callable[[Any], bool], label: str, expect: str, fields: tuple[str, ...]
) -> Test:
    def decide(value: Any, now: datetime, note: str) -> Decision:
        if pred(value):
            return Decision(PASS, f"{label} is {wording.show(value)}{note}", fields)
        return Decision(FAIL, f"{label} is {wording.show(value)}{expect}{note}", fields)

    return decide


def _list_test(op: str, operand: Any, label: str, fields: tuple[str, ...]) -> Test:
    if op in ("contains", "not_contains"):
        item, wants = operand, op == "contains"
        shown = wording.show(item)

        def contains(value: Any, now: datetime, note: str) -> Decision:
            has = item in value
            verb = "include" if has else "do not include"
            text = f"{label} ({wording.show_list(value)}) {verb} {shown}{note}"
            return Decision(PASS if has is wants else FAIL, text, fields)

        return contains
    members = frozenset(operand)
    listed = wording.show_list(sorted(members, key=str))
    if op in ("contains_any", "contains_none"):
        wants_hit = op == "contains_any"

        def overlap(value: Any, now: datetime, note: str) -> Decision:
            hits = [v for v in dict.fromkeys(value) if v in members]
            if hits:
                text = f"{label} include {wording.show_list(hits)}{note}"
            else:
                text = f"{label} ({wording.show_list(value)}) include none of {listed}{note}"
            return Decision(PASS if bool(hits) is wants_hit else FAIL, text, fields)

        return overlap
    wants_inside = op == "subset_of"

    def subset(value: Any, now: datetime, note: str) -> Decision:
        outside = [v for v in dict.fromkeys(value) if v not in members]
        if outside:
            text = f"{label} include {wording.show_list(outside)}, not among {listed}{note}"
        else:
            text = f"{label} ({wording.show_list(value)}) are all among {listed}{note}"
        return Decision(PASS if (not outside) is wants_inside else FAIL, text, fields)

    return subset


def describe_leaf(spec: FieldSpec, op: str, operand: Any, value_type: ValueType | None) -> str:
    """The comparison in words, for quantifier reasons: ``"last sign-in at most 90 days ago"``."""
    label = wording.label(spec.name)
    if op in SET_OPS:
        return f"{label} is {'set' if op == 'is_set' else 'not set'}"
    if spec.type is FieldType.BOOL and value_type is None:
        return wording.bool_phrase(spec.name, bool(operand) is (op == "eq"))
    if value_type is ValueType.AGE_DAYS:
        return f"{label} {expectation(op, operand, ' days ago')}"
    if value_type is ValueType.COUNT:
        return f"{label}: {expectation(op, operand)}"
    if op in _LIST_OPS:
        words = {
            "contains": "include", "not_contains": "do not include",
            "contains_any": "include one of", "contains_none": "include none of",
            "subset_of": "are all among", NOT_SUBSET_OF: "are not all among",
        }  # fmt: skip
        shown = operand if op in ("contains", "not_contains") else sorted(operand, key=str)
        return f"{label} {words[op]} {wording.show(shown)}"
    if op == "ne":
        return f"{label} is not {wording.show(operand)}"
    return f"{label} is {expectation(op, operand)}"
