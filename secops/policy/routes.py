"""HTTP routes of the policy engine: loaded policies, runs, findings, results, scores and diffs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from secops.auth.deps import requires
from secops.core.db import DbSession
from secops.core.errors import BadRequest, NotFound, ValidationFailed, problems
from secops.core.principal import Permission, Principal
from secops.policy import service
from secops.policy.loader import PolicyInvalid
from secops.policy.outcomes import Change
from secops.policy.schemas import (
    AccountResults,
    CursorText,
    FindingListQuery,
    FindingPage,
    PolicyDetail,
    PolicyId,
    PolicySummary,
    RunCreate,
    RunDiff,
    RunPage,
    RunRead,
    ScoreHistory,
    ScoreReport,
)

CanReadPolicy = Annotated[Principal, requires(Permission.POLICY_READ)]
CanRunPolicy = Annotated[Principal, requires(Permission.POLICY_RUN)]

policies = APIRouter(prefix="/policies", tags=["policy"])
policy = APIRouter(prefix="/policy", tags=["policy"])
accounts = APIRouter(prefix="/accounts", tags=["policy"])


@policies.get("", responses=problems(PolicyInvalid))
def list_policies(session: DbSession, principal: CanReadPolicy) -> list[PolicySummary]:
    """The policy files loaded on the server: id, version, SHA-256, rule count."""
    return service.list_policies(session)


@policies.get("/{policy_id}", responses=problems(PolicyInvalid, NotFound))
def get_policy(policy_id: PolicyId, session: DbSession, principal: CanReadPolicy) -> PolicyDetail:
    """One loaded policy with its rules as the file states them."""
    return service.get_policy(session, policy_id=policy_id)


@policy.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    responses=problems(PolicyInvalid, NotFound, ValidationFailed),
)
def create_run(
    body: RunCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanRunPolicy,
) -> RunRead:
    """Evaluate a policy now over a mission (and those under it), or over all of yours."""
    run = service.evaluate(
        session, principal=principal, policy_id=body.policy_id, mission_id=body.mission_id
    )
    response.headers["Location"] = request.url_for("get_run", run_id=run.id).path
    return service.get_run(session, principal=principal, run_id=run.id)


@policy.get("/runs", responses=problems(BadRequest))
def list_runs(
    session: DbSession,
    principal: CanReadPolicy,
    policy_id: PolicyId | None = None,
    seq: Annotated[int | None, Query(ge=1)] = None,
    cursor: CursorText | None = None,
    limit: int | None = None,
) -> RunPage:
    """Runs that covered any of your missions, newest first; ``seq`` finds run number N."""
    return service.list_runs(
        session, principal=principal, policy_id=policy_id, seq=seq, cursor=cursor, limit=limit
    )


@policy.get("/runs/{run_id}", responses=problems(NotFound))
def get_run(run_id: uuid.UUID, session: DbSession, principal: CanReadPolicy) -> RunRead:
    """One run, summarised over your missions, with waived results counted."""
    return service.get_run(session, principal=principal, run_id=run_id)


@policy.get("/runs/{run_id}/findings", responses=problems(NotFound, BadRequest))
def list_run_findings(
    run_id: uuid.UUID,
    query: Annotated[FindingListQuery, Query()],
    session: DbSession,
    principal: CanReadPolicy,
) -> FindingPage:
    """Findings of one run, with evidence, remediation and the waiver covering each."""
    return service.list_findings(
        session,
        principal=principal,
        filters=query.filters(),
        run_id=run_id,
        cursor=query.cursor,
        limit=query.limit,
    )


@policy.get("/findings", responses=problems(NotFound, BadRequest))
def list_findings(
    query: Annotated[FindingListQuery, Query()], session: DbSession, principal: CanReadPolicy
) -> FindingPage:
    """Findings of the newest completed run that covered your missions (or ``mission_id``)."""
    return service.list_findings(
        session,
        principal=principal,
        filters=query.filters(),
        policy_id=query.policy_id,
        cursor=query.cursor,
        limit=query.limit,
    )


@accounts.get("/{account_id}/policy-results", responses=problems(NotFound))
def account_results(
    account_id: uuid.UUID,
    session: DbSession,
    principal: CanReadPolicy,
    run_id: uuid.UUID | None = None,
    policy_id: PolicyId | None = None,
) -> AccountResults:
    """Every rule's result on one account, passes included, with the evidence of each."""
    return service.account_results(
        session, principal=principal, account_id=account_id, run_id=run_id, policy_id=policy_id
    )


@policy.get("/scores", responses=problems(NotFound))
def scores(
    session: DbSession,
    principal: CanReadPolicy,
    run_id: uuid.UUID | None = None,
    policy_id: PolicyId | None = None,
) -> ScoreReport:
    """Scores per mission and overall for a run (default: the newest), waived beside them."""
    return service.scores(session, principal=principal, run_id=run_id, policy_id=policy_id)


@policy.get("/scores/history", responses=problems(NotFound))
def score_history(
    session: DbSession,
    principal: CanReadPolicy,
    mission_id: uuid.UUID | None = None,
    policy_id: PolicyId | None = None,
    limit: int | None = None,
) -> ScoreHistory:
    """The score at each recent run, oldest first: one mission, or all of yours together."""
    return service.score_history(
        session, principal=principal, policy_id=policy_id, mission_id=mission_id, limit=limit
    )


@policy.get("/diff", responses=problems(NotFound, BadRequest))
def diff(
    session: DbSession,
    principal: CanReadPolicy,
    from_run: Annotated[uuid.UUID, Query(alias="from")],
    to_run: Annotated[uuid.UUID, Query(alias="to")],
    change: Change | None = None,
    cursor: CursorText | None = None,
    limit: int | None = None,
) -> RunDiff:
    """What changed between two runs of a policy, per rule and account."""
    return service.diff_runs(
        session,
        principal=principal,
        from_run_id=from_run,
        to_run_id=to_run,
        change=change,
        cursor=cursor,
        limit=limit,
    )


# The application adds these one route at a time (``core.routing``), in this order.
routers = (policies, policy, accounts)
