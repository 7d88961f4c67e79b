"""``secops login``, ``logout`` and ``whoami`` (over HTTP), and ``secops admin bootstrap`` (local).

The session token is kept in the credentials file, mode 0600; passwords and codes are read with
hidden input and never stored or printed.
"""

from __future__ import annotations

from typing import Any

import typer

from secops.auth import bootstrap
from secops.auth.totp import is_well_formed
from secops.core.client import (
    ApiClient,
    ApiError,
    Credentials,
    forget_credentials,
    load_credentials,
    save_credentials,
)
from secops.core.config import load_settings
from secops.core.console import JsonOption, fail, print_json, print_record, stdout
from secops.core.runtime import Runtime

admin_app = typer.Typer(no_args_is_help=True)

AUTH = "/api/v1/auth"


@admin_app.command("bootstrap")
def bootstrap_command() -> None:
    """Print a single-use code, valid 15 minutes, that creates the first administrator."""
    runtime = Runtime.build(load_settings())
    try:
        with runtime.sessions.begin() as session:
            ticket = bootstrap.issue_code(session)
    finally:
        runtime.dispose()
    stdout.print(f"Bootstrap code: {ticket.code}", highlight=False)
    stdout.print(f"Valid until {ticket.expires_at.isoformat()} (single use).", highlight=False)
    stdout.print(
        f"Create the first administrator with POST {AUTH}/bootstrap "
        '{"code", "username", "display_name", "password"}, then enrol TOTP.',
        highlight=False,
    )


def _code_fields(code: str) -> dict[str, str]:
    code = code.strip()
    if not code:
        return {}
    return {"totp_code": code} if is_well_formed(code) else {"recovery_code": code}


def _enrol(url: str, token: str) -> dict[str, Any]:
    client = ApiClient(Credentials(url=url, token=token))
    started = client.post(f"{AUTH}/totp/start")
    stdout.print("TOTP is required. Add this account to your authenticator app:", highlight=False)
    stdout.print(f"  secret: {started['secret']}", highlight=False)
    stdout.print(f"  URI:    {started['otpauth_uri']}", highlight=False)
    code = typer.prompt("Code from the app", hide_input=True)
    confirmed = client.post(f"{AUTH}/totp/confirm", {"code": code.strip()})
    stdout.print("Recovery codes (shown once; keep them offline):", highlight=False)
    for recovery_code in confirmed["recovery_codes"]:
        stdout.print(f"  {recovery_code}", highlight=False)
    session: dict[str, Any] | None = confirmed.get("session")
    if session is None:
        fail("the server did not return a session after enrolment; run `secops login` again")
    return session


def login(
    url: str | None = typer.Option(None, "--url", help="The secops server (default: saved)."),
    username: str | None = typer.Option(None, "--username", "-u", help="Your username."),
) -> None:
    """Sign in and keep the session token (file mode 0600); enrols TOTP on first sign-in."""
    base = (url or load_credentials().url).rstrip("/")
    name = username or typer.prompt("Username")
    password = typer.prompt("Password", hide_input=True)
    code = typer.prompt(
        "TOTP or recovery code (Enter if not enrolled yet)",
        hide_input=True,
        default="",
        show_default=False,
    )
    body: dict[str, Any] = {"username": name, "password": password, **_code_fields(code)}
    client = ApiClient(Credentials(url=base, token=None), require_token=False)
    issued: dict[str, Any] = client.post(f"{AUTH}/login", body)
    if issued["enrolment_required"]:
        issued = _enrol(base, issued["token"])
    path = save_credentials(Credentials(url=base, token=issued["token"]))
    stdout.print(
        f"Signed in as {issued['username']}; session expires at {issued['expires_at']}.",
        highlight=False,
    )
    stdout.print(f"Token saved in {path}.", highlight=False)


def logout() -> None:
    """End the session on the server and forget the saved token."""
    creds = load_credentials()
    if creds.token:
        try:
            ApiClient(creds).post(f"{AUTH}/logout")
        except ApiError as exc:
            if exc.status not in (401, 403):
                raise
    forget_credentials()
    stdout.print("Signed out.")


def _reach(role: dict[str, Any]) -> str:
    count = len(role["missions"])
    return "everywhere" if role["everywhere"] else f"{count} mission{'' if count == 1 else 's'}"


def whoami(as_json: bool = JsonOption) -> None:
    """Show who the saved session signs in as: account, roles and missions."""
    me: dict[str, Any] = ApiClient().get(f"{AUTH}/me")
    if as_json:
        print_json(me)
        return
    roles = ", ".join(f"{r['role']} ({_reach(r)})" for r in me["roles"])
    print_record(
        {
            "username": me["username"],
            "display name": me["display_name"],
            "email": me["email"],
            "roles": roles or "none",
            "TOTP": "enrolled" if me["totp_enrolled"] else "not enrolled",
            "recovery codes left": me["recovery_codes_remaining"],
            "signed in at": me["authenticated_at"],
        },
        title=me["username"],
    )


def login_app(root: typer.Typer) -> None:
    """Add ``login``, ``logout`` and ``whoami`` to the root command."""
    root.command("login")(login)
    root.command("logout")(logout)
    root.command("whoami")(whoami)
