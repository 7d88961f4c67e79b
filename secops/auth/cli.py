"""``secops login``, ``secops admin`` and ``secops keys``."""

import typer

admin_app = typer.Typer(no_args_is_help=True)


def login_app(root: typer.Typer) -> None:
    """Add ``login`` and ``logout`` to the root command."""
