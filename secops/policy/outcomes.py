"""What an evaluation says about one rule on one account, and how a finding moved between runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


class ResultStatus(StrEnum):
    """The result of one rule on one account.

    ``manual``: a fact the rule needs was never attested; ``error``: its source failed. Neither is
    ever a pass. ``not_applicable``: the rule's ``applies_to`` excludes the account.
    """

    PASS = "pass"  # noqa: S105 (a status, not a password)
    FAIL = "fail"
    MANUAL = "manual"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


# Statuses that make an open finding (something an officer must act on).
OPEN_STATUSES: Final = frozenset({ResultStatus.FAIL, ResultStatus.MANUAL, ResultStatus.ERROR})


class Change(StrEnum):
    """How a result moved since the account's previous evaluation under the same policy."""

    NEW = "new"  # open now; no earlier result, or it was not applicable
    REGRESSED = "regressed"  # open now; it passed last time
    UNCHANGED = "unchanged"  # open now and open last time (first_seen_at carried over)
    RESOLVED = "resolved"  # passes (or no longer applies) now; it was open last time


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict on one account.

    ``reason`` is one sentence a channel manager can read ("MFA is off (attested 3 days ago)").
    ``fields`` names the facts that decided the verdict; the evidence shown with the result is
    those facts' values with their source and age (see ``AccountFacts.evidence``).
    """

    rule_id: str
    status: ResultStatus
    reason: str
    fields: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # extra evidence a check module adds
