"""The API behind a real uvicorn, configured exactly as ``secops serve`` configures it."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from secops.app import create_app
from secops.auth.deps import current_principal
from secops.cli.server import uvicorn_config
from secops.core.clock import FrozenClock
from secops.core.config import Settings
from tests.core.probes import PROBE_PREFIX, admin_principal, mount_probes
from tests.core.test_headers import assert_security_headers

Live = Callable[..., AbstractContextManager[str]]


@contextmanager
def serving(settings: Settings, app: FastAPI) -> Iterator[str]:
    """Run uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(settings.model_copy(update={"port": port}), app)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # readiness poll, not a timing assumption
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live(core_settings: Settings, clock: FrozenClock) -> Iterator[Live]:
    """Start a live server whose settings differ from the test settings by ``overrides``."""
    apps: list[FastAPI] = []

    @contextmanager
    def start(**overrides: object) -> Iterator[str]:
        changed = Settings(**{**dict(core_settings), **overrides})
        app = mount_probes(create_app(changed, clock=clock, configure_logs=False))
        app.dependency_overrides[current_principal] = admin_principal
        apps.append(app)
        with serving(changed, app) as url:
            yield url

    yield start
    for app in apps:
        app.state.runtime.dispose()


def test_live_responses_carry_no_server_banner_and_all_security_headers(
    live: Live,
) -> None:
    with live() as url, httpx.Client(base_url=url) as http:
        responses = [
            http.get("/healthz"),
            http.get("/nowhere"),
            http.request("TRACE", "/healthz"),
            http.post(f"{PROBE_PREFIX}/notes", content=b"x" * 1_100_000),
            http.post(f"{PROBE_PREFIX}/notes", json={"title": 1}),
            http.get(f"{PROBE_PREFIX}/crash"),
        ]

    assert [r.status_code for r in responses] == [200, 404, 405, 413, 422, 500]
    for response in responses:
        assert "server" not in response.headers
        assert_security_headers(response)


def test_live_malformed_request_gets_no_server_banner(
    live: Live,
) -> None:
    with live() as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = conn.recv(4096).decode("latin-1").lower()

    assert reply.startswith("http/1.1 400")
    assert "\r\nserver:" not in reply


def test_live_chunked_upload_over_the_limit_is_refused(
    live: Live,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(40):
            yield b"z" * 32_768
        yield b'", "priority": 1}'

    with live() as url, httpx.Client(base_url=url) as http:
        before = http.get(f"{PROBE_PREFIX}/notes").json()["count"]
        response = http.post(
            f"{PROBE_PREFIX}/notes",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        count = http.get(f"{PROBE_PREFIX}/notes").json()["count"]

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert count == before


def _logged_source_ips(output: io.StringIO) -> list[str]:
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]
    return [e["source_ip"] for e in lines if e.get("event") == "http.request"]


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    live: Live,
    log_output: io.StringIO,
) -> None:
    with live(forwarded_allow_ips="10.255.0.1") as url, httpx.Client(base_url=url) as http:
        http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})

    assert _logged_source_ips(log_output) == ["127.0.0.1"]


def test_forwarded_for_from_the_configured_proxy_is_believed(
    live: Live,
    log_output: io.StringIO,
) -> None:
    with live(forwarded_allow_ips="127.0.0.1") as url, httpx.Client(base_url=url) as http:
        http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})

    assert _logged_source_ips(log_output) == ["203.0.113.9"]


def test_serve_configuration_matches_the_hardening(core_settings: Settings) -> None:
    config = uvicorn_config(core_settings, FastAPI())

    assert config.server_header is False
    assert config.access_log is False
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == core_settings.forwarded_allow_ips
    assert config.log_config is None
