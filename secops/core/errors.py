"""The ``SecopsError`` tree, rendered as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ConfigurationError(Exception):
    """The configuration is unsafe or incomplete; startup stops with this one-line reason."""


class SecopsError(Exception):
    """Raised on purpose; rendered as problem+json."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "urn:secops:problem:internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    @classmethod
    def schema(cls) -> dict[int | str, dict[str, Any]]:
        """The OpenAPI ``responses=`` entry for this problem."""
        return {
            cls.status: {
                "description": cls.title,
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        }


class BadRequest(SecopsError):
    """The request cannot be understood (bad cursor, bad header)."""

    status, type, title = 400, "urn:secops:problem:bad-request", "Bad request"


class Unauthenticated(SecopsError):
    """No valid credentials were presented."""

    status, type, title = 401, "urn:secops:problem:unauthenticated", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="secops"'})
        super().__init__(detail, **kwargs)


class StepUpRequired(Unauthenticated):
    """The action needs a sign-in younger than the step-up window."""

    type, title = "urn:secops:problem:step-up-required", "Recent sign-in required"


class Forbidden(SecopsError):
    """The caller is known but may not do this."""

    status, type, title = 403, "urn:secops:problem:forbidden", "Forbidden"


class NotFound(SecopsError):
    """The object does not exist, or the caller may not see it."""

    status, type, title = 404, "urn:secops:problem:not-found", "Not found"


class MethodNotAllowed(SecopsError):
    """The route exists but not with this method."""

    status, type, title = 405, "urn:secops:problem:method-not-allowed", "Method not allowed"


class Conflict(SecopsError):
    """The change conflicts with what is stored (duplicate, wrong state)."""

    status, type, title = 409, "urn:secops:problem:conflict", "Conflict"


class PreconditionFailed(SecopsError):
    """``If-Match`` named a version that is no longer current."""

    status, type, title = 412, "urn:secops:problem:precondition-failed", "Precondition failed"


class PayloadTooLarge(SecopsError):
    """The request body is larger than allowed."""

    status, type, title = 413, "urn:secops:problem:payload-too-large", "Payload too large"


class ValidationFailed(SecopsError):
    """The payload does not match the schema; lists fields, never values."""

    status, type, title = 422, "urn:secops:problem:validation", "Validation failed"

    def __init__(self, detail: str | None = None, *, errors: Sequence[Mapping[str, Any]] = ()):
        super().__init__(detail, extra={"errors": [dict(e) for e in errors]})


class PreconditionRequired(SecopsError):
    """A change to a versioned object needs ``If-Match``."""

    status, type, title = 428, "urn:secops:problem:precondition-required", "Precondition required"


class TooManyRequests(SecopsError):
    """Throttled; retry after the number of seconds given."""

    status, type, title = 429, "urn:secops:problem:too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail, headers={"Retry-After": str(self.retry_after)})


class InternalError(SecopsError):
    """Something failed that the caller cannot fix; details are in the server log."""


class ServiceUnavailable(SecopsError):
    """A dependency (database, key store) is unavailable; fail closed."""

    status, type, title = 503, "urn:secops:problem:unavailable", "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached or refused the transaction."""

    type = "urn:secops:problem:database-unavailable"


class DecryptionFailed(ServiceUnavailable):
    """A stored secret could not be decrypted; nothing falls back to plaintext."""

    type = "urn:secops:problem:decryption-failed"


def problem_body(
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    instance: str,
    request_id: str | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    if extra:
        body.update(extra)
    return body


def status_title(status: int) -> str:
    """The standard reason phrase for an HTTP status."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


ERROR_BY_STATUS: dict[int, type[SecopsError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        ValidationFailed,
        PreconditionRequired,
        InternalError,
        ServiceUnavailable,
    )
}


ROUTE_PROBLEMS: tuple[type[SecopsError], ...] = (Unauthenticated, Forbidden, ValidationFailed)


def problems(*errors: type[SecopsError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of an authenticated route: 401, 403 and 422, plus ``errors``."""
    merged: dict[int | str, dict[str, Any]] = {}
    for error in (*ROUTE_PROBLEMS, *errors):
        merged.update(error.schema())
    return merged
