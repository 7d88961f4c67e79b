"""``secops accounts import|export`` (acts as the signed-in user)."""

import typer


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``export`` to the accounts command."""
