"""A condition's verdict on one account (``Decision``) and the three-valued ways to combine them.

A condition is *true* (``pass``), *false* (``fail``) or *unknown*; unknown is ``manual`` when a
fact was never recorded and ``error`` when its source failed, and it is never a pass. ``all`` is
false if any part is false, else unknown if any part is unknown, else true; ``any`` is true if any
part is true, else unknown if any is, else false (Kleene's strong logic). Between unknowns, an
error decides over a missing attestation: someone must fix the connector first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from secops.policy.outcomes import ResultStatus

PASS: Final = ResultStatus.PASS
FAIL: Final = ResultStatus.FAIL
MANUAL: Final = ResultStatus.MANUAL
ERROR: Final = ResultStatus.ERROR
UNKNOWN: Final = frozenset({MANUAL, ERROR})
# Reasons joined into one sentence before the rest are counted ("...; and 2 more").
_SHOWN_REASONS: Final = 3


class Decision(NamedTuple):
    """The verdict, one readable sentence, and the facts that decided it."""

    status: ResultStatus
    reason: str
    fields: tuple[str, ...] = ()
    details: Mapping[str, Any] | None = None  # extra evidence a check module adds

    @property
    def known(self) -> bool:
        """True when the verdict is a pass or a fail."""
        return self.status is PASS or self.status is FAIL


def join_reasons(decisions: Sequence[Decision]) -> str:
    """The reasons as one sentence, each said once, the tail counted."""
    if len(decisions) == 2:
        first, second = decisions[0].reason, decisions[1].reason
        if first == second or _subsumed(first, second):
            return second
        if _subsumed(second, first):
            return first
        return f"{first}; {second}"
    if len(decisions) == 1:
        return decisions[0].reason
    reasons = list(dict.fromkeys([d.reason for d in decisions]))
    reasons = [r for r in reasons if not any(_subsumed(r, other) for other in reasons)]
    if len(reasons) <= _SHOWN_REASONS:
        return "; ".join(reasons)
    shown = "; ".join(reasons[:_SHOWN_REASONS])
    return f"{shown}; and {len(reasons) - _SHOWN_REASONS} more"


def _subsumed(reason: str, other: str) -> bool:
    """``other`` says all ``reason`` says: it starts with the same fact and ends with its note.

    "Recovery e-mail domain is gmail.com (attested today)" adds nothing to "Recovery e-mail
    domain is gmail.com, expected one of ministry.example (attested today)".
    """
    if len(other) <= len(reason):
        return False
    cut = reason.rfind(" (") if reason[-1:] == ")" else -1
    if cut <= 0:
        return other.startswith(reason)
    return other.startswith(reason[:cut]) and other.endswith(reason[cut:])


def join_fields(decisions: Sequence[Decision]) -> tuple[str, ...]:
    """Every deciding field once, in order."""
    fields = decisions[0].fields
    for decision in decisions[1:]:
        more = decision.fields
        if more != fields:
            fields = fields + tuple(name for name in more if name not in fields)
    return fields


def merged(status: ResultStatus, decisions: Sequence[Decision]) -> Decision:
    """One decision standing for ``decisions``, all of ``status``."""
    if len(decisions) == 1:
        return decisions[0]
    return Decision(status, join_reasons(decisions), join_fields(decisions))


def unknown_of(decisions: Sequence[Decision]) -> Decision:
    """The unknown verdict of ``decisions`` (all unknown): error if any is, reasons errors-first."""
    if len(decisions) == 1:
        return decisions[0]
    errors = [d for d in decisions if d.status is ERROR]
    if not errors:
        return merged(MANUAL, decisions)
    ordered = errors + [d for d in decisions if d.status is not ERROR]
    return Decision(ERROR, join_reasons(ordered), join_fields(ordered))


def all_of(decisions: Sequence[Decision], fields: tuple[str, ...] | None = None) -> Decision:
    """Kleene AND: false if any is false, else unknown if any is unknown, else true.

    ``fields``, when given, are the fields of every part: the evidence of a pass.
    """
    if len(decisions) == 1:
        return decisions[0]
    failed = [d for d in decisions if d.status is FAIL]
    if failed:
        return failed[0] if len(failed) == 1 else merged(FAIL, failed)
    unknown = [d for d in decisions if d.status is not PASS]
    if unknown:
        return unknown_of(unknown)
    return Decision(PASS, join_reasons(decisions), fields or join_fields(decisions))


def any_of(decisions: Sequence[Decision], fields: tuple[str, ...] | None = None) -> Decision:
    """Kleene OR: true if any is true, else unknown if any is unknown, else false.

    ``fields``, when given, are the fields of every part: the evidence of a failure.
    """
    if len(decisions) == 1:
        return decisions[0]
    for decision in decisions:
        if decision.status is PASS:
            return decision
    unknown = [d for d in decisions if d.status is not FAIL]
    if unknown:
        return unknown_of(unknown)
    return Decision(FAIL, join_reasons(decisions), fields or join_fields(decisions))
