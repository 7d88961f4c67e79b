"""A policy compiled once and applied to accounts: one ``RuleResult`` per rule, in file order.

``CompiledPolicy.build(spec)`` compiles every condition into closures and resolves every check,
so evaluating an account is a loop over the rules: the ``applies_to`` test (memoised per
platform, tier, kind and status), then the rule's closure or check. ``snapshot`` and
``evidence`` turn facts into the JSON stored with a run: the values that decided a result, their
source and their age. Facts hold no secrets, so neither does anything made here.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic_core import from_json, to_json

from secops.policy.checks import (
    CHECKS,
    Check,
    CheckContext,
    Lookup,
    PreviousState,
    no_lookup,
    stored_provenance,
)
from secops.policy.conditions import Node, compile_node, wording
from secops.policy.conditions.memo import Key, Memo, memo_key
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import FIELDS, FieldType, Group
from secops.policy.outcomes import ResultStatus, RuleResult
from secops.policy.spec import AppliesTo, PolicyFile, Rule, Threshold

__all__ = [
    "CompiledPolicy",
    "PreviousState",
    "SnapshotWriter",
    "evidence",
    "evidence_from_snapshot",
    "provenance_json",
    "snapshot",
]

_APPLIES_FIELDS: Final = ("account.platform", "account.tier", "account.kind", "account.status")
_PASS: Final = ResultStatus.PASS
_UNSEEN: Final = object()


def _threshold_values(*layers: Mapping[str, Threshold]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({name: threshold.value for name, threshold in layer.items()})
    return merged


def _applicability_key(values: Mapping[str, Any]) -> str:
    # One string, not a tuple: a str caches its hash, so thirty rule look-ups hash it once.
    return "\x1f".join([values[name] for name in _APPLIES_FIELDS])


@dataclass(slots=True)
class _CompiledRule:
    """One rule ready to run: its compiled condition or its check, and memoised results."""

    rule: Rule
    thresholds: Mapping[str, Any]
    node: Node | None
    check: Check | None
    wanted: tuple[frozenset[str], ...]  # per _APPLIES_FIELDS; empty = any
    index: int = 0  # its place in the policy
    # Not-applicable results by applicability key (None: the rule applies).
    not_applicable: dict[str, RuleResult | None] = field(default_factory=dict)
    passed: RuleResult | None = None  # the shared pass result when passes go unexplained
    memo_key: tuple[Key, tuple[Group, ...]] | None = None  # how its verdicts are remembered

    def applicability(self, key: str, values: Mapping[str, Any]) -> RuleResult | None:
        """The not-applicable result for accounts like ``values``, or None when the rule applies."""
        found = self.not_applicable.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self.not_applicable[key] = self._not_applicable(values)
        return found  # type: ignore[return-value]  # _UNSEEN was replaced above

    def _not_applicable(self, values: Mapping[str, Any]) -> RuleResult | None:
        key = [values[name] for name in _APPLIES_FIELDS]
        missed = [i for i, wanted in enumerate(self.wanted) if wanted and key[i] not in wanted]
        if not missed:
            return None
        platform, tier, kind, status = (wording.show(value) for value in key)
        words = [status] if 3 in missed else []
        words += [kind] if 2 in missed else []
        reason = f"Does not apply to {' '.join([*words, platform, tier])} accounts"
        fields = tuple(_APPLIES_FIELDS[i] for i in missed)
        return RuleResult(self.rule.id, ResultStatus.NOT_APPLICABLE, reason, fields)

    def result(
        self,
        facts: AccountFacts,
        now: datetime,
        previous: PreviousState | None,
        lookup: Lookup,
        explain_passes: bool,
    ) -> RuleResult:
        """The rule's result on an account it applies to."""
        if not explain_passes and self.passed is not None:
            assert self.node is not None  # noqa: S101 - conditions have a shared pass
            if self.node.status(facts, now) is _PASS:
                return self.passed
        return self.decide(facts, now, previous, lookup)

    def remember(
        self,
        facts: AccountFacts,
        now: datetime,
        explain_passes: bool,
        memo: Memo[RuleResult],
        key: Hashable,
    ) -> RuleResult:
        """The result of a condition not found in ``memo``, kept there under ``key``."""
        found = self.result(facts, now, None, no_lookup, explain_passes)
        memo.keep(key, facts, found)
        return found

    def decide(
        self, facts: AccountFacts, now: datetime, previous: PreviousState | None, lookup: Lookup
    ) -> RuleResult:
        """The rule's explained result on an account it applies to."""
        if self.node is not None:
            decision = self.node.explain(facts, now)
        else:
            assert self.check is not None  # noqa: S101 - _compile_rule set one of them
            ctx = CheckContext(now, self.thresholds, previous, lookup, self.rule.id)
            decision = self.check(facts, ctx)
        details = dict(decision.details) if decision.details else {}
        return RuleResult(self.rule.id, decision.status, decision.reason, decision.fields, details)


