"""Liveness and readiness: the only routes that need no credentials."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from secops.core.migrations import migration_state

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process answers; says nothing else."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "Not ready"}})
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the latest migration."""
    state = migration_state(request.app.state.engine)
    if not state.reachable:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if not state.current:
        return JSONResponse({"status": "unavailable", "database": "not migrated"}, status_code=503)
    return JSONResponse({"status": "ready"})
