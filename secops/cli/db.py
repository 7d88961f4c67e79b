"""``secops db``: migrate and check the schema on the server itself."""

from __future__ import annotations

import typer

import secops.db_models  # noqa: F401  - every table on the metadata for the comparison
from secops.core import migrations
from secops.core.config import load_settings
from secops.core.console import fail, stdout
from secops.core.db import metadata
from secops.core.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    runtime = Runtime.build(load_settings())
    try:
        migrations.upgrade(runtime.engine, revision)
        state = migrations.migration_state(runtime.engine)
    finally:
        runtime.dispose()
    stdout.print(f"database at revision {state.revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    runtime = Runtime.build(load_settings())
    try:
        migrations.downgrade(runtime.engine, revision)
    finally:
        runtime.dispose()
    stdout.print(f"database downgraded to {revision}")


@app.command("check")
def check() -> None:
    """Fail unless the database is at the newest revision and matches the models."""
    runtime = Runtime.build(load_settings())
    try:
        state = migrations.migration_state(runtime.engine)
        if not state.reachable:
            fail("the database is unreachable")
        if not state.current:
            fail(
                f"the database is at {state.revision or 'no revision'}, newest is {state.head}; "
                "run `secops db upgrade`"
            )
        diffs = migrations.schema_differences(runtime.engine, metadata)
    finally:
        runtime.dispose()
    if diffs:
        fail(f"models and migrations disagree ({len(diffs)} differences): {diffs[0]!r}")
    stdout.print(f"ok: database at {state.revision}, models and migrations agree")
