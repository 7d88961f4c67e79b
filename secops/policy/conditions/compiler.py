"""Compile a condition tree into closures, once per policy, with ``not`` pushed to the leaves.

Every node becomes two closures: ``status`` says pass, fail, manual or error without building a
single string, and ``explain`` returns the :class:`Decision` with its reason, asking its parts'
``status`` first and explaining only the parts that decided (the failing admin, not all four).

Negation is applied while compiling (De Morgan for ``all``/``any``, ``every`` <-> ``some``, the
inverse operator for a leaf and for a count), so each leaf knows the comparison it really makes
and its reason says what was expected. Kleene's logic keeps this exact: ``not`` swaps true and
false and leaves unknown alone, and so do the rewritten forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from secops.policy.conditions import wording
from secops.policy.conditions.decision import (
    ERROR,
    FAIL,
    MANUAL,
    PASS,
    Decision,
    all_of,
    any_of,
    merged,
    unknown_of,
)
from secops.policy.conditions.leaves import INVERSE, comparison, describe_leaf
from secops.policy.conditions.nodes import Names, Node, unavailable
from secops.policy.conditions.quantifiers import quantifier
from secops.policy.facts import AccountFacts
from secops.policy.fields import FieldSpec, FieldType
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import AllOf, AnyOf, Condition, Leaf, Not, Quantifier


def compile_root(cond: Condition, thresholds: Mapping[str, Any]) -> Node:
    """A top-level condition over an account's facts."""
    return compile_node(cond, False, Names(thresholds))


def compile_node(node: Condition, negate: bool, names: Names) -> Node:
    """``node`` (negated if asked), compiled."""
    if isinstance(node, Not):
        return compile_node(node.not_, not negate, names)
    if isinstance(node, AllOf | AnyOf):
        parts = node.all if isinstance(node, AllOf) else node.any
        conjunction = isinstance(node, AllOf) is not negate  # De Morgan
        return junction([compile_node(p, negate, names) for p in parts], conjunction)
    if isinstance(node, Leaf):
        return _leaf(node, negate, names)
    if isinstance(node, Quantifier):
        if names.collection is not None:
            raise ValueError(f"collection {node.collection!r} inside another collection")
        spec = names.field(node.collection)
        return quantifier(node, negate, spec, Names(names.thresholds, spec), compile_node)
    raise ValueError(f"not a condition: {type(node).__name__}")


def junction(parts: list[Node], conjunction: bool) -> Node:
    """``all`` (conjunction) or ``any`` of ``parts``, in Kleene's logic."""
    if len(parts) == 1:
        return parts[0]
    texts = [f"({p.text})" if (" and " in p.text or " or " in p.text) else p.text for p in parts]
    text = (" and " if conjunction else " or ").join(texts)
    fields = tuple(dict.fromkeys(name for p in parts for name in p.fields))
    statuses = tuple(p.status for p in parts)
    explains = tuple(p.explain for p in parts)
    # all: a failure decides; any: a pass decides.
    decisive, otherwise = (FAIL, PASS) if conjunction else (PASS, FAIL)

    def status(subject: Any, now: datetime) -> ResultStatus:
        unknown = None
        for part in statuses:
            found = part(subject, now)
            if found is decisive:
                return decisive
            if found is not otherwise and unknown is not ERROR:
                unknown = found
        return otherwise if unknown is None else unknown

    combine = all_of if conjunction else any_of

    def explain_leaves(subject: Any, now: datetime) -> Decision:
        # Comparisons are cheap to explain: explain each once instead of testing it twice.
        return combine([part(subject, now) for part in explains], fields)

    def explain(subject: Any, now: datetime) -> Decision:
        found: list[ResultStatus] = []
        for part in statuses:
            result = part(subject, now)
            if result is PASS and decisive is PASS:  # any: the first true part is the reason
                return explains[len(found)](subject, now)
            found.append(result)
        if decisive in found:  # all: every failing part is a reason
            return merged(
                FAIL, [explains[i](subject, now) for i, s in enumerate(found) if s is FAIL]
            )
        if any(s is not otherwise for s in found):
            return unknown_of(
                [explains[i](subject, now) for i, s in enumerate(found) if s is not otherwise]
            )
        return combine([part(subject, now) for part in explains], fields)

    if all(p.leaf for p in parts):
        return Node(status, explain_leaves, text, fields)
    return Node(status, explain, text, fields)


def _leaf(node: Leaf, negate: bool, names: Names) -> Node:
    spec = names.field(node.field)
    if spec.type is FieldType.COLLECTION:
        raise ValueError(f"field {spec.name!r} is a collection: use a quantifier")
    op = INVERSE[node.op.value] if negate else node.op.value
    operand = names.operand(node.value, node.threshold, f"field {spec.name!r}")
    compared = comparison(spec, op, operand, node.value_type)
    text = describe_leaf(spec, op, operand, node.value_type)
    if names.collection is not None:
        return _record_leaf(spec, compared.holds, compared.explain, compared.decides_none, text)
    return _account_leaf(spec, compared.holds, compared.explain, compared.decides_none, text)


def _record_leaf(spec: FieldSpec, holds: Any, test: Any, decides_none: bool, text: str) -> Node:
    """A comparison on one record of a collection (the quantifier checked the group)."""
    name, fields = spec.name, (spec.name,)
    missing = Decision(MANUAL, f"{wording.label(name)} not recorded", fields)

    def status(record: Mapping[str, Any], now: datetime) -> ResultStatus:
        value = record.get(name)
        if value is None and not decides_none:
            return MANUAL
        return PASS if holds(value, now) else FAIL

    def explain(record: Mapping[str, Any], now: datetime) -> Decision:
        value = record.get(name)
        if value is None and not decides_none:
            return missing
        result: Decision = test(value, now, "")
        return result

    return Node(status, explain, text, fields, leaf=True)


def _account_leaf(spec: FieldSpec, holds: Any, test: Any, decides_none: bool, text: str) -> Node:
    """A comparison on one of the account's facts, unknown when its group cannot be used."""
    name, group, fields = spec.name, spec.group, (spec.name,)
    never = Decision(MANUAL, wording.never_recorded(group), fields)
    not_recorded = Decision(MANUAL, f"{wording.label(name)} was not recorded", fields)

    def status(facts: AccountFacts, now: datetime) -> ResultStatus:
        prov = facts.groups.get(group)
        if prov is None:
            return MANUAL
        if prov.status != "ok":
            return ERROR if prov.status == "error" else MANUAL
        value = facts.values.get(name)
        if value is None and not decides_none:
            return MANUAL
        return PASS if holds(value, now) else FAIL

    def explain(facts: AccountFacts, now: datetime) -> Decision:
        prov = facts.groups.get(group)
        if prov is None:
            return never
        if prov.status != "ok":
            return unavailable(spec, prov, fields)
        value = facts.values.get(name)
        if value is None and not decides_none:
            return not_recorded
        result: Decision = test(value, now, wording.provenance_note(prov, now))
        return result

    return Node(status, explain, text, fields, leaf=True)