def _wanted(applies_to: AppliesTo) -> tuple[frozenset[str], ...]:
    return (
        frozenset(p.value for p in applies_to.platforms),
        frozenset(t.value for t in applies_to.tiers),
        frozenset(k.value for k in applies_to.kinds),
        frozenset(s.value for s in applies_to.statuses),
    )


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy file whose conditions are compiled and checks resolved, ready to evaluate."""

    spec: PolicyFile
    _compiled: tuple[_CompiledRule, ...]
    # Per applicability key: each rule, or its not-applicable result.
    _plans: dict[str, tuple[_CompiledRule | RuleResult, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Per evaluation time: each rule's remembered verdicts (conditions on scalar fields only).
    _memos: dict[datetime, list[Memo[RuleResult] | None]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, spec: PolicyFile) -> CompiledPolicy:
        """Compile every rule of ``spec``; ``ValueError`` names the rule that cannot run."""
        compiled = []
        for index, rule in enumerate(spec.rules):
            thresholds = _threshold_values(spec.policy.thresholds, rule.thresholds)
            try:
                compiled.append(_compile_rule(rule, thresholds, index))
            except ValueError as exc:
                raise ValueError(f"rule {rule.id}: {exc}") from exc
        return cls(spec, tuple(compiled))

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rule ids in file order."""
        return tuple(item.rule.id for item in self._compiled)

    @property
    def rules(self) -> Mapping[str, Rule]:
        """The rules by id, in file order."""
        return {item.rule.id: item.rule for item in self._compiled}

    def fields_of(self, rule_id: str) -> tuple[str, ...]:
        """Every field the rule reads (its condition's, or its check's)."""
        item = self._item(rule_id)
        if item.node is not None:
            return item.node.fields
        assert item.check is not None  # noqa: S101 - one of them is set
        return item.check.metadata.fields

    def evaluate(
        self,
        facts: AccountFacts,
        *,
        now: datetime,
        previous: PreviousState | None = None,
        lookup: Lookup = no_lookup,
        explain_passes: bool = True,
    ) -> list[RuleResult]:
        """One result per rule, in file order, ``not_applicable`` included.

        ``previous`` is the account's state at the previous run of this policy (for checks that
        compare); ``lookup`` finds another account's facts in this run (a recovery mailbox).
        Every fail, manual and error carries its reason. With ``explain_passes=False`` a passing
        condition is only tested, not explained: its result says "Meets: <the condition in
        words>" and names every field the condition reads (about five times cheaper; use
        :meth:`explain` for the few passes that need their own sentence). Results may be shared
        between accounts (not-applicable ones, unexplained passes): treat them as read-only.
        """
        key = _applicability_key(facts.values)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = tuple(
                item.applicability(key, facts.values) or item for item in self._compiled
            )
        memos = self._memos.get(now)
        if memos is None:
            memos = self._memos_at(now)
        results: list[RuleResult] = []
        append = results.append
        for step in plan:
            if step.__class__ is RuleResult:
                append(step)  # not applicable
                continue
            item: _CompiledRule = step  # type: ignore[assignment]
            memo = memos[item.index]
            if memo is None or not memo.enabled:
                append(item.result(facts, now, previous, lookup, explain_passes))
                continue
            # Inline, as this runs for every rule of every account (see conditions.memo).
            decided_on = memo.key(facts)
            found = memo.verdicts.get(decided_on)
            if found is not None:
                memo.hits += 1
                if found.status is not _PASS:
                    append(found)
                    continue
                if not explain_passes:
                    append(item.passed or found)
                    continue
                if found is not item.passed:
                    append(found)
                    continue
            append(item.remember(facts, now, explain_passes, memo, decided_on))
        return results

    def _memos_at(self, now: datetime) -> list[Memo[RuleResult] | None]:
        if len(self._memos) > 1:  # one time per run: earlier runs' verdicts are of no use
            self._memos.clear()
        memos: list[Memo[RuleResult] | None] = [
            None if i.memo_key is None else Memo(*i.memo_key) for i in self._compiled
        ]
        self._memos[now] = memos
        return memos

    def explain(
        self,
        rule_id: str,
        facts: AccountFacts,
        *,
        now: datetime,
        previous: PreviousState | None = None,
        lookup: Lookup = no_lookup,
    ) -> RuleResult:
        """One rule's result on one account, always with its own sentence."""
        item = self._item(rule_id)
        excluded = item.applicability(_applicability_key(facts.values), facts.values)
        return excluded if excluded is not None else item.decide(facts, now, previous, lookup)

    def _item(self, rule_id: str) -> _CompiledRule:
        for item in self._compiled:
            if item.rule.id == rule_id:
                return item
        raise KeyError(rule_id)


