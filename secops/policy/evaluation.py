"""Turn one run's rule results into rows: per-account results, findings and mission tallies.

:class:`RunRows` takes each account's results as the evaluator returns them, classifies every
result against the account's previous evaluation (:mod:`secops.policy.trends`), counts and
weighs it (:mod:`secops.policy.scoring`) and keeps the rows to write. It does no I/O: the
service hands its rows to the repository in batches, so memory stays bounded however many
accounts a run covers.

A result row stores its statuses compactly: one letter per rule (:data:`STATUS_CODES`) in the
order of the run's ``rule_ids``, and ``first_seen`` as ``{ISO time: [rule positions]}``; both
are read back through :func:`decode_statuses` and :func:`decode_first_seen`. This loop runs
once per account, so it works on those strings: counts and weights are worked out once per
distinct string of statuses, and an account whose statuses did not change since its previous
evaluation keeps its stored ``first_seen`` as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol

from pydantic_core import from_json, to_json

from secops.policy.checks.base import LazyJson, PreviousState, StoredSince, StoredStatuses
from secops.policy.outcomes import Change, ResultStatus, RuleResult
from secops.policy.scoring import SEVERITY_WEIGHTS, Tally
from secops.policy.spec import Severity

# One letter per rule in a stored result's ``statuses``, in the order of the run's rules.
STATUS_CODES: Final[Mapping[ResultStatus, str]] = {
    ResultStatus.PASS: "p",
    ResultStatus.FAIL: "f",
    ResultStatus.MANUAL: "m",
    ResultStatus.ERROR: "e",
    ResultStatus.NOT_APPLICABLE: "n",
}
STATUS_BY_CODE: Final[Mapping[str, ResultStatus]] = {c: s for s, c in STATUS_CODES.items()}
# In statuses aligned with another run's rules: that run's policy did not have the rule.
NOT_EVALUATED: Final = "-"
_VALUE_BY_CODE: Final[Mapping[str, str]] = {c: s.value for c, s in STATUS_BY_CODE.items()}
_VALUE_BY_STATUS: Final[Mapping[ResultStatus, str]] = {s: s.value for s in ResultStatus}
_OPEN_CODES: Final = frozenset("fme")
_PASS: Final = ResultStatus.PASS
_NEW, _REGRESSED = Change.NEW.value, Change.REGRESSED.value
_UNCHANGED, _RESOLVED = Change.UNCHANGED.value, Change.RESOLVED.value
_NO_FIRST_SEEN: Final = b"{}"
_CACHE_SIZE: Final = 16384


def decode_statuses(codes: str, rule_ids: Sequence[str]) -> dict[str, str]:
    """A stored ``statuses`` as ``{rule_id: status}``, given its run's ``rule_ids``."""
    return {rule: _VALUE_BY_CODE[code] for rule, code in zip(rule_ids, codes, strict=True)}


def decode_first_seen(
    stored: Mapping[str, Sequence[int]], rule_ids: Sequence[str]
) -> dict[str, str]:
    """A stored ``first_seen`` as ``{rule_id: ISO time}``, given its run's ``rule_ids``."""
    return {
        rule_ids[position]: time for time, positions in stored.items() for position in positions
    }


class Alignment:
    """Where each of this run's rules was in an earlier run's ``rule_ids`` (policies change)."""

    def __init__(self, before: Sequence[str], now: Sequence[str]) -> None:
        self.same = list(before) == list(now)
        where = {rule_id: position for position, rule_id in enumerate(before)}
        self._from = [where.get(rule_id, -1) for rule_id in now]
        self.moved = {old: new for new, old in enumerate(self._from) if old >= 0}

    def codes(self, stored: str) -> str:
        """Stored statuses re-ordered as this run's rules, ``-`` where a rule is new."""
        if self.same:
            return stored
        return "".join([stored[old] if old >= 0 else NOT_EVALUATED for old in self._from])


@dataclass(frozen=True, slots=True)
class Previous:
    """An account's newest stored result under the same policy, in this run's rule order."""

    codes: str  # a status letter per rule of this run; NOT_EVALUATED where there was none
    first_seen: Mapping[int, str]  # by rule position: when each open result was first seen
    snapshot: Mapping[str, Any]
    snapshot_text: str = ""  # as stored, to tell whether the facts changed
    snapshot_run: Any = None  # the run whose row holds it (encoded for the driver)
    first_seen_text: str | None = None  # the stored form, when the rule order is the same


