"""``secops demo-code USER``: the current TOTP code of a demo user (demo data directory only)."""

from __future__ import annotations

from pathlib import Path

import pyotp
import typer

from secops.cli.seed import demo_user_secret
from secops.core.config import load_settings
from secops.core.console import fail, stdout
from secops.core.runtime import Runtime


def register(app: typer.Typer) -> None:
    """Add ``demo-code`` to the root command."""

    @app.command("demo-code")
    def demo_code(
        username: str = typer.Argument(..., help="A demo user, e.g. officer."),
        data_dir: Path = typer.Option(Path("secops-data"), help="The demo's data directory."),
    ) -> None:
        """Print a demo user's current TOTP code (only for users the demo created)."""
        settings = load_settings(data_dir=data_dir)
        if settings.is_production:
            fail("demo codes are not available in production mode")
        runtime = Runtime.build(settings)
        try:
            secret = demo_user_secret(runtime, username)
            now = runtime.clock.now()
        finally:
            runtime.dispose()
        if secret is None:
            fail(f"{username!r} is not a demo user in {data_dir}")
        stdout.print(pyotp.TOTP(secret).at(now))
