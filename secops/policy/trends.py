"""How a result moved between an account's evaluations, and the diff between two runs.

Between an account's previous evaluation under the same policy and this one, a result is:

- ``new``: open now (fail, manual or error); absent or not applicable before;
- ``regressed``: open now; it passed before;
- ``unchanged``: open now and open before (fail may have become manual or error: still open);
  its ``first_seen_at`` is carried over from the earlier finding;
- ``resolved``: passes or no longer applies now; it was open before.

A result that was not open before and is not open now is no finding at all. ``first_seen_at``
of a new or regressed finding is the run's time; a resolved finding keeps the time it was first
seen open, so the time it took to fix is ``resolved run time - first_seen_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from secops.policy.outcomes import OPEN_STATUSES, Change, ResultStatus

_OPEN_VALUES: Final = frozenset(status.value for status in OPEN_STATUSES)


def is_open(status: ResultStatus | str | None) -> bool:
    """True for fail, manual and error."""
    return status is not None and str(status) in _OPEN_VALUES


def classify(previous: ResultStatus | str | None, current: ResultStatus | str) -> Change | None:
    """The change of one (rule, account) result; None when it is neither open now nor was."""
    if is_open(current):
        if is_open(previous):
            return Change.UNCHANGED
        if previous is not None and str(previous) == ResultStatus.PASS.value:
            return Change.REGRESSED
        return Change.NEW
    if is_open(previous):
        return Change.RESOLVED
    return None


def first_seen(change: Change, *, carried: datetime | None, now: datetime) -> datetime:
    """When the finding was first seen open: carried over unless it is new or regressed."""
    if change in (Change.NEW, Change.REGRESSED) or carried is None:
        return now
    return carried


@dataclass(frozen=True, slots=True)
class DiffEntry:
    """How one rule's result on one account moved from the first run to the second."""

    account_id: uuid.UUID
    rule_id: str
    change: Change
    before: str | None
    after: str | None


def diff_statuses(
    before: Mapping[uuid.UUID, Mapping[str, str]],
    after: Mapping[uuid.UUID, Mapping[str, str]],
) -> list[DiffEntry]:
    """Every (account, rule) of the second run that is open in either run, classified, ordered
    by account and rule.

    ``before`` and ``after`` map an account to its ``{rule_id: status}`` in each run. Only the
    second run's accounts and rules are compared: an account it did not evaluate (outside its
    scope) or a rule its policy no longer has is not reported; an account or rule the first run
    did not have counts as never evaluated there.
    """
    entries: list[DiffEntry] = []
    for account_id in sorted(after):
        old = before.get(account_id, {})
        new = after[account_id]
        for rule_id in sorted(new):
            was, now = old.get(rule_id), new[rule_id]
            change = classify(was, now)
            if change is not None:
                entries.append(DiffEntry(account_id, rule_id, change, was, now))
    return entries


def count_changes(entries: Iterable[DiffEntry]) -> dict[str, int]:
    """How many entries of each change class (every class present, zero included)."""
    counts = {change.value: 0 for change in Change}
    for entry in entries:
        counts[entry.change.value] += 1
    return counts
