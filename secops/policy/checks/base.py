"""What a check module is given and what it declares: ``CheckContext``, ``CheckMetadata``.

A check is for what a condition cannot say: a comparison with the previous run, or a linked
account's own posture. It returns the same :class:`~secops.policy.conditions.Decision` as a
condition, and follows the same rule: a fact it needs that was never recorded is ``manual``, a
fact whose source failed is ``error``, neither is a pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic_core import from_json

from secops.policy.conditions import Decision, wording
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import Group
from secops.policy.outcomes import ResultStatus

Lookup = Callable[[uuid.UUID], AccountFacts | None]


def no_lookup(account_id: uuid.UUID) -> AccountFacts | None:
    """A lookup that finds nothing: no other account's facts are at hand."""
    return None


@dataclass(frozen=True, slots=True)
class PreviousState:
    """One account's result under the same policy at the previous run.

    ``statuses`` by rule id; ``snapshot`` as :func:`secops.policy.evaluator.snapshot` made it;
    ``open_since`` the first time each still-open finding was seen.
    """

    statuses: Mapping[str, ResultStatus]
    snapshot: Mapping[str, Any]
    open_since: Mapping[str, datetime] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The value a field had at the previous run (JSON form: datetimes as ISO text)."""
        values = self.snapshot.get("values")
        return values.get(name) if isinstance(values, Mapping) else None

    def provenance(self, group: Group) -> Any:
        """The provenance (JSON form) a fact group had at the previous run; None if unrecorded."""
        return stored_provenance(self.snapshot, group)


def stored_provenance(snapshot: Mapping[str, Any], group: Group) -> Any:
    """A group's provenance (JSON form) in a stored snapshot; None if it was never recorded.

    A group recorded together with an earlier one is stored as that group's name (see
    :func:`secops.policy.evaluator.snapshot`): the name is followed.
    """
    groups = snapshot.get("groups")
    if not isinstance(groups, Mapping):
        return None
    found = groups.get(group.value)
    return groups.get(found) if isinstance(found, str) else found


class LazyJson(Mapping[str, Any]):
    """A JSON object read from its stored text the first time anything in it is asked for.

    Only a few checks look at an account's previous snapshot, and only for some accounts:
    parsing every one up front would cost more than the rest of reading the previous results.
    """

    __slots__ = ("_data", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._data: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        if self._data is None:
            self._data = from_json(self._text)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class StoredStatuses(Mapping[str, ResultStatus]):
    """A previous evaluation's statuses by rule id, read from its stored letters when asked
    (``by_code``; a letter it lacks: the rule was not evaluated then)."""

    __slots__ = ("_by_code", "_codes", "_index")

    def __init__(
        self, codes: str, index: Mapping[str, int], by_code: Mapping[str, ResultStatus]
    ) -> None:
        self._codes, self._index, self._by_code = codes, index, by_code

    def __getitem__(self, rule_id: str) -> ResultStatus:
        found = self._by_code.get(self._codes[self._index[rule_id]])
        if found is None:
            raise KeyError(rule_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return (r for r, i in self._index.items() if self._codes[i] in self._by_code)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class StoredSince(Mapping[str, datetime]):
    """When each previously open result was first seen, by rule id, parsed when asked."""

    __slots__ = ("_index", "_parse", "_seen")

    def __init__(
        self, seen: Mapping[int, str], index: Mapping[str, int], parse: Callable[[str], datetime]
    ) -> None:
        self._seen, self._index, self._parse = seen, index, parse

    def __getitem__(self, rule_id: str) -> datetime:
        return self._parse(self._seen[self._index[rule_id]])

    def __iter__(self) -> Iterator[str]:
        return (r for r, i in self._index.items() if i in self._seen)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything a check may use besides the account's own facts."""

    now: datetime
    thresholds: Mapping[str, Any]  # the rule's thresholds over the policy's, by name
    previous: PreviousState | None
    lookup: Lookup  # another account's facts in this run (a recovery mailbox), or None
    rule_id: str = ""  # the rule that named the check (its previous status is keyed by it)


@dataclass(frozen=True, slots=True)
class CheckMetadata:
    """What a check is called, what it looks at, and which thresholds the rule must give it."""

    id: str
    summary: str
    fields: tuple[str, ...]
    thresholds: tuple[str, ...] = ()


CheckFunction = Callable[[AccountFacts, CheckContext], Decision]

PASS: Final = ResultStatus.PASS
FAIL: Final = ResultStatus.FAIL
MANUAL: Final = ResultStatus.MANUAL
ERROR: Final = ResultStatus.ERROR
NOT_APPLICABLE: Final = ResultStatus.NOT_APPLICABLE


def unusable(
    facts: AccountFacts, group: Group, fields: tuple[str, ...], prefix: str = ""
) -> Decision | None:
    """The unknown verdict when ``group`` was never recorded or its source failed, else None."""
    prov = facts.groups.get(group)
    if prov is None:
        return Decision(MANUAL, prefix + wording.never_recorded(group), fields)
    if prov.status != "ok":
        status = ERROR if prov.status == "error" else MANUAL
        return Decision(status, prefix + wording.unavailable(group, prov), fields)
    return None


def note(facts: AccountFacts, group: Group, now: datetime) -> str:
    """`` (attested 3 days ago)`` for ``group``'s facts; nothing when it has no provenance."""
    prov: Provenance | None = facts.groups.get(group)
    return "" if prov is None else wording.provenance_note(prov, now)
