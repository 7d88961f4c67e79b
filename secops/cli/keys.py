"""``secops keys``: status and rotation of the encryption keys (server-local)."""

import typer

app = typer.Typer(no_args_is_help=True)