def _compile_rule(rule: Rule, thresholds: Mapping[str, Any], index: int) -> _CompiledRule:
    if (rule.condition is None) == (rule.check is None):
        raise ValueError("a rule needs exactly one of condition or check")
    node = check = passed = key = None
    if rule.condition is not None:
        node = compile_node(rule.condition, thresholds)
        passed = RuleResult(rule.id, ResultStatus.PASS, f"Meets: {node.text}", node.fields)
        key = memo_key(node.fields)
    else:
        assert rule.check is not None  # noqa: S101 - exactly one is set, checked above
        check = CHECKS.get(rule.check)
        if check is None:
            raise ValueError(f"unknown check {rule.check!r} (known: {', '.join(sorted(CHECKS))})")
        missing = [name for name in check.metadata.thresholds if name not in thresholds]
        if missing:
            raise ValueError(f"check {check.id} needs thresholds: {', '.join(missing)}")
    return _CompiledRule(rule, thresholds, node, check, _wanted(rule.applies_to), index,
                         passed=passed, memo_key=key)  # fmt: skip


# -- JSON forms ------------------------------------------------------------------------------


_PLAIN: Final = frozenset({bool, int, float, str, type(None)})
# Few people attest facts: their ids are turned into text once, not once per group and account.
_ID_TEXT: dict[uuid.UUID, str] = {}
_ID_CACHE_SIZE: Final = 4096
# What the snapshot writer converts itself; everything else is plain JSON for to_json.
_FIELD_NAMES: Final = frozenset(FIELDS)
_DATETIME_FIELDS: Final = tuple(n for n, s in FIELDS.items() if s.type is FieldType.DATETIME)
_COLLECTIONS: Final = tuple(n for n, s in FIELDS.items() if s.type is FieldType.COLLECTION)
_GROUP_KEYS: Final = {group: to_json(group.value) + b":" for group in Group}
_GROUP_REFS: Final = {group: to_json(group.value) for group in Group}
_WRITER_CACHE_SIZE: Final = 65536


def _json(value: Any) -> Any:
    cls = value.__class__
    if cls in _PLAIN:
        return value
    if cls is datetime:
        return value.isoformat()
    if cls is list or cls is tuple:
        return [item if item.__class__ in _PLAIN else _json(item) for item in value]
    if cls is dict:
        return {
            key: item if item.__class__ in _PLAIN else _json(item) for key, item in value.items()
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, bool | int | float):
        return value
    return str(value)  # a StrEnum becomes its value, a UUID its text


def _id_text(value: uuid.UUID) -> str:
    text = _ID_TEXT.get(value)
    if text is None:
        text = str(value)
        if len(_ID_TEXT) >= _ID_CACHE_SIZE:
            _ID_TEXT.clear()
        _ID_TEXT[value] = text
    return text


def provenance_json(prov: Provenance | None, now: datetime) -> dict[str, Any] | None:
    """A group's provenance as JSON, with its age at ``now`` (None: never recorded)."""
    if prov is None:
        return None
    observed = prov.observed_at
    return _with_age(_stored_provenance(prov), observed, now)


def _stored_provenance(prov: Provenance) -> dict[str, Any]:
    observed, by = prov.observed_at, prov.attested_by
    return {
        "source": prov.source,
        "observed_at": None if observed is None else observed.isoformat(),
        "attested_by": None if by is None else _id_text(by),
        "status": prov.status,
        "reason": prov.reason,
    }


def _with_age(stored: Mapping[str, Any], observed: datetime | None, at: datetime) -> dict[str, Any]:
    found = dict(stored)
    found["age_days"] = None if observed is None else max(0, (at - observed).days)
    return found


def _record_json(record: Mapping[str, Any]) -> Any:
    for item in record.values():
        if item.__class__ not in _PLAIN:
            return _json(record)
    return record


