"""``python -m secops.bench``: run a benchmark and print its figures."""

from __future__ import annotations

import typer

from secops.bench import audit, auth, inventory, policy

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command("audit")(audit.command)
app.command("auth")(auth.command)
app.command("inventory")(inventory.command)
app.command("policy")(policy.command)


@app.callback()
def main() -> None:
    """Benchmarks of secops on this machine; each prints its figures."""


if __name__ == "__main__":
    app()
