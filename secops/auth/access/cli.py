"""``secops users``, ``secops grants`` and ``secops apikeys`` (act as the signed-in user).

Every command goes through the API with the stored token, so it sees and may do exactly what
the user could there; ``users`` calls the identity routes under ``/users``.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer

from secops.core.client import ApiClient
from secops.core.console import JsonOption, fail, print_json, print_record, print_table, stdout
from secops.core.principal import Permission, Role

users_app = typer.Typer(no_args_is_help=True)
grants_app = typer.Typer(no_args_is_help=True)
apikeys_app = typer.Typer(no_args_is_help=True)

API = "/api/v1"
GRANT_COLUMNS = ["id", "role", "mission", "include_children", "created_at", "revoked_at"]
USER_COLUMNS = ["username", "display_name", "email", "status", "totp_enrolled", "id"]
KEY_COLUMNS = ["id", "public_id", "name", "permissions", "missions", "expires_at", "last_used_at"]


def _all_pages(client: ApiClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get(path, cursor=cursor, limit=200)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            return items


def resolve_user(client: ApiClient, ref: str) -> str:
    """A user id from an id or a username, as the API shows users to this caller."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    wanted = ref.strip().casefold()
    users = _all_pages(client, f"{API}/users")
    matches = [str(u["id"]) for u in users if str(u["username"]).casefold() == wanted]
    if not matches:
        fail(f"no user named {ref.strip()} that you can see")
    return matches[0]


def resolve_mission(client: ApiClient, ref: str) -> str:
    """A mission id from an id or a code."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    code = ref.strip().upper()
    found = client.get(f"{API}/missions", code=code)
    if not found["items"]:
        fail(f"no mission with code {code} that you can see")
    return str(found["items"][0]["id"])


def _mission_codes(client: ApiClient) -> dict[str, str]:
    return {str(m["id"]): str(m["code"]) for m in _all_pages(client, f"{API}/missions")}


def _grant_row(grant: dict[str, Any], codes: dict[str, str]) -> dict[str, Any]:
    mission = grant.get("mission_id")
    shown = "(whole ministry)" if mission is None else codes.get(str(mission), str(mission))
    return {**grant, "mission": shown}


@users_app.command("list")
def users_list(as_json: bool = JsonOption) -> None:
    """List users, by username."""
    users = _all_pages(ApiClient(), f"{API}/users")
    if as_json:
        print_json(users)
        return
    print_table(users, USER_COLUMNS, title=f"{len(users)} users")


@users_app.command("create")
def users_create(
    username: str = typer.Argument(..., help="Sign-in name."),
    display_name: str = typer.Option(..., help="Full name."),
    email: str | None = typer.Option(None, help="Work e-mail."),
    as_json: bool = JsonOption,
) -> None:
    """Create a user and print the single-use invitation token to hand to them."""
    body = {"username": username, "display_name": display_name, "email": email}
    created = ApiClient().post(f"{API}/users", body)
    if as_json:
        print_json(created)
        return
    user, invitation = created["user"], created["invitation"]
    print_record({k: user.get(k) for k in USER_COLUMNS}, title=f"user {user['username']}")
    stdout.print(f"Invitation token (shown once): {invitation.get('token')}", highlight=False)


@users_app.command("disable")
def users_disable(user: str = typer.Argument(..., help="Username or user id.")) -> None:
    """Stop a user signing in; their sessions and API keys stop working at once."""
    client = ApiClient()
    client.post(f"{API}/users/{resolve_user(client, user)}/disable")
    stdout.print(f"disabled {user}", highlight=False)


@grants_app.command("add")
def grants_add(
    user: str = typer.Argument(..., help="Username or user id."),
    role: Role = typer.Argument(..., help="Role to grant."),
    mission: str | None = typer.Option(None, help="Mission code or id."),
    ministry: bool = typer.Option(False, "--ministry", help="Grant on the whole ministry."),
    with_children: bool = typer.Option(False, "--with-children", help="Cover sub-missions too."),
    as_json: bool = JsonOption,
) -> None:
    """Give a user a role on a mission or on the whole ministry (needs a recent sign-in)."""
    if (mission is None) == (not ministry):
        fail("give exactly one of --mission CODE or --ministry")
    client = ApiClient()
    body = {
        "role": role.value,
        "mission_id": resolve_mission(client, mission) if mission else None,
        "include_children": with_children,
    }
    grant = client.post(f"{API}/users/{resolve_user(client, user)}/grants", body)
    if as_json:
        print_json(grant)
        return
    stdout.print(f"granted {role.value} to {user} (grant {grant['id']})", highlight=False)


@grants_app.command("list")
def grants_list(
    user: str = typer.Argument(..., help="Username or user id."),
    include_revoked: bool = typer.Option(False, "--all", help="Include revoked grants."),
    as_json: bool = JsonOption,
) -> None:
    """List a user's grants on the missions you administer."""
    client = ApiClient()
    page = client.get(
        f"{API}/users/{resolve_user(client, user)}/grants",
        include_revoked=str(include_revoked).lower(),
    )
    if as_json:
        print_json(page["items"])
        return
    codes = _mission_codes(client)
    rows = [_grant_row(g, codes) for g in page["items"]]
    print_table(rows, GRANT_COLUMNS, title=f"{len(rows)} grants")


