"""Outbound HTTP for connectors: allow-listed hosts, no redirects, timeouts, size caps, retries.

Every request a connector makes goes through ``VendorHttp``. It refuses any URL that is not
``https`` on an allow-listed host at the default port (nextLinks included), never follows a
redirect, reads the body as a stream and stops at the size cap, and retries 429/503 after the
``Retry-After`` the vendor sent, a bounded number of times, sleeping through an injectable
sleeper so tests do not wait. Vendor failures become ``VendorError`` subclasses carrying a short
code that is safe to store and show (``Authorization_RequestDenied``), never the vendor's prose.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from secops.core.clock import Clock, SystemClock

GRAPH_LOGIN_HOST: Final = "login.microsoftonline.com"
GRAPH_HOST: Final = "graph.microsoft.com"
GOOGLE_OAUTH_HOST: Final = "oauth2.googleapis.com"
GOOGLE_ADMIN_HOST: Final = "admin.googleapis.com"
ALLOWED_HOSTS: Final = frozenset(
    {GRAPH_LOGIN_HOST, GRAPH_HOST, GOOGLE_OAUTH_HOST, GOOGLE_ADMIN_HOST}
)

MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
MAX_RETRIES: Final = 3
MAX_RETRY_WAIT_SECONDS: Final = 120.0
MAX_PAGES: Final = 1000
TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
RETRYABLE_STATUSES: Final = frozenset({429, 503})
USER_AGENT: Final = "secops-connector/1"

Sleeper = Callable[[float], None]
_SAFE_CODE = re.compile(r"[^A-Za-z0-9_.:\-]")
# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]{1,12}")


class VendorError(Exception):
    """A vendor call failed; ``code`` is short, vendor-defined or ours, and safe to store."""

    def __init__(self, code: str, *, status: int | None = None) -> None:
        self.code = safe_code(code)
        self.status = status
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """One line for a fact's error reason or a sync run: the code and the HTTP status."""
        return f"{self.code} (HTTP {self.status})" if self.status else self.code


class HostNotAllowed(VendorError):
    """The URL is not https on an allow-listed host; nothing was sent."""


class RedirectRefused(VendorError):
    """The vendor answered with a redirect; redirects are never followed."""


class ResponseTooLarge(VendorError):
    """The response body passed the size cap; reading stopped there."""


class MalformedResponse(VendorError):
    """The body is not the JSON shape the vendor documents."""


class VendorRefused(VendorError):
    """The vendor answered 4xx/5xx (a 403 ``Authorization_RequestDenied``, a bad secret, ...)."""

    @property
    def is_permission_error(self) -> bool:
        """True when the vendor said the credentials may not read this."""
        return self.status in (401, 403)


class VendorUnavailable(VendorError):
    """The vendor could not be reached, timed out, or kept throttling past the retry budget."""


def safe_code(value: str) -> str:
    """A vendor code cut to printable identifier characters (vendors' prose never gets stored)."""
    cleaned = _SAFE_CODE.sub("", value)[:80]
    return cleaned or "unknown_error"


def check_url(url: str, allowed_hosts: frozenset[str]) -> httpx.URL:
    """The parsed URL if it is https on an allow-listed host at the default port; else refused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise HostNotAllowed("url_invalid") from None
    host = parsed.host.lower()
    if parsed.scheme != "https" or host not in allowed_hosts:
        raise HostNotAllowed("host_not_allowed")
    if parsed.port not in (None, 443) or parsed.userinfo:
        raise HostNotAllowed("host_not_allowed")
    return parsed


def vendor_code(body: Any, status: int) -> str:
    """The error code a Graph, Google or OAuth error body names; ``http_<status>`` otherwise.

    Graph: ``{"error": {"code": "Authorization_RequestDenied", ...}}``; Google APIs:
    ``{"error": {"code": 403, "status": "PERMISSION_DENIED", "errors": [{"reason": ...}]}}``;
    OAuth token endpoints: ``{"error": "invalid_client", ...}``.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        for key in ("code", "status"):
            if isinstance(error.get(key), str):
                return str(error[key])
        details = error.get("errors")
        if isinstance(details, list) and details and isinstance(details[0], Mapping):
            reason = details[0].get("reason")
            if isinstance(reason, str):
                return reason
    return f"http_{status}"


def retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if absent."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if _DIGITS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class HttpLimits:
    """The bounds every vendor call runs within."""

    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_retries: int = MAX_RETRIES
    max_retry_wait_seconds: float = MAX_RETRY_WAIT_SECONDS
    max_pages: int = MAX_PAGES


