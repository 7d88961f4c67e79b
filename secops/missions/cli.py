"""``secops missions``: list, create and show missions (acts as the signed-in user)."""

import typer

app = typer.Typer(no_args_is_help=True)
