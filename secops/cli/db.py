"""``secops db``: migrate and check the schema on the server itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

import secops.db_models  # noqa: F401  - every table on the metadata for the comparison
from secops.core import migrations
from secops.core.config import Settings, load_settings
from secops.core.console import fail, stdout
from secops.core.db import metadata
from secops.core.runtime import Runtime

app = typer.Typer(no_args_is_help=True)


def unreachable(settings: Settings) -> str:
    """The one line that says which database did not answer (never its password)."""
    where = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return f"the database at {where} is unreachable; check SECOPS_DATABASE_URL and the server"


@contextmanager
def server_runtime() -> Iterator[Runtime]:
    """The runtime of a server-local command; a database that does not answer is one line."""
    settings = load_settings()
    runtime = Runtime.build(settings)
    try:
        yield runtime
    except (sa_exc.OperationalError, sa_exc.InterfaceError):
        fail(unreachable(settings))
    finally:
        runtime.dispose()


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    with server_runtime() as runtime:
        migrations.upgrade(runtime.engine, revision)
        state = migrations.migration_state(runtime.engine)
    stdout.print(f"database at revision {state.revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    with server_runtime() as runtime:
        migrations.downgrade(runtime.engine, revision)
    stdout.print(f"database downgraded to {revision}")


@app.command("check")
def check() -> None:
    """Fail unless the database is at the newest revision and matches the models."""
    with server_runtime() as runtime:
        state = migrations.migration_state(runtime.engine)
        if not state.reachable:
            fail(unreachable(runtime.settings))
        if not state.current:
            fail(
                f"the database is at {state.revision or 'no revision'}, newest is {state.head}; "
                "run `secops db upgrade`"
            )
        diffs = migrations.schema_differences(runtime.engine, metadata)
    if diffs:
        fail(f"models and migrations disagree ({len(diffs)} differences): {diffs[0]!r}")
    stdout.print(f"ok: database at {state.revision}, models and migrations agree")