@grants_app.command("revoke")
def grants_revoke(grant_id: uuid.UUID = typer.Argument(..., help="Grant id.")) -> None:
    """End a grant now; the user's sessions and keys lose it on their next request."""
    ApiClient().request("DELETE", f"{API}/grants/{grant_id}")
    stdout.print(f"revoked grant {grant_id}", highlight=False)


@apikeys_app.command("create")
def apikeys_create(
    name: str = typer.Option(..., help="What the key is for, e.g. 'nightly export'."),
    permission: list[Permission] = typer.Option(..., help="A permission the key may use."),
    mission: list[str] | None = typer.Option(None, help="Mission code or id (default: all)."),
    days: int = typer.Option(90, min=1, max=90, help="Days until the key expires."),
    as_json: bool = JsonOption,
) -> None:
    """Create an API key for yourself; the token is printed once (needs a recent sign-in)."""
    client = ApiClient()
    body = {
        "name": name,
        "permissions": [p.value for p in permission],
        "missions": [resolve_mission(client, m) for m in mission] if mission else None,
        "days": days,
    }
    created = client.post(f"{API}/apikeys", body)
    if as_json:
        print_json(created)
        return
    fields = ["id", "public_id", "name", "permissions", "missions", "expires_at", "token"]
    print_record({k: created.get(k) for k in fields}, title="API key created")
    stdout.print("Store the token now: it is not stored and will not be shown again.")


@apikeys_app.command("list")
def apikeys_list(
    everyone: bool = typer.Option(False, "--everyone", help="Also keys you administer."),
    include_revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
    as_json: bool = JsonOption,
) -> None:
    """List your API keys (never their secrets)."""
    page = ApiClient().get(
        f"{API}/apikeys",
        everyone=str(everyone).lower(),
        include_revoked=str(include_revoked).lower(),
    )
    if as_json:
        print_json(page["items"])
        return
    rows = [
        {**k, "permissions": ",".join(k["permissions"]), "missions": _missions_cell(k)}
        for k in page["items"]
    ]
    print_table(rows, KEY_COLUMNS, title=f"{len(rows)} keys")


def _missions_cell(key: dict[str, Any]) -> str:
    missions = key.get("missions")
    return "(owner's missions)" if missions is None else f"{len(missions)} missions"


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: uuid.UUID = typer.Argument(..., help="Key id.")) -> None:
    """Revoke a key; it stops working at once."""
    ApiClient().request("DELETE", f"{API}/apikeys/{key_id}")
    stdout.print(f"revoked key {key_id}", highlight=False)
