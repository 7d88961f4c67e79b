"""``secops users``, ``secops grants`` and ``secops apikeys`` (act as the signed-in admin)."""

import typer

users_app = typer.Typer(no_args_is_help=True)
grants_app = typer.Typer(no_args_is_help=True)
apikeys_app = typer.Typer(no_args_is_help=True)
