"""``secops audit``: verify, checkpoint and export the audit trail."""

import typer

app = typer.Typer(no_args_is_help=True)
