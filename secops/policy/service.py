"""Policy engine entry points: evaluate, and read runs, findings, results, scores and diffs.

Every function takes the session first and the rest by keyword, flushes and never commits, and
limits what it returns to the caller's missions (out of scope is the same 404 as missing).

Evaluation (``runs.py``, re-exported here)::

    evaluate(session, *, principal, policy_id: str | None = None, mission_id: UUID | None = None,
             trigger=RunTrigger.MANUAL) -> PolicyRun      # one "policy.evaluate" audit event
    evaluate_scheduled(session) -> list[UUID]             # the worker: every policy, ministry-wide

Reads (``reads.py`` and ``results.py``, re-exported here)::

    list_policies(session) -> list[PolicySummary]
    get_policy(session, *, policy_id) -> PolicyDetail
    list_runs(session, *, principal, policy_id=None, seq=None, cursor=None, limit=None) -> RunPage
    get_run(session, *, principal, run_id) -> RunRead
    list_findings(session, *, principal, filters: FindingFilters, run_id=None, policy_id=None,
                  cursor=None, limit=None) -> FindingPage     # newest completed run by default
    account_results(session, *, principal, account_id, run_id=None,
                    policy_id=None) -> AccountResults   # run None: never evaluated yet
    scores(session, *, principal, run_id=None, policy_id=None) -> ScoreReport
    score_history(session, *, principal, policy_id=None, mission_id=None,
                  limit=None) -> ScoreHistory

Diff (this module)::

    diff_runs(session, *, principal, from_run_id, to_run_id, change=None, cursor=None,
              limit=None) -> RunDiff
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from secops.core.errors import BadRequest
from secops.core.pagination import clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Principal
from secops.policy import repository
from secops.policy.outcomes import Change
from secops.policy.reads import (
    get_policy,
    get_run,
    list_policies,
    list_runs,
    run_read,
    score_history,
    scores,
    visible_run,
)
from secops.policy.results import account_results, list_findings
from secops.policy.runs import evaluate, evaluate_scheduled
from secops.policy.schemas import DiffItem, RunDiff
from secops.policy.trends import count_changes, diff_statuses

__all__ = [
    "account_results",
    "diff_runs",
    "evaluate",
    "evaluate_scheduled",
    "get_policy",
    "get_run",
    "list_findings",
    "list_policies",
    "list_runs",
    "score_history",
    "scores",
]

_BAD_CURSOR = "The cursor is not valid; start again from the first page."


def diff_runs(
    session: Session,
    *,
    principal: Principal,
    from_run_id: uuid.UUID,
    to_run_id: uuid.UUID,
    change: Change | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> RunDiff:
    """How each (rule, account) you can see moved from one run to another of the same policy:
    counts per change class, and the entries (all but ``unchanged`` unless ``change`` asks)."""
    first = visible_run(session, principal, from_run_id)
    second = visible_run(session, principal, to_run_id)
    if first.policy_id != second.policy_id:
        raise BadRequest(
            f"Run {first.seq} evaluated {first.policy_id} and run {second.seq} "
            f"{second.policy_id}; compare two runs of the same policy."
        )
    entries = diff_statuses(
        repository.run_statuses(session, principal, first.id),
        repository.run_statuses(session, principal, second.id),
    )
    counts = count_changes(entries)
    if change is None:
        entries = [e for e in entries if e.change is not Change.UNCHANGED]
    else:
        entries = [e for e in entries if e.change is change]
    if cursor is not None:
        tag, account_id, rule_id = decode_cursor(cursor, arity=3)
        if tag != "diff":
            raise BadRequest(_BAD_CURSOR)
        key = (str(account_id), str(rule_id))
        entries = [e for e in entries if (str(e.account_id), e.rule_id) > key]
    size = clamp_limit(limit)
    page = entries[:size]
    labels = repository.account_labels(session, {e.account_id for e in page})
    items = [
        DiffItem(
            account_id=e.account_id,
            platform=labels.get(e.account_id, (None, None))[0],
            handle=labels.get(e.account_id, (None, None))[1],
            rule_id=e.rule_id,
            change=e.change,
            before=e.before,
            after=e.after,
        )
        for e in page
    ]
    next_cursor = None
    if len(entries) > size:
        last = page[-1]
        next_cursor = encode_cursor(["diff", str(last.account_id), last.rule_id])
    scores_by_run = repository.run_scores(session, principal, [first.id, second.id])
    return RunDiff(
        from_run=run_read(first, scores_by_run.get(first.id, [])),
        to_run=run_read(second, scores_by_run.get(second.id, [])),
        counts=counts,
        items=items,
        next_cursor=next_cursor,
    )
