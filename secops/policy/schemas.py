"""API shapes of the policy engine: loaded policies, runs, findings, results, scores and diffs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from secops.core.pagination import Page
from secops.policy.models import RunStatus, RunTrigger
from secops.policy.outcomes import Change, ResultStatus
from secops.policy.spec import POLICY_ID, RULE_ID, Criticality, Severity

PolicyId = Annotated[str, StringConstraints(max_length=63, pattern=POLICY_ID.pattern)]
RuleId = Annotated[str, StringConstraints(max_length=60, pattern=RULE_ID.pattern)]
CursorText = Annotated[str, StringConstraints(max_length=1024)]


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


# -- policies -------------------------------------------------------------------------------


class PolicySummary(_Read):
    """A policy file the server has loaded."""

    id: str
    version: str
    title: str
    owner: str
    review_by: date
    sha256: str
    rule_count: int
    waiver_max_days: int
    waiver_warning_days: int


class PolicyDetail(PolicySummary):
    """A loaded policy with its rules as the file states them."""

    description: str | None
    thresholds: dict[str, Any]
    rules: list[dict[str, Any]]


# -- runs and scores ------------------------------------------------------------------------


class RunCreate(BaseModel):
    """``POST /policy/runs``: which policy, over which mission (and the missions under it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: PolicyId | None = Field(
        default=None, description="A loaded policy's id; may be left out when only one is loaded."
    )
    mission_id: uuid.UUID | None = Field(
        default=None, description="Evaluate this mission and those under it; default: all yours."
    )


class ScoreRead(_Read):
    """Counts per status and the weighted score (formula: ``secops.policy.scoring``).

    ``waived`` counts open results covered by an active waiver at the time of reading; they stay
    in ``failed``/``manual``/``error`` and in the score. None where it was not worked out.
    """

    accounts: int
    passed: int
    failed: int
    manual: int
    error: int
    not_applicable: int
    open: int
    weight_pass: int
    weight_total: int
    score: float | None
    waived: int | None = None


class RunRead(_Read):
    """One evaluation: the policy file it used and what it found, for the missions you see."""

    id: uuid.UUID
    seq: int
    policy_id: str
    policy_version: str
    policy_sha256: str
    policy_title: str
    mission_id: uuid.UUID | None
    trigger: RunTrigger
    triggered_by: uuid.UUID | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    summary: ScoreRead | None = None


class RunPage(Page[RunRead]):
    """Runs, newest first."""


class MissionScore(ScoreRead):
    """One mission's own accounts (not those of the missions under it)."""

    mission_id: uuid.UUID
    mission_code: str | None


class ScoreReport(_Read):
    """A run's scores: the missions you can read, and all of them together."""

    run: RunRead
    overall: ScoreRead
    missions: list[MissionScore]


class HistoryPoint(_Read):
    """The score at one run."""

    run_id: uuid.UUID
    run_seq: int
    policy_id: str
    policy_version: str
    started_at: datetime
    score: ScoreRead


class ScoreHistory(_Read):
    """Scores over runs, oldest first: one mission, or every mission you can read together."""

    mission_id: uuid.UUID | None
    mission_code: str | None
    points: list[HistoryPoint]


# -- findings and results -------------------------------------------------------------------


class Evidence(_Read):
    """One fact that decided a result: its value, where it came from and how old it was then.

    ``recorded`` is false when the fact's group was never recorded for the account.
    """

    field: str
    value: Any
    group: str | None
    recorded: bool
    source: str | None
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    age_days: int | None
    status: str | None
    reason: str | None = None


class WaiverRef(_Read):
    """The active waiver covering a result."""

    id: uuid.UUID
    expires_at: datetime


class FindingRead(_Read):
    """A result that needs attention, or that just stopped needing it (``change: resolved``)."""

    run_id: uuid.UUID
    run_seq: int
    policy_id: str
    account_id: uuid.UUID
    platform: str | None
    handle: str | None
    mission_id: uuid.UUID
    mission_code: str | None
    rule_id: str
    title: str | None
    severity: Severity
    criticality: Criticality
    status: ResultStatus
    reason: str
    change: Change
    previous_status: ResultStatus | None
    first_seen_at: datetime
    evidence: list[Evidence]
    details: dict[str, Any] | None
    remediation: str | None
    waiver: WaiverRef | None


class FindingPage(Page[FindingRead]):
    """Findings ordered by mission, account and rule (ids: a stable order for paging)."""


class FindingFilters(BaseModel):
    """What ``GET …/findings`` narrows on. Without ``status`` or ``change``, open findings only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mission_id: uuid.UUID | None = None
    rule_id: RuleId | None = None
    status: ResultStatus | None = None
    severity: Severity | None = None
    change: Change | None = None
    waived: bool | None = None
    account_id: uuid.UUID | None = None


class FindingListQuery(FindingFilters):
    """The query string of the findings lists: filters and paging."""

    policy_id: PolicyId | None = None
    cursor: CursorText | None = None
    limit: int | None = None

    def filters(self) -> FindingFilters:
        """The filters alone."""
        return FindingFilters.model_validate(
            self.model_dump(include=set(FindingFilters.model_fields))
        )


class RuleResultRead(_Read):
    """One rule's result on one account; ``reason`` is stored for open and resolved results."""

    rule_id: str
    title: str | None
    severity: Severity
    criticality: Criticality
    status: ResultStatus
    reason: str | None
    change: Change | None
    first_seen_at: datetime | None
    evidence: list[Evidence]
    remediation: str | None
    waiver: WaiverRef | None


class AccountResults(_Read):
    """Every rule's result on one account in one run, with the score of that account.

    ``run`` is None (and ``results`` empty) when no run has evaluated the account yet.
    """

    account_id: uuid.UUID
    platform: str | None
    handle: str | None
    mission_id: uuid.UUID
    run: RunRead | None
    score: ScoreRead | None
    results: list[RuleResultRead]


# -- diff -----------------------------------------------------------------------------------


class DiffItem(_Read):
    """How one rule's result on one account moved between the two runs."""

    account_id: uuid.UUID
    platform: str | None
    handle: str | None
    rule_id: str
    change: Change
    before: ResultStatus | None
    after: ResultStatus | None


class RunDiff(_Read):
    """What changed from one run to a later one (see ``secops.policy.trends.diff_statuses``)."""

    from_run: RunRead
    to_run: RunRead
    counts: dict[str, int]
    items: list[DiffItem]
    next_cursor: str | None = None