class VendorHttp:
    """A JSON client for vendor APIs with the safety rules above; use as a context manager."""

    def __init__(
        self,
        *,
        allowed_hosts: frozenset[str] = ALLOWED_HOSTS,
        limits: HttpLimits | None = None,
        sleeper: Sleeper = time.sleep,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.limits = limits or HttpLimits()
        self.sleeper = sleeper
        self.clock = clock or SystemClock()
        self.requests_sent = 0
        self._client = httpx.Client(
            follow_redirects=False,
            verify=True,
            timeout=TIMEOUT,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            trust_env=False,
        )

    def __enter__(self) -> VendorHttp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET ``url`` and decode its JSON body."""
        return self.request_json("GET", url, params=params, headers=headers)

    def post_form(self, url: str, *, data: Mapping[str, str]) -> Any:
        """POST a form (OAuth token endpoints) and decode the JSON answer."""
        return self.request_json("POST", url, data=data)

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> Any:
        """Send with retries on 429/503; return the decoded JSON of a 2xx answer."""
        target = check_url(url, self.allowed_hosts)
        attempt = 0
        while True:
            status, retry_after, body = self._send(method, target, params, headers, data)
            if status not in RETRYABLE_STATUSES or attempt >= self.limits.max_retries:
                return _settle(status, body)
            self.sleeper(self._wait(attempt, retry_after))
            attempt += 1

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        asked = retry_after_seconds(retry_after, self.clock.now())
        wait = float(2**attempt) if asked is None else asked
        if wait > self.limits.max_retry_wait_seconds:
            raise VendorUnavailable("throttled_too_long", status=429)
        return wait

    def _send(
        self,
        method: str,
        url: httpx.URL,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> tuple[int, str | None, bytes]:
        self.requests_sent += 1
        try:
            with self._client.stream(
                method, url, params=params, headers=headers, data=data
            ) as response:
                if response.is_redirect or 300 <= response.status_code < 400:
                    raise RedirectRefused("redirect_refused", status=response.status_code)
                body = self._read_capped(response)
                return response.status_code, response.headers.get("retry-after"), body
        except httpx.TimeoutException:
            raise VendorUnavailable("timeout") from None
        except httpx.TransportError:
            raise VendorUnavailable("network_error") from None

    def _read_capped(self, response: httpx.Response) -> bytes:
        cap = self.limits.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and _DIGITS.fullmatch(declared) and int(declared) > cap:
            raise ResponseTooLarge("response_too_large", status=response.status_code)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge("response_too_large", status=response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def graph_pages(self, url: str, *, headers: Mapping[str, str]) -> Iterator[list[Any]]:
        """Each page's ``value`` list, following ``@odata.nextLink`` on allow-listed hosts only."""
        seen: set[str] = set()
        next_url: str | None = url
        while next_url is not None:
            if next_url in seen or len(seen) >= self.limits.max_pages:
                raise MalformedResponse("paging_loop")
            seen.add(next_url)
            body = self.get_json(next_url, headers=headers)
            yield _list_field(body, "value", required=True)
            link = body.get("@odata.nextLink")
            if link is not None and not isinstance(link, str):
                raise MalformedResponse("next_link_invalid")
            next_url = link

    def google_pages(
        self,
        url: str,
        *,
        field: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> Iterator[dict[str, Any]]:
        """Each page's body, following ``nextPageToken``; ``field`` may be absent (no rows)."""
        seen: set[str] = set()
        token: str | None = None
        while True:
            query = dict(params) if token is None else {**params, "pageToken": token}
            body = self.get_json(url, params=query, headers=headers)
            _list_field(body, field, required=False)
            yield body
            token = body.get("nextPageToken")
            if not token:
                return
            if not isinstance(token, str) or token in seen or len(seen) >= self.limits.max_pages:
                raise MalformedResponse("paging_loop")
            seen.add(token)


def _settle(status: int, body: bytes) -> Any:
    decoded = _decode(body)
    if 200 <= status < 300:
        if decoded is _UNDECODABLE:
            raise MalformedResponse("not_json", status=status)
        return decoded
    code = vendor_code(None if decoded is _UNDECODABLE else decoded, status)
    if status in RETRYABLE_STATUSES:
        raise VendorUnavailable(code, status=status)
    raise VendorRefused(code, status=status)


_UNDECODABLE: Final = object()


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _UNDECODABLE


def _list_field(body: Any, field: str, *, required: bool) -> list[Any]:
    if not isinstance(body, dict):
        raise MalformedResponse("not_an_object")
    value = body.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"missing_{field}")
    return value


def bearer(access_token: str) -> dict[str, str]:
    """The Authorization header for a vendor access token."""
    return {"Authorization": f"Bearer {access_token}"}


def _default_http(clock: Clock) -> VendorHttp:
    return VendorHttp(clock=clock)


# How services open a vendor client; tests swap it for one whose sleeper records instead of
# waiting.
http_factory: Callable[[Clock], VendorHttp] = _default_http