def _values_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that are set, datetimes in ISO form (the only conversion to_json lacks)."""
    if not values.keys() <= _FIELD_NAMES:  # not an inventory account's: take the long way
        return {name: _json(value) for name, value in values.items() if value is not None}
    converted = {name: value for name, value in values.items() if value is not None}
    for name in _DATETIME_FIELDS:
        value = converted.get(name)
        if value is not None:
            converted[name] = value.isoformat() if value.__class__ is datetime else _json(value)
    for name in _COLLECTIONS:
        records = converted.get(name)
        if records:
            converted[name] = [_record_json(record) for record in records]
    return converted


class SnapshotWriter:
    """Snapshots of accounts as JSON text (see :func:`snapshot`), for one run's many accounts.

    Each provenance object (shared by the groups and accounts recorded together) is serialised
    once per writer, and nothing but datetimes is converted in Python.
    """

    def __init__(self) -> None:
        self._provenance: dict[int, tuple[Provenance, bytes]] = {}

    def _provenance_json(self, prov: Provenance) -> bytes:
        found = self._provenance.get(id(prov))
        if found is None or found[0] is not prov:
            if len(self._provenance) >= _WRITER_CACHE_SIZE:
                self._provenance.clear()
            found = self._provenance[id(prov)] = (prov, to_json(_stored_provenance(prov)))
        return found[1]

    def __call__(self, facts: AccountFacts) -> bytes:
        """The account's snapshot as JSON bytes."""
        groups = []
        written: dict[int, bytes] = {}  # a provenance already written, by the group it is under
        for group, prov in facts.groups.items():
            if prov is None:
                value = b"null"
            else:
                found = written.get(id(prov))
                if found is None:
                    written[id(prov)] = _GROUP_REFS[group]
                    found = self._provenance_json(prov)
                value = found
            groups.append(_GROUP_KEYS[group] + value)
        linked = facts.recovery_email_account_id
        return b"".join(
            (
                b'{"values":',
                to_json(_values_json(facts.values)),
                b',"groups":{',
                b",".join(groups),
                b'},"recovery_email_account_id":',
                b"null" if linked is None else to_json(str(linked)),
                b"}",
            )
        )


def snapshot(facts: AccountFacts, now: datetime) -> dict[str, Any]:
    """Every fact of the account as JSON, with each group's provenance; stored per run.

    ``{"values": {field: value}, "groups": {group: provenance | earlier group | None},
    "recovery_email_account_id": id | None}``: datetimes in ISO form, collections as lists of
    records; a field without a value is left out; a group recorded together with an earlier one
    (the same provenance) names that group instead of repeating it; None: never recorded. Ages
    are not stored, so the facts of an account that did not change read the same from one run
    to the next: :func:`evidence_from_snapshot` works them out for the run's time (``now``
    here). Read it back through :class:`PreviousState` or :func:`evidence_from_snapshot`.
    """
    stored: dict[str, Any] = from_json(SnapshotWriter()(facts))
    return stored


def _group_of(name: str) -> Group | None:
    spec = FIELDS.get(name)
    return spec.group if spec is not None else None


def evidence(facts: AccountFacts, fields: Iterable[str], now: datetime) -> dict[str, Any]:
    """The deciding facts of a result: each field's value, its group and that group's provenance.

    ``{field: {"value": ..., "group": "mfa", "provenance": {source, observed_at, attested_by,
    age_days, status, reason} | None}}``; a provenance of None means never recorded.
    """
    found: dict[str, Any] = {}
    for name in fields:
        group = _group_of(name)
        prov = facts.groups.get(group) if group is not None else None
        found[name] = {
            "value": _json(facts.values.get(name)),
            "group": group.value if group is not None else None,
            "provenance": provenance_json(prov, now),
        }
    return found


def evidence_from_snapshot(
    stored: Mapping[str, Any], fields: Collection[str], at: datetime | None = None
) -> dict[str, Any]:
    """The same evidence as :func:`evidence` at time ``at`` (the run's), read from a stored
    :func:`snapshot`; without ``at`` the provenance has no age."""
    values: Mapping[str, Any] = stored.get("values") or {}
    found: dict[str, Any] = {}
    for name in fields:
        group = _group_of(name)
        prov = stored_provenance(stored, group) if group is not None else None
        if prov is not None and at is not None:
            observed = prov.get("observed_at")
            prov = _with_age(
                prov, None if observed is None else datetime.fromisoformat(observed), at
            )
        found[name] = {
            "value": values.get(name),
            "group": group.value if group is not None else None,
            "provenance": prov,
        }
    return found
