"""Pure-ASGI middleware: request context, access log, security headers, body limit, last resort."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secops.core.context import RequestContext, set_request
from secops.core.errors import PROBLEM_MEDIA_TYPE, problem_body
from secops.core.logging import bind_request_context, clear_request_context, get_logger
from secops.core.problems import json_bytes

log = get_logger("secops.http")
# The access line's level is checked before the line is built: a dropped structlog call still
# costs a logger, a bound copy and the processor chain, on every request.
_access_logger = logging.getLogger("secops.http")

API_CSP = "default-src 'none'; frame-ancestors 'none'"
_CSP: Final = b"content-security-policy"
_API_CSP: Final = API_CSP.encode("latin-1")
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)


def parse_request_id(raw: str | None) -> str:
    """Accept an incoming UUID4 request id; anything else is replaced by a fresh one."""
    if raw:
        try:
            parsed = uuid.UUID(raw)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.version == 4 and len(raw) <= 36:
            return str(parsed)
    return str(uuid.uuid4())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _set_headers(
    message: Message, headers: Iterable[tuple[bytes, bytes]], *, drop: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    """Replace ``drop`` headers of a response start with ``headers``; returns the kept ones."""
    kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in drop]
    kept.extend(headers)
    message["headers"] = kept
    return kept


_REQUEST_ID: Final = frozenset({b"x-request-id"})


class RequestContextMiddleware:
    """Binds the request id and source address, echoes ``X-Request-ID``, logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = parse_request_id(_header(scope, b"x-request-id"))
        client = scope.get("client")
        source_ip = client[0] if client else None
        clear_request_context()
        bind_request_context(request_id=request_id)
        set_request(
            RequestContext(
                request_id=request_id,
                source_ip=source_ip,
                user_agent=(_header(scope, b"user-agent") or "")[:200] or None,
            )
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        echoed = ((b"x-request-id", request_id.encode("latin-1")),)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _set_headers(message, echoed, drop=_REQUEST_ID)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if _access_logger.isEnabledFor(logging.INFO):
                route = scope.get("route")
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    route=getattr(route, "path", None) or "<unmatched>",
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    source_ip=source_ip,
                )


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp, *, hsts: bool = True) -> None:
        self.app = app
        self.headers = [h for h in SECURITY_HEADERS if hsts or h[0] != "strict-transport-security"]
        # Encoded once; each response replaces these names (and drops any Server banner).
        self._encoded = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers)
        self._replaced = frozenset(k for k, _ in self._encoded) | {b"server"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = _set_headers(message, self._encoded, drop=self._replaced)
                # A page may bring its own (nonce) policy; everything else gets the API's.
                if not any(k.lower() == _CSP for k, _ in kept):
                    kept.append((_CSP, _API_CSP))
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def send_problem(
    scope: Scope,
    send: Send,
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """Send a problem+json response straight from middleware."""
    request_id = scope.get("state", {}).get("request_id")
    body = json_bytes(
        problem_body(
            status=status,
            type_=type_,
            title=title,
            detail=detail,
            instance=scope.get("path", ""),
            request_id=request_id,
        )
    )
    raw_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413 before the application reads them.

    ``overrides`` gives an exact (method, path) its own limit (the inventory import takes whole
    files in one transaction). A larger limit applies only to requests that carry credentials,
    so an anonymous caller cannot make the server buffer more than ``max_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        overrides: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = dict(overrides or {})

    def _limit(self, scope: Scope) -> int:
        limit = self.overrides.get((scope.get("method", ""), scope.get("path", "")))
        if limit is None or _header(scope, b"authorization") is None:
            return self.max_bytes
        return limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, send, 400, "Content-Length is not a number.")
                return
            if int(declared) > limit:
                await self._too_large(scope, send, limit)
                return
        # Read the whole body up to the limit, then replay it: a chunked upload cannot slip past.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        await send_problem(
            scope,
            send,
            status=413,
            type_="urn:secops:problem:payload-too-large",
            title="Payload too large",
            detail=f"The request body exceeds the limit of {limit} bytes.",
        )

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        await send_problem(
            scope,
            send,
            status=status,
            type_="urn:secops:problem:bad-request",
            title="Bad request",
            detail=detail,
        )


class LastResortMiddleware:
    """Turns any unhandled exception into a generic 500 problem and logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("http.unhandled_error", path=scope.get("path"))
            if started:
                raise
            await send_problem(
                scope,
                send,
                status=500,
                type_="urn:secops:problem:internal",
                title="Internal error",
                detail="An unexpected error occurred; quote the request id to the administrator.",
            )
