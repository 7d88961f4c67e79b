"""``secops accounts``: list, show, add, edit and attest accounts (acts as the signed-in user)."""

import typer

app = typer.Typer(no_args_is_help=True)
