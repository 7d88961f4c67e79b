"""Per-request facts (request id, source address) that services and the audit trail read."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is calling from where, for audit rows and log lines."""

    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None


_NO_REQUEST = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("secops_request", default=None)


def current_request() -> RequestContext:
    """The request being served, or an empty context outside a request (CLI, worker)."""
    return _current.get() or _NO_REQUEST


def set_request(context: RequestContext) -> None:
    """Make ``context`` the current request's."""
    _current.set(context)
