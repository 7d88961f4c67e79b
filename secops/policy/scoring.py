"""The severity-weighted score of an account, a mission or the ministry, and the counts beside it.

Each result weighs its rule's severity: critical 10, high 5, medium 3, low 1, info 0.

    score = 100 * sum(weight of pass) / sum(weight of pass, fail, manual and error)

rounded half-up to one decimal. ``not_applicable`` results are left out of both sums; when no
weighted rule applies the score is ``None`` (nothing to score), never 100. ``manual`` and
``error`` count against the score like ``fail``: missing evidence is not compliance.

A mission's or the ministry's score adds up the weights of all its accounts' results and
divides once; it is not an average of the accounts' percentages, so an account with thirty
applicable rules weighs more than one with three.

Waivers never change the score. Open results covered by an active waiver are counted as
``waived`` and reported beside the score, so granting a waiver cannot raise the headline figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from secops.policy.outcomes import ResultStatus
from secops.policy.spec import Severity

SEVERITY_WEIGHTS: Final[Mapping[Severity, int]] = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 5,
    Severity.MEDIUM: 3,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


def weight_of(severity: Severity | str) -> int:
    """The weight of a result of a rule with this severity."""
    return SEVERITY_WEIGHTS[Severity(severity)]


def score(weight_pass: int, weight_total: int) -> float | None:
    """``100 * weight_pass / weight_total``, rounded half-up to one decimal; None when nothing
    weighted applies."""
    if weight_total < 0 or not 0 <= weight_pass <= weight_total:
        raise ValueError("weights must satisfy 0 <= weight_pass <= weight_total")
    if weight_total == 0:
        return None
    # Integer arithmetic: exact, and half-up rather than float round()'s half-even.
    tenths = (2000 * weight_pass + weight_total) // (2 * weight_total)
    return tenths / 10


@dataclass(slots=True)
class Tally:
    """Counts per status and the two weight sums, for one account or many."""

    passed: int = 0
    failed: int = 0
    manual: int = 0
    error: int = 0
    not_applicable: int = 0
    weight_pass: int = 0
    weight_total: int = 0
    accounts: int = 0

    def add(self, status: ResultStatus, severity: Severity | str) -> None:
        """Count one result of a rule with ``severity``."""
        if status is ResultStatus.NOT_APPLICABLE:
            self.not_applicable += 1
            return
        weight = SEVERITY_WEIGHTS[Severity(severity)]
        self.weight_total += weight
        if status is ResultStatus.PASS:
            self.passed += 1
            self.weight_pass += weight
            return
        if status is ResultStatus.FAIL:
            self.failed += 1
        elif status is ResultStatus.MANUAL:
            self.manual += 1
        else:
            self.error += 1

    def merge(self, other: Tally) -> None:
        """Add another tally's counts and weights to this one."""
        self.passed += other.passed
        self.failed += other.failed
        self.manual += other.manual
        self.error += other.error
        self.not_applicable += other.not_applicable
        self.weight_pass += other.weight_pass
        self.weight_total += other.weight_total
        self.accounts += other.accounts

    @property
    def open(self) -> int:
        """Results an officer must act on: fail, manual and error."""
        return self.failed + self.manual + self.error

    @property
    def score(self) -> float | None:
        """The weighted score of everything tallied (see the module docstring)."""
        return score(self.weight_pass, self.weight_total)


def tally(results: Iterable[tuple[ResultStatus, Severity | str]]) -> Tally:
    """A tally of ``(status, severity)`` pairs, e.g. one account's results."""
    total = Tally()
    for status, severity in results:
        total.add(status, severity)
    return total
