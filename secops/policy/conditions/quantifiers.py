"""Conditions over a collection (``admins``, ``apps``, ``credential.holders``): every, some, count.

The collection's fact group decides unknown first (never recorded: manual; source failed:
error). Then ``every`` is true on an empty collection and ``some`` false; ``count`` counts the
records its ``where`` selects (all of them without one), and is unknown when any record's answer
is. Reasons name the record that decided: "Admin Jane Doe: status is left, expected active".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from secops.policy.conditions import wording
from secops.policy.conditions.decision import ERROR, FAIL, MANUAL, PASS, Decision
from secops.policy.conditions.leaves import INVERSE, ORDERING, expectation
from secops.policy.conditions.nodes import Names, Node, unavailable
from secops.policy.facts import AccountFacts
from secops.policy.fields import FieldSpec, FieldType
from secops.policy.outcomes import ResultStatus
from secops.policy.spec import Condition, Leaf, Quantifier

CompileNode = Callable[[Condition, bool, Names], Node]
Records = Sequence[Mapping[str, Any]]
BodyStatus = Callable[[Records, datetime], ResultStatus]
BodyExplain = Callable[[Records, datetime, str], Decision]


def quantifier(
    node: Quantifier, negate: bool, spec: FieldSpec, inner: Names, compile_node: CompileNode
) -> Node:
    """``node`` over the collection ``spec`` (negated if asked); records resolve in ``inner``."""
    if spec.type is not FieldType.COLLECTION:
        raise ValueError(f"field {spec.name!r} is not a collection")
    chosen = [k for k in ("every", "some", "count") if getattr(node, k) is not None]
    if len(chosen) != 1:
        raise ValueError(f"collection {spec.name!r}: give exactly one of every, some, count")
    if node.where is not None and node.count is None:
        raise ValueError(f"collection {spec.name!r}: where goes only with count")
    if node.count is not None:
        status, explain, text = _count(node, negate, spec, inner, compile_node)
        return _over(spec, status, explain, text)
    condition = node.every if node.every is not None else node.some
    assert condition is not None  # noqa: S101 - exactly one was chosen above
    part = compile_node(condition, negate, inner)
    universal = (node.every is not None) is not negate  # not every P == some (not P)
    status, explain = (_every if universal else _some)(spec.name, part)
    kind = "every" if universal else "some"
    return _over(spec, status, explain, f"{kind} {wording.noun(spec.name, 1)}: {part.text}")


def _over(spec: FieldSpec, body_status: BodyStatus, body_explain: BodyExplain, text: str) -> Node:
    """The collection's group and list checks around a body that looks at the records."""
    name, group, fields = spec.name, spec.group, (spec.name,)
    never = Decision(MANUAL, wording.never_recorded(group), fields)
    plural = wording.noun(name)
    not_recorded = Decision(MANUAL, f"{plural[:1].upper()}{plural[1:]} were not recorded", fields)

    def status(facts: AccountFacts, now: datetime) -> ResultStatus:
        prov = facts.groups.get(group)
        if prov is None:
            return MANUAL
        if prov.status != "ok":
            return ERROR if prov.status == "error" else MANUAL
        records = facts.values.get(name)
        return MANUAL if records is None else body_status(records, now)

    def explain(facts: AccountFacts, now: datetime) -> Decision:
        prov = facts.groups.get(group)
        if prov is None:
            return never
        if prov.status != "ok":
            return unavailable(spec, prov, fields)
        records = facts.values.get(name)
        if records is None:
            return not_recorded
        return body_explain(records, now, wording.provenance_note(prov, now))

    return Node(status, explain, text, fields)


def _about(
    name: str, records: Records, picked: list[int], part: Node, now: datetime, note: str
) -> str:
    """``"Admin Jane Doe: status is left, expected active; and 1 more admin (...)"``."""
    first = picked[0]
    one = wording.noun(name, 1)
    label = records[first].get("label") or f"#{first + 1}"
    reason = part.explain(records[first], now).reason
    # "Admin Ada is not a named person", but "Admin Ada: status is left".
    joint = " " if reason.startswith(("is ", "are ")) else ": "
    text = f"{one[:1].upper()}{one[1:]} {label}{joint}{reason}"
    if len(picked) > 1:
        text += f"; and {len(picked) - 1} more {wording.noun(name, len(picked) - 1)}"
    return text + note


def _unknown(
    name: str, records: Records, found: list[ResultStatus], part: Node, now: datetime, note: str
) -> Decision:
    picked = [i for i, s in enumerate(found) if s is not PASS and s is not FAIL]
    status = ERROR if any(found[i] is ERROR for i in picked) else MANUAL
    return Decision(status, _about(name, records, picked, part, now, note), (name,))


