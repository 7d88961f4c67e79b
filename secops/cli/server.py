"""``secops serve`` and ``secops demo``: run the API with uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn
from starlette.types import ASGIApp

from secops.app import create_app
from secops.cli.db import unreachable
from secops.cli.seed import seed_demo
from secops.core import migrations
from secops.core.config import Environment, Settings, load_settings
from secops.core.console import fail, stdout
from secops.core.runtime import Runtime


def uvicorn_config(settings: Settings, app: ASGIApp | None = None) -> uvicorn.Config:
    """How ``secops serve`` runs uvicorn: no Server banner, uvicorn's access log replaced by ours,
    logging left to secops, and ``X-Forwarded-*`` trusted only from ``SECOPS_FORWARDED_ALLOW_IPS``.
    """
    return uvicorn.Config(
        app if app is not None else create_app(settings),
        host=settings.host,
        port=settings.port,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,
        log_config=None,
    )


def run_server(settings: Settings) -> None:
    """Serve the API on the configured host and port until interrupted."""
    uvicorn.Server(uvicorn_config(settings)).run()


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``demo`` to the root command."""

    @app.command("serve")
    def serve(
        host: str | None = typer.Option(None, help="Address to bind (default SECOPS_HOST)."),
        port: int | None = typer.Option(None, help="Port (default SECOPS_PORT)."),
    ) -> None:
        """Serve the API; refuses to start on an unmigrated database."""
        overrides: dict[str, object] = {}
        if host:
            overrides["host"] = host
        if port:
            overrides["port"] = port
        settings = load_settings(**overrides)
        runtime = Runtime.build(settings)
        try:
            state = migrations.migration_state(runtime.engine)
        finally:
            runtime.dispose()
        if not state.reachable:
            fail(unreachable(settings))
        if not state.current:
            fail("the database is not at the newest migration; run `secops db upgrade` first")
        run_server(settings)

    @app.command("demo")
    def demo(
        port: int = typer.Option(8000, help="Port to serve on."),
        data_dir: Path = typer.Option(Path("secops-data"), help="Where the demo keeps its files."),
        seed_only: bool = typer.Option(False, "--seed-only", help="Seed, then exit."),
    ) -> None:
        """Create, migrate and seed a demo ministry on SQLite, then serve it on 127.0.0.1."""
        settings = load_settings(data_dir=data_dir, port=port, host="127.0.0.1")
        if settings.env is Environment.PRODUCTION:
            fail("the demo refuses to run in production mode")
        runtime = Runtime.build(settings)
        try:
            migrations.upgrade(runtime.engine)
            summary = seed_demo(runtime)
        finally:
            runtime.dispose()
        stdout.print(summary.render(f"http://127.0.0.1:{port}"))
        if not seed_only:
            run_server(settings)
