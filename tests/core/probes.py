"""A tiny router mounted on the real app in core tests: one route per behaviour to provoke.

Each route declares its permission like a domain route does; tests sign in with ``act_as``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, text
from sqlmodel import select

from secops.audit import service as audit_service
from secops.audit.models import AuditEvent
from secops.auth.deps import CanReadMissions, CanWriteMissions
from secops.core import errors
from secops.core.db import DbSession
from secops.core.errors import PROBLEM_MEDIA_TYPE
from secops.core.logging import get_logger
from secops.core.principal import EVERYWHERE, Principal, PrincipalKind, Role

PROBE_PREFIX = "/api/v1/_probe"
log = get_logger("tests.probe")

# Every status the error tree must render, with the error class that produces it.
RAISED: dict[int, type[errors.SecopsError]] = {
    400: errors.BadRequest,
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    409: errors.Conflict,
    412: errors.PreconditionFailed,
    413: errors.PayloadTooLarge,
    422: errors.ValidationFailed,
    428: errors.PreconditionRequired,
    429: errors.TooManyRequests,
    500: errors.InternalError,
    503: errors.ServiceUnavailable,
}


class NoteCreate(BaseModel):
    """A stored note: the smallest body a domain route could take."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=50)
    priority: int = Field(ge=1, le=5)
    username: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=200)


class NoteRead(BaseModel):
    """What the note route answers."""

    id: uuid.UUID
    title: str


router = APIRouter(prefix=PROBE_PREFIX, tags=["probe"])


@router.get("/raise/{status}")
def raise_status(status: int, principal: CanReadMissions) -> None:
    """Raise the error class mapped to ``status``."""
    cls = RAISED[status]
    if cls is errors.TooManyRequests:
        raise errors.TooManyRequests("Probe raised TooManyRequests.", retry_after=30)
    raise cls(f"Probe raised {cls.__name__}.")


@router.get("/crash")
def crash(principal: CanReadMissions) -> None:
    """An unhandled exception carrying a secret in its message."""
    token = "secops_s_CANARYexceptionCANARY0001"
    raise RuntimeError(f"upstream refused {token} password=CANARY-EXC-PASSWORD")


@router.get("/sql-crash")
def sql_crash(principal: CanReadMissions) -> None:
    """A database error whose message holds the SQL statement."""
    raise sa_exc.ProgrammingError(
        "SELECT secret_column FROM users WHERE password = 'x'", {}, Exception("syntax")
    )


@router.get("/db")
def needs_db(session: DbSession, principal: CanReadMissions) -> dict[str, int]:
    """A read that needs the database."""
    return {"one": int(session.execute(text("SELECT 1")).scalar_one())}


@router.post("/notes", status_code=201)
def create_note(body: NoteCreate, session: DbSession, principal: CanWriteMissions) -> NoteRead:
    """Store a note as an audit event and echo its id."""
    event = audit_service.record(
        session,
        principal=principal,
        action="probe.note_create",
        object_type="note",
        object_id=uuid.uuid4(),
        details={"title": body.title},
    )
    return NoteRead(id=uuid.UUID(event.object_id or ""), title=body.title)


@router.get("/notes")
def list_notes(session: DbSession, principal: CanReadMissions) -> dict[str, int]:
    """How many notes are stored (shares its path with ``create_note``)."""
    return {"count": count_events(session)}


@router.get("/notes/{note_id}")
def read_note(note_id: uuid.UUID, principal: CanReadMissions) -> NoteRead:
    """Any id names nothing."""
    raise errors.NotFound("No such note.")


@router.post("/careless")
async def careless(
    request: Request,
    principal: CanWriteMissions,
    token: Annotated[str | None, Query()] = None,
) -> dict[str, str]:
    """Logs everything it receives the careless way; redaction must still hold."""
    body: dict[str, Any] = await request.json()
    log.info(
        "probe.careless",
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=body,
        username=body.get("username"),
        note=f"got Bearer {request.headers.get('x-note', '')}",
    )
    return {"status": "logged"}


def count_events(session: Any) -> int:
    """How many audit events (our stored notes) exist."""
    return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Check the RFC 9457 shape of an error response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert isinstance(body, dict)
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:secops:problem:")
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"] == response.request.url.path
    return body


def admin_principal() -> Principal:
    """A ministry-wide administrator."""
    return Principal(
        kind=PrincipalKind.USER,
        id=uuid.uuid4(),
        name="probe-admin",
        roles={Role.ADMIN: EVERYWHERE},
    )


def mount_probes(app: FastAPI) -> FastAPI:
    """Add the probe routes to an app built by ``create_app``."""
    app.include_router(router)
    app.openapi_schema = None
    return app
