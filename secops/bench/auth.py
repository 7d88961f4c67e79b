"""Cost of authentication, scoping and headers: an authenticated GET against a bare FastAPI route.

Both apps are served by real uvicorn servers on 127.0.0.1 in this process; one httpx client with
keep-alive per server sends the same number of requests to each, one at a time. The bare route
returns the same small JSON document with none of secops's middleware, so the ratio of their
throughputs is the price of signing in, mission scoping, the audit-ready session and the
security headers.

The two targets take turns in rounds of ``ROUND`` requests, so a machine that gets busier or
quieter during the run slows both alike instead of whichever happened to run then.
"""

from __future__ import annotations

import secrets
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pyotp
import typer
import uvicorn
from fastapi import FastAPI

from secops.app import create_app
from secops.auth import service as auth_service
from secops.auth.access import service as access_service
from secops.bench.audit import scratch_database
from secops.core import migrations
from secops.core.config import Environment, Settings
from secops.core.console import print_json
from secops.core.logging import configure_logging
from secops.core.principal import Role, system_principal
from secops.core.runtime import Runtime
from secops.missions import service as missions_service
from secops.missions.models import MissionKind, Region
from secops.missions.schemas import MissionCreate


@dataclass(frozen=True)
class Timing:
    """Throughput and latency of one target."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _seed(runtime: Runtime, password: str) -> tuple[str, str]:
    """A mission and a signed-up officer on it; returns (mission id, TOTP secret)."""
    principal = system_principal("bench")
    with runtime.sessions.begin() as session:
        hq = missions_service.create(
            session=session,
            principal=principal,
            data=MissionCreate(
                code="HQ",
                name="Headquarters",
                kind=MissionKind.HQ,
                country="MT",
                city="Valletta",
                region=Region.EUROPE,
            ),
        )
        embassy = missions_service.create(
            session=session,
            principal=principal,
            data=MissionCreate(
                code="EMB-PARIS",
                name="Embassy in Paris",
                kind=MissionKind.EMBASSY,
                country="FR",
                city="Paris",
                region=Region.EUROPE,
                parent_id=hq.id,
            ),
        )
        user = auth_service.create_user(
            session,
            principal=principal,
            username="bench.officer",
            display_name="Bench Officer",
            password=password,
        )
        secret = pyotp.random_base32(32)
        auth_service.enrol_totp_for_demo(session, user_id=user.id, secret=secret)
        access_service.grant_role(
            session,
            principal=principal,
            user_id=user.id,
            role=Role.OFFICER,
            mission_id=embassy.id,
            include_children=False,
        )
        return str(embassy.id), secret


ROUND: Final = 100


@dataclass
class _Target:
    """One server under test and what was measured on it so far."""

    name: str
    client: httpx.Client
    path: str
    headers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def send(self, count: int, *, timed: bool) -> None:
        """``count`` requests one after the other; their time is kept when ``timed``."""
        get, path, headers = self.client.get, self.path, self.headers
        started = time.perf_counter()
        for _ in range(count):
            sent = time.perf_counter()
            get(path, headers=headers).raise_for_status()
            if timed:
                self.latencies.append((time.perf_counter() - sent) * 1000)
        if timed:
            self.seconds += time.perf_counter() - started

    def timing(self) -> Timing:
        """Throughput and latency over every timed request."""
        cuts = statistics.quantiles(self.latencies, n=100)
        return Timing(self.name, len(self.latencies), self.seconds, cuts[49], cuts[94])


def _measure(targets: list[_Target], requests: int) -> list[Timing]:
    for target in targets:  # warm-up: pools, caches, first-use imports
        target.send(min(200, requests), timed=False)
    left = requests
    while left:
        count = min(ROUND, left)
        for target in targets:
            target.send(count, timed=True)
        left -= count
    return [target.timing() for target in targets]


def _bare_app(document: dict[str, Any]) -> FastAPI:
    bare = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @bare.get("/thing")
    def thing() -> dict[str, Any]:
        return document

    return bare


def run(*, requests: int, database_url: str | None = None) -> tuple[Timing, Timing, str]:
    """Serve both apps, time ``requests`` GETs on each, return (secops, bare, backend)."""
    # As in production, but the per-request access line (info) is not part of what is measured.
    configure_logging(fmt="json", level="warning")
    with (
        tempfile.TemporaryDirectory(prefix="secops-bench-") as directory,
        scratch_database(database_url, Path(directory)) as url,
    ):
        settings = Settings(
            env=Environment.TEST,
            data_dir=Path(directory),
            database_url=url,
            log_level="warning",
            log_format="json",
        )
        runtime = Runtime.build(settings)
        password = "-".join(f"{secrets.randbelow(10_000):04d}" for _ in range(5))
        try:
            migrations.upgrade(runtime.engine)
            mission_id, secret = _seed(runtime, password)
        finally:
            runtime.dispose()
        app = create_app(settings, configure_logs=False)
        try:
            with _serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
                login = client.post(
                    "/api/v1/auth/login",
                    json={
                        "username": "bench.officer",
                        "password": password,
                        "totp_code": pyotp.TOTP(secret).now(),
                    },
                )
                login.raise_for_status()
                path = f"/api/v1/missions/{mission_id}"
                auth = {"Authorization": f"Bearer {login.json()['token']}"}
                document = client.get(path, headers=auth).json()
                secured = _Target("secops GET /missions/{id}", client, path, auth)
                with (
                    _serve(_bare_app(document)) as bare_base,
                    httpx.Client(base_url=bare_base, timeout=30) as bare_client,
                ):
                    bare = _Target("bare FastAPI route", bare_client, "/thing", {})
                    timed_secured, timed_bare = _measure([secured, bare], requests)
        finally:
            app.state.runtime.dispose()
        return timed_secured, timed_bare, runtime.engine.dialect.name


def command(
    requests: int = typer.Option(2000, "--requests", min=10, help="Requests per target."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="A PostgreSQL server URL; a scratch database is made on it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Authenticated, scoped GET vs a bare route: requests/s, p50/p95 and their ratio."""
    secured, bare, backend = run(requests=requests, database_url=database_url)
    ratio = secured.per_second / bare.per_second
    if as_json:
        print_json(
            {
                "backend": backend,
                "targets": [
                    {
                        "name": t.name,
                        "requests": t.requests,
                        "per_second": round(t.per_second, 1),
                        "p50_ms": round(t.p50_ms, 2),
                        "p95_ms": round(t.p95_ms, 2),
                    }
                    for t in (secured, bare)
                ],
                "ratio": round(ratio, 3),
            }
        )
        return
    typer.echo(
        f"auth bench on {backend}: {requests} sequential requests per target, "
        f"in alternating rounds of {ROUND}"
    )
    for t in (secured, bare):
        typer.echo(
            f"  {t.name:<28} {t.per_second:>8,.0f} req/s  p50 {t.p50_ms:6.2f} ms  "
            f"p95 {t.p95_ms:6.2f} ms"
        )
    typer.echo(f"  authenticated / bare throughput = {ratio:.0%} (target: at least 50%)")
