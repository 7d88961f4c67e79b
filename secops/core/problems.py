"""Exception handlers that render every error as RFC 9457 problem+json."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from secops.core.errors import (
    ERROR_BY_STATUS,
    PROBLEM_MEDIA_TYPE,
    DatabaseUnavailable,
    SecopsError,
    ValidationFailed,
    problem_body,
    status_title,
)
from secops.core.logging import get_logger

log = get_logger("secops.errors")

STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


def json_bytes(body: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def problem_response(
    request: Request,
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response for ``request``."""
    body = problem_body(
        status=status,
        type_=type_,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        extra=extra,
    )
    return Response(
        content=json_bytes(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _secops_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SecopsError)  # noqa: S101 - registered for SecopsError only
    return problem_response(
        request,
        status=exc.status,
        type_=exc.type,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    # Field locations and messages only: FastAPI's default echoes the submitted value.
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        # pydantic's location for a JSON syntax error is a character offset, not a field.
        errors = [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]
        detail = "The request body is not valid JSON."
    else:
        fields = ", ".join(".".join(e["loc"]) for e in errors[:5]) or "the request"
        detail = f"The request does not match the schema: check {fields}."
    return problem_response(
        request,
        status=422,
        type_=ValidationFailed.type,
        title=ValidationFailed.title,
        detail=detail,
        extra={"errors": errors},
    )


def allowed_methods(request: Request) -> str:
    """Every method declared for the request's path, across all the routes that share it.

    Starlette's own ``Allow`` names only the first route whose path matched (GET and POST on one
    path are two routes), which RFC 9110 section 15.5.6 does not allow.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(route.methods or ())
    return ", ".join(sorted(methods))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else status_title(status)
    headers = dict(exc.headers or {})
    if status == 404:
        detail = "No such resource."
    elif status == 405:
        detail = f"{request.method} is not allowed here."
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    # The same type and title as the SecopsError of that status: one problem type, one title.
    known = ERROR_BY_STATUS.get(status)
    return problem_response(
        request,
        status=status,
        type_=known.type if known else f"urn:secops:problem:{STATUS_TYPES.get(status, 'http')}",
        title=known.title if known else status_title(status),
        detail=detail,
        headers=headers,
    )


def _database_error(request: Request, exc: Exception) -> Response:
    log.error("db.unavailable", error_type=type(exc).__name__)
    err = DatabaseUnavailable("The database is unavailable; nothing was changed.")
    return _secops_error(request, err)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers; unhandled exceptions are caught by ``LastResortMiddleware``."""
    app.add_exception_handler(SecopsError, _secops_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.OperationalError, _database_error)
    app.add_exception_handler(sa_exc.InterfaceError, _database_error)
