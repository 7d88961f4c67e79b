"""The CLI's HTTP client: domain commands act as a signed-in user, exactly as the API sees them."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """The server refused a request; carries its problem detail."""

    def __init__(self, status: int, detail: str, body: dict[str, Any] | None = None) -> None:
        self.status = status
        self.detail = detail
        self.body = body or {}
        super().__init__(f"{detail} (HTTP {status})")


def credentials_path() -> Path:
    """Where ``secops login`` keeps the session token (mode 0600)."""
    configured = os.environ.get("SECOPS_CREDENTIALS_FILE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "secops" / "credentials.json"


@dataclass(frozen=True)
class Credentials:
    """Where the server is and the token that signs requests to it."""

    url: str
    token: str | None


def save_credentials(creds: Credentials) -> Path:
    """Write the credentials file readable by its owner only."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": creds.url, "token": creds.token}, handle)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


def load_credentials() -> Credentials:
    """Token from ``SECOPS_API_KEY`` or the credentials file; URL likewise from ``SECOPS_URL``."""
    stored: dict[str, Any] = {}
    path = credentials_path()
    if path.exists():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ApiError(0, f"{path} is readable by others; run chmod 600 {path}")
        stored = json.loads(path.read_text())
    url = os.environ.get("SECOPS_URL") or stored.get("url") or DEFAULT_URL
    token = os.environ.get("SECOPS_API_KEY") or stored.get("token")
    return Credentials(url=str(url).rstrip("/"), token=token)


def forget_credentials() -> None:
    """Remove the stored session token."""
    credentials_path().unlink(missing_ok=True)


def _default_http(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30.0, follow_redirects=False)


# Tests point this at their in-process app.
http_factory: Callable[[str], httpx.Client] = _default_http


class ApiClient:
    """Small wrapper: JSON in, JSON out, problem+json turned into ``ApiError``."""

    def __init__(self, creds: Credentials | None = None, *, require_token: bool = True) -> None:
        self.creds = creds or load_credentials()
        if require_token and not self.creds.token:
            raise ApiError(401, "not signed in: run `secops login` or set SECOPS_API_KEY")
        self.http = http_factory(self.creds.url)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send a request (JSON, or raw ``content`` such as a file); raise ``ApiError`` on any
        4xx/5xx. ``timeout`` overrides the client's for slow calls such as a large import."""
        sent_headers = dict(headers or {})
        if self.creds.token:
            sent_headers["Authorization"] = f"Bearer {self.creds.token}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self.http.request(
                method,
                path,
                json=json_body,
                content=content,
                params=clean,
                headers=sent_headers,
                **extra,
            )
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach {self.creds.url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            detail = body.get("detail") if isinstance(body, dict) else None
            raise ApiError(response.status_code, detail or response.reason_phrase, body)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None) -> Any:
        """POST JSON and decode the reply (None for 204)."""
        response = self.request("POST", path, json_body=body)
        return response.json() if response.content else None