class Encoder(Protocol):
    """How values reach the driver (``secops.core.fastinsert.Encoder``)."""

    uuid: Callable[[Any], Any]
    time: Callable[[Any], Any]
    json: Callable[[Any], Any]
    json_text: Callable[[bytes | str], Any]  # a value already serialised to JSON


def _same(value: Any) -> Any:
    return value


class PlainValues:
    """Values left as Python objects: for rows handed to the ORM."""

    def __init__(self) -> None:
        self.uuid: Callable[[Any], Any] = _same
        self.time: Callable[[Any], Any] = _same
        self.json: Callable[[Any], Any] = _same
        self.json_text: Callable[[bytes | str], Any] = from_json


# Column order of the tuples RunRows makes (the repository inserts them in this order).
RESULT_COLUMNS: Final = (
    "run_id", "account_id", "policy_id", "run_seq", "mission_id", "statuses", "first_seen",
    "snapshot", "snapshot_run_id", "pass_count", "fail_count", "manual_count", "error_count",
    "na_count", "weight_pass", "weight_total",
)  # fmt: skip
FINDING_COLUMNS: Final = (
    "run_id", "account_id", "mission_id", "rule_id", "status", "reason_id", "fields", "details",
    "change", "previous_status", "first_seen_at",
)  # fmt: skip
REASON_COLUMNS: Final = ("run_id", "id", "text")


class _Pattern(NamedTuple):
    """What one string of statuses adds up to: counts (pass, fail, manual, error,
    not_applicable), weights, and the positions of its open results."""

    counts: tuple[int, int, int, int, int]
    weight_pass: int
    weight_total: int
    open: tuple[int, ...]


