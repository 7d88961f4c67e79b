"""HTTP routes of waivers under ``/api/v1/policy/waivers``: thin wrappers over the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from secops.auth.deps import requires
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    SecopsError,
    problems,
)
from secops.core.etag import etag_for
from secops.core.principal import Permission, Principal
from secops.policy.loader import PolicyInvalid
from secops.policy.waivers import service
from secops.policy.waivers.rules import SelfApproval
from secops.policy.waivers.schemas import (
    WaiverCreate,
    WaiverDecision,
    WaiverExtend,
    WaiverListQuery,
    WaiverPage,
    WaiverRead,
)

router = APIRouter(prefix="/policy/waivers", tags=["waivers"])

CanReadWaivers = Annotated[Principal, requires(Permission.POLICY_READ)]
CanRequestWaivers = Annotated[Principal, requires(Permission.WAIVERS_REQUEST)]
CanApproveWaivers = Annotated[Principal, requires(Permission.WAIVERS_APPROVE)]
IfMatch = Annotated[str | None, Header(description="The ETag you last read.")]

DECISION_PROBLEMS: tuple[type[SecopsError], ...] = (
    NotFound,
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
)


def _tagged(response: Response, waiver: WaiverRead) -> WaiverRead:
    response.headers["ETag"] = etag_for(waiver.version)
    return waiver


@router.get("", responses=problems(BadRequest))
def list_waivers(
    query: Annotated[WaiverListQuery, Query()], session: DbSession, principal: CanReadWaivers
) -> WaiverPage:
    """Waivers on your missions, newest request first; ``state=active`` for those in force."""
    return service.list_waivers(
        session,
        principal=principal,
        filters=query.filters(),
        cursor=query.cursor,
        limit=query.limit,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, PolicyInvalid),
)
def request_waiver(
    body: WaiverCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanRequestWaivers,
) -> WaiverRead:
    """Ask for an exception to one rule, with a reason and an expiry within the policy's cap.

    It covers nothing until another person holding ``waivers:approve`` approves it.
    """
    waiver = service.request_waiver(session, principal=principal, data=body)
    response.headers["Location"] = request.url_for("get_waiver", waiver_id=waiver.id).path
    return _tagged(response, waiver)


@router.get("/{waiver_id:uuid}", responses=problems(NotFound))
def get_waiver(
    waiver_id: uuid.UUID, response: Response, session: DbSession, principal: CanReadWaivers
) -> WaiverRead:
    """One waiver, its state now and its ETag."""
    waiver = service.get_waiver(session, principal=principal, waiver_id=waiver_id)
    return _tagged(response, waiver)


@router.post("/{waiver_id:uuid}/approve", responses=problems(SelfApproval, *DECISION_PROBLEMS))
def approve_waiver(
    waiver_id: uuid.UUID,
    body: WaiverDecision,
    response: Response,
    session: DbSession,
    principal: CanApproveWaivers,
    if_match: IfMatch = None,
) -> WaiverRead:
    """Approve someone else's request; send ``If-Match``. You cannot approve your own."""
    waiver = service.approve_waiver(
        session, principal=principal, waiver_id=waiver_id, note=body.note, if_match=if_match
    )
    return _tagged(response, waiver)


@router.post("/{waiver_id:uuid}/reject", responses=problems(*DECISION_PROBLEMS))
def reject_waiver(
    waiver_id: uuid.UUID,
    body: WaiverDecision,
    response: Response,
    session: DbSession,
    principal: CanApproveWaivers,
    if_match: IfMatch = None,
) -> WaiverRead:
    """Refuse a request; send ``If-Match``."""
    waiver = service.reject_waiver(
        session, principal=principal, waiver_id=waiver_id, note=body.note, if_match=if_match
    )
    return _tagged(response, waiver)


@router.post("/{waiver_id:uuid}/revoke", responses=problems(*DECISION_PROBLEMS))
def revoke_waiver(
    waiver_id: uuid.UUID,
    body: WaiverDecision,
    response: Response,
    session: DbSession,
    principal: CanApproveWaivers,
    if_match: IfMatch = None,
) -> WaiverRead:
    """Withdraw a request or end a waiver now; the failures it covered show again at once."""
    waiver = service.revoke_waiver(
        session, principal=principal, waiver_id=waiver_id, note=body.note, if_match=if_match
    )
    return _tagged(response, waiver)


@router.post(
    "/{waiver_id:uuid}/extend",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict, Forbidden, PolicyInvalid),
)
def extend_waiver(
    waiver_id: uuid.UUID,
    body: WaiverExtend,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanRequestWaivers,
) -> WaiverRead:
    """Ask for a later expiry of an approved waiver (active or expired): a new request that
    replaces it once another person approves it."""
    waiver = service.extend_waiver(session, principal=principal, waiver_id=waiver_id, data=body)
    response.headers["Location"] = request.url_for("get_waiver", waiver_id=waiver.id).path
    return _tagged(response, waiver)