def _every(name: str, part: Node) -> tuple[BodyStatus, BodyExplain]:
    inner = part.status

    def status(records: Records, now: datetime) -> ResultStatus:
        unknown = None
        for record in records:
            found = inner(record, now)
            if found is FAIL:
                return FAIL
            if found is not PASS and unknown is not ERROR:
                unknown = found
        return PASS if unknown is None else unknown

    def explain(records: Records, now: datetime, note: str) -> Decision:
        found = [inner(record, now) for record in records]
        failed = [i for i, s in enumerate(found) if s is FAIL]
        if failed:
            return Decision(FAIL, _about(name, records, failed, part, now, note), (name,))
        if any(s is not PASS for s in found):
            return _unknown(name, records, found, part, now, note)
        if not records:
            return Decision(PASS, f"No {wording.noun(name)} recorded{note}", (name,))
        many = f"{len(records)} {wording.noun(name, len(records))}"
        return Decision(PASS, f"All {many}: {part.text}{note}", (name,))

    return status, explain


def _some(name: str, part: Node) -> tuple[BodyStatus, BodyExplain]:
    inner = part.status

    def status(records: Records, now: datetime) -> ResultStatus:
        unknown = None
        for record in records:
            found = inner(record, now)
            if found is PASS:
                return PASS
            if found is not FAIL and unknown is not ERROR:
                unknown = found
        return FAIL if unknown is None else unknown

    def explain(records: Records, now: datetime, note: str) -> Decision:
        found = [inner(record, now) for record in records]
        if PASS in found:
            reason = _about(name, records, [found.index(PASS)], part, now, note)
            return Decision(PASS, reason, (name,))
        if any(s is not FAIL for s in found):
            return _unknown(name, records, found, part, now, note)
        if not records:
            return Decision(FAIL, f"No {wording.noun(name)} recorded{note}", (name,))
        many = f"{len(records)} {wording.noun(name, len(records))}"
        return Decision(FAIL, f"None of the {many} has: {part.text}{note}", (name,))

    return status, explain


def _count(
    node: Quantifier, negate: bool, spec: FieldSpec, inner: Names, compile_node: CompileNode
) -> tuple[BodyStatus, BodyExplain, str]:
    count = node.count
    assert count is not None  # noqa: S101 - the caller checked
    op = INVERSE[count.op.value] if negate else count.op.value
    bound = inner.operand(count.value, count.threshold, f"count of {spec.name!r}")
    if isinstance(bound, bool) or not isinstance(bound, int):
        raise ValueError(f"count of {spec.name!r}: needs a whole number, got {bound!r}")
    compare, expect = ORDERING[op], f", expected {expectation(op, bound)}"
    name = spec.name
    # The selector is never negated: "not (at least 2 named)" is "under 2 named".
    where = None if node.where is None else compile_node(node.where, False, inner)
    adjective = _adjective(node, inner)

    def status(records: Records, now: datetime) -> ResultStatus:
        if where is None:
            return PASS if compare(len(records), bound) else FAIL
        selected, unknown = 0, None
        for record in records:
            found = where.status(record, now)
            if found is PASS:
                selected += 1
            elif found is not FAIL and unknown is not ERROR:
                unknown = found
        if unknown is not None:
            return unknown
        return PASS if compare(selected, bound) else FAIL

    def counted(n: int, total: int) -> str:
        if where is None:
            return f"{n} {wording.noun(name, n)} recorded"
        if adjective is not None:
            return f"{n} {adjective} {wording.noun(name, n)} found"
        return f"{n} of {total} {wording.noun(name, total)} match ({where.text})"

    def explain(records: Records, now: datetime, note: str) -> Decision:
        if where is None:
            n = len(records)
        else:
            found = [where.status(record, now) for record in records]
            if any(s is not PASS and s is not FAIL for s in found):
                return _unknown(name, records, found, where, now, note)
            n = found.count(PASS)
        if compare(n, bound):
            return Decision(PASS, f"{counted(n, len(records))}{note}", (name,))
        return Decision(FAIL, f"{counted(n, len(records))}{expect}{note}", (name,))

    if where is None:
        selected = wording.noun(name)
    elif adjective is not None:
        selected = f"{adjective} {wording.noun(name)}"
    else:
        selected = f"{wording.noun(name)} where {where.text}"
    return status, explain, f"{expectation(op, bound)} {selected}"


def _adjective(node: Quantifier, names: Names) -> str | None:
    """``named`` for ``where: {field: named, op: eq, value: true}``: "1 named admin found"."""
    where = node.where
    if not isinstance(where, Leaf) or where.op.value != "eq" or where.value is not True:
        return None
    if names.field(where.field).type is not FieldType.BOOL:
        return None
    return wording.ADJECTIVES.get(where.field)
