"""The ``secops`` command: server-local administration plus domain commands that act as a user."""

from __future__ import annotations

import sys

import typer

from secops.accounts.cli import app as accounts_app
from secops.accounts.connectors.cli import app as connectors_app
from secops.accounts.io_cli import register as register_accounts_io
from secops.audit.cli import app as audit_app
from secops.auth.access.cli import apikeys_app, grants_app, users_app
from secops.auth.cli import admin_app, login_app
from secops.cli.db import app as db_app
from secops.cli.democode import register as register_demo_code
from secops.cli.keys import app as keys_app
from secops.cli.server import register as register_server_commands
from secops.cli.worker import register as register_worker
from secops.core.client import ApiError
from secops.core.console import CliFailure, print_error_line
from secops.core.errors import ConfigurationError, SecopsError
from secops.missions.cli import app as missions_app
from secops.policy.cli import app as policy_app
from secops.policy.waivers.cli import app as waivers_app

app = typer.Typer(
    name="secops",
    help="secops: account security for foreign ministries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register_server_commands(app)
register_demo_code(app)
register_worker(app)
app.add_typer(db_app, name="db", help="Database migrations and checks (server-local).")
app.add_typer(missions_app, name="missions", help="Missions: HQ, embassies, consulates.")
register_accounts_io(accounts_app)
app.add_typer(accounts_app, name="accounts", help="The account inventory.")
app.add_typer(
    connectors_app, name="connectors", help="Microsoft 365 and Google Workspace connectors."
)
app.add_typer(policy_app, name="policy", help="Policy files, evaluations, findings, scores.")
app.add_typer(waivers_app, name="waivers", help="Time-boxed exceptions to a policy rule.")
app.add_typer(audit_app, name="audit", help="The tamper-evident audit trail.")
app.add_typer(admin_app, name="admin", help="Server-local administration.")
app.add_typer(keys_app, name="keys", help="Encryption keys at rest (server-local).")
app.add_typer(users_app, name="users", help="Users of secops (acts as the signed-in admin).")
app.add_typer(grants_app, name="grants", help="Roles on missions (acts as the signed-in admin).")
app.add_typer(apikeys_app, name="apikeys", help="API keys for services and scripts.")
login_app(app)


def main() -> None:
    """Entry point: run the CLI; errors become one line on stderr and a non-zero exit."""
    try:
        # Without standalone mode click returns (not raises) the code of a ``typer.Exit``.
        code = app(standalone_mode=False)
    except CliFailure as exc:
        print_error_line(exc.message)
        sys.exit(exc.exit_code)
    except (SecopsError, ApiError) as exc:
        print_error_line(str(exc))
        sys.exit(1)
    except ConfigurationError as exc:
        print_error_line(f"configuration: {exc}")
        sys.exit(2)
    except typer.Abort:
        print_error_line("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:
        # Usage errors (unknown option, bad value): one line naming the command's help.
        sys.exit(_usage_error(exc))
    if isinstance(code, int) and code:
        sys.exit(code)


def _usage_error(exc: typer.TyperException) -> int:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    command_path = getattr(ctx, "command_path", None)
    hint = f" (see `{command_path} --help`)" if command_path else ""
    print_error_line(f"{message}{hint}")
    code = getattr(exc, "exit_code", 2)
    return code if isinstance(code, int) else 2