@dataclass
class RunRows:
    """The rows of one run, filled account by account and drained in batches.

    Rows are tuples in :data:`RESULT_COLUMNS` / :data:`FINDING_COLUMNS` order, their values
    already encoded for the driver by ``encoder`` (left as Python objects by default).
    ``rules`` is the run's rule table in file order: the order of each account's results.
    """

    run_id: uuid.UUID
    run_seq: int
    policy_id: str
    now: datetime
    rules: Mapping[str, Mapping[str, Any]]
    encoder: Encoder = field(default_factory=PlainValues)
    results: list[tuple[Any, ...]] = field(default_factory=list)
    findings: list[tuple[Any, ...]] = field(default_factory=list)
    reasons: list[tuple[Any, ...]] = field(default_factory=list)
    _patterns: dict[str, _Pattern] = field(default_factory=dict)
    # Accounts by mission and string of statuses: the tallies are worked out at the end.
    _tally: dict[uuid.UUID, dict[str, int]] = field(default_factory=dict)
    _times: dict[str, datetime] = field(default_factory=dict)
    _stored_times: dict[str, Any] = field(default_factory=dict)
    _seen: dict[str, dict[int, str]] = field(default_factory=dict)
    _ids: dict[uuid.UUID, Any] = field(default_factory=dict)
    _bodies: dict[int, tuple[RuleResult, tuple[Any, ...]]] = field(default_factory=dict)
    _reason_ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rule_ids = tuple(self.rules)
        self._index = {rule_id: position for position, rule_id in enumerate(self.rule_ids)}
        self._weights = tuple(
            SEVERITY_WEIGHTS[Severity(rule["severity"])] for rule in self.rules.values()
        )
        self._now_iso = self.now.isoformat()
        self._times[self._now_iso] = self.now
        self._run = self.encoder.uuid(self.run_id)

    def _time(self, text: str) -> datetime:
        # Most carried first-seen times are one of a few run times: parse each once.
        found = self._times.get(text)
        if found is None:
            found = self._times[text] = datetime.fromisoformat(text)
        return found

    def _stored_time(self, text: str) -> Any:
        found = self._stored_times.get(text)
        if found is None:
            found = self._stored_times[text] = self.encoder.time(self._time(text))
        return found

    def _pattern(self, codes: str) -> _Pattern:
        if len(codes) != len(self.rule_ids):
            raise ValueError(f"{len(codes)} results for {len(self.rule_ids)} rules")
        counts = [0, 0, 0, 0, 0]
        weight_pass = weight_total = 0
        for code, weight in zip(codes, self._weights, strict=True):
            counts["pfmen".index(code)] += 1
            if code != "n":
                weight_total += weight
                weight_pass += weight if code == "p" else 0
        opened = tuple(i for i, code in enumerate(codes) if code in _OPEN_CODES)
        found = _Pattern((counts[0], counts[1], counts[2], counts[3], counts[4]), weight_pass,
                         weight_total, opened)  # fmt: skip
        self._patterns[codes] = found
        return found

    def alignment(self, rule_ids: Sequence[str]) -> Alignment:
        """How an earlier run's statuses (stored in its ``rule_ids`` order) map onto this run's."""
        return Alignment(rule_ids, self.rule_ids)

    def previous(
        self,
        alignment: Alignment,
        statuses: str,
        first_seen: str,
        snapshot: str,
        holder: Any,
    ) -> Previous:
        """An account's previous result from its stored columns: the JSON ones as text, the
        snapshot as the row of run ``holder`` (encoded for the driver) holds it."""
        if not alignment.same:
            seen = {alignment.moved[p]: t for t, ps in from_json(first_seen).items()
                    for p in ps if p in alignment.moved}  # fmt: skip
            return Previous(alignment.codes(statuses), seen, LazyJson(snapshot), snapshot, holder)
        found = self._seen.get(first_seen)
        if found is None:
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            found = {p: t for t, ps in from_json(first_seen).items() for p in ps}
            self._seen[first_seen] = found
        return Previous(statuses, found, LazyJson(snapshot), snapshot, holder, first_seen)

    def previous_state(self, previous: Previous) -> PreviousState:
        """What checks are told of the previous evaluation (read lazily: few checks look)."""
        return PreviousState(
            statuses=StoredStatuses(previous.codes, self._index, STATUS_BY_CODE),
            snapshot=previous.snapshot,
            open_since=StoredSince(previous.first_seen, self._index, self._time),
        )

    def _id(self, value: uuid.UUID) -> Any:
        found = self._ids.get(value)
        if found is None:
            found = self._ids[value] = self.encoder.uuid(value)
        return found

    def add(
        self,
        account_id: uuid.UUID,
        mission_id: uuid.UUID,
        results: Sequence[RuleResult],
        previous: Previous | None,
        snapshot: bytes,
        explain: Callable[[str], RuleResult] | None = None,
    ) -> None:
        """Record one account's results (one per rule, in rule order) against its previous
        evaluation.

        ``snapshot`` is the account's facts as JSON (:class:`~secops.policy.evaluator.
        SnapshotWriter`); when it reads as the previous one, the row refers to the row that
        holds it instead of repeating it. ``explain(rule_id)`` gives a rule's result with its
        own sentence: a finding resolved by a pass is stored with it when passes were evaluated
        unexplained.
        """
        codes = "".join([STATUS_CODES[result.status] for result in results])
        pattern = self._patterns.get(codes) or self._pattern(codes)
        by_codes = self._tally.get(mission_id)
        if by_codes is None:
            by_codes = self._tally[mission_id] = {}
        by_codes[codes] = by_codes.get(codes, 0) + 1
        run, account = self._run, self.encoder.uuid(account_id)
        head = (run, account, self._id(mission_id))
        stored_time, now_iso, bodies = self._stored_time, self._now_iso, self._bodies
        times = self._stored_times
        was_codes = previous.codes if previous is not None else ""
        was_seen = previous.first_seen if previous is not None else {}
        was_first_seen = previous.first_seen_text if previous is not None else None
        # The steady state: every open result was open before, nothing opened or closed.
        same = was_codes == codes and was_first_seen is not None
        append = self.findings.append
        seen_at: list[tuple[int, str]] = []
        for i in pattern.open:
            result = results[i]
            found = bodies.get(id(result))
            body = found[1] if found is not None and found[0] is result else self._body(result)
            if same:
                seen = was_seen.get(i, now_iso)
                append(head + body + (_UNCHANGED, _VALUE_BY_CODE[codes[i]],
                                      times.get(seen) or stored_time(seen)))  # fmt: skip
                continue
            was = was_codes[i] if was_codes else NOT_EVALUATED
            if was in _OPEN_CODES:
                change, seen = _UNCHANGED, was_seen.get(i, now_iso)
            else:
                change, seen = (_REGRESSED if was == "p" else _NEW), now_iso
            seen_at.append((i, seen))
            append(head + body + (change, _VALUE_BY_CODE.get(was), stored_time(seen)))
        if was_codes and was_codes != codes:
            for i in self._open_positions(was_codes):
                if codes[i] in _OPEN_CODES:
                    continue
                result = results[i]
                if result.status is _PASS and explain is not None:
                    result = explain(result.rule_id)
                seen = was_seen.get(i, now_iso)
                append(head + self._body(result)
                       + (_RESOLVED, _VALUE_BY_CODE[was_codes[i]], stored_time(seen)))  # fmt: skip
        if same and was_first_seen is not None:  # the stored first_seen holds as it was
            first_seen = self.encoder.json_text(was_first_seen)
        else:
            first_seen = self._first_seen(seen_at)
        if previous is not None and previous.snapshot_text.encode() == snapshot:
            stored, holder = None, previous.snapshot_run  # the same facts: stored once
        else:
            stored, holder = self.encoder.json_text(snapshot), run
        self.results.append(
            (run, account, self.policy_id, self.run_seq, head[2], codes, first_seen, stored, holder,
             *pattern.counts, pattern.weight_pass, pattern.weight_total)
        )  # fmt: skip

    def _body(self, result: RuleResult) -> tuple[Any, ...]:
        """A finding's rule, status, reason, fields and details: made once per result object
        (results are shared between accounts decided alike)."""
        details = self.encoder.json(result.details) if result.details else None
        body = (result.rule_id, _VALUE_BY_STATUS[result.status], self._reason_id(result.reason),
                ",".join(result.fields)[:1000], details)  # fmt: skip
        if len(self._bodies) >= _CACHE_SIZE:
            self._bodies.clear()
        self._bodies[id(result)] = (result, body)
        return body

    def _reason_id(self, reason: str) -> int:
        """The number of a reason sentence in this run, its row queued on first use."""
        text = reason[:1000]
        found = self._reason_ids.get(text)
        if found is None:
            found = self._reason_ids[text] = len(self._reason_ids)
            self.reasons.append((self._run, found, text))
        return found

    def _open_positions(self, codes: str) -> tuple[int, ...]:
        if NOT_EVALUATED not in codes:
            return (self._patterns.get(codes) or self._pattern(codes)).open
        return tuple(i for i, code in enumerate(codes) if code in _OPEN_CODES)

    def _first_seen(self, seen_at: Iterable[tuple[int, str]]) -> Any:
        """The stored ``first_seen``: rule positions by the time each was first seen open."""
        by_time: dict[str, list[int]] = {}
        for position, time in seen_at:
            by_time.setdefault(time, []).append(position)
        return self.encoder.json_text(to_json(by_time) if by_time else _NO_FIRST_SEEN)

    def drain(
        self,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Hand over the rows gathered so far (results, findings, new reasons); start afresh."""
        drained = self.results, self.findings, self.reasons
        self.results, self.findings, self.reasons = [], [], []
        return drained

    def tallies(self) -> dict[uuid.UUID, Tally]:
        """Each mission's counts and weights."""
        found: dict[uuid.UUID, Tally] = {}
        for mission_id, by_codes in self._tally.items():
            tally = found[mission_id] = Tally()
            for codes, accounts in by_codes.items():
                pattern = self._patterns[codes]
                passed, failed, manual, error, not_applicable = pattern.counts
                tally.accounts += accounts
                tally.passed += accounts * passed
                tally.failed += accounts * failed
                tally.manual += accounts * manual
                tally.error += accounts * error
                tally.not_applicable += accounts * not_applicable
                tally.weight_pass += accounts * pattern.weight_pass
                tally.weight_total += accounts * pattern.weight_total
        return found

    def total(self) -> Tally:
        """Every account's counts and weights together."""
        total = Tally()
        for tally in self.tallies().values():
            total.merge(tally)
        return total

    def score_rows(self) -> list[dict[str, Any]]:
        """One score row per mission evaluated and one for the whole run (mission None)."""
        tallies = self.tallies()
        rows = [self._score_row(mission_id, t) for mission_id, t in tallies.items()]
        rows.append(self._score_row(None, self.total()))
        return rows

    def _score_row(self, mission_id: uuid.UUID | None, tally: Tally) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "run_id": self.run_id,
            "run_seq": self.run_seq,
            "policy_id": self.policy_id,
            "mission_id": mission_id,
            "account_count": tally.accounts,
            "pass_count": tally.passed,
            "fail_count": tally.failed,
            "manual_count": tally.manual,
            "error_count": tally.error,
            "na_count": tally.not_applicable,
            "weight_pass": tally.weight_pass,
            "weight_total": tally.weight_total,
            "score": tally.score,
        }
