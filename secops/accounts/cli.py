"""``secops accounts``: list, show, add, edit and attest accounts (acts as the signed-in user).

Every command goes through the API with the stored token, so it sees exactly what the user
would see there. An account is named by its id or as ``platform:handle`` (``x:@EmbParis``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from secops.accounts import cli_render as render
from secops.accounts.filters import AccountSort, MfaFilter
from secops.accounts.models import (
    AccountKind,
    AccountStatus,
    AccountTier,
    Affiliation,
    CredentialStorage,
    PhoneOwner,
    Platform,
)
from secops.accounts.refs import account_id as _account_id
from secops.core.client import ApiClient
from secops.core.console import JsonOption, fail, print_json
from secops.missions.refs import mission_id as _mission_id

app = typer.Typer(no_args_is_help=True)

BASE = "/api/v1/accounts"
PEOPLE = "/api/v1/people"


class YesNo(StrEnum):
    """A tri-state answer on the command line."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"

    def value_or_none(self) -> bool | None:
        """True, False or None for unknown."""
        return {"yes": True, "no": False}.get(self.value)


def _person_id(client: ApiClient, email: str) -> str:
    found = client.get(PEOPLE, email=email.strip().lower())
    if not found["items"]:
        fail(f"no person with e-mail {email.strip()} on your missions")
    return str(found["items"][0]["id"])


@app.command("list")
def list_command(
    mission: str | None = typer.Option(None, help="Mission code or id."),
    platform: Platform | None = typer.Option(None, help="Only this platform."),
    tier: AccountTier | None = typer.Option(None, help="Only this tier."),
    owner: str | None = typer.Option(None, help="Owner's e-mail address or id."),
    mfa: MfaFilter | None = typer.Option(None, help="Strongest MFA method (or 'missing')."),
    status: AccountStatus | None = typer.Option(None, help="active, dormant or closed."),
    stale: int | None = typer.Option(None, min=1, help="Evidence older than this many days."),
    search: str | None = typer.Option(None, "--search", "-q", help="Text in handle or name."),
    sort: AccountSort = typer.Option(AccountSort.HANDLE, help="Order; '-' reverses it."),
    limit: int | None = typer.Option(None, min=1, help="Stop after this many accounts."),
    as_json: bool = JsonOption,
) -> None:
    """List the accounts on your missions, with the age of their evidence."""
    params: dict[str, Any] = {
        "mission": mission,
        "platform": platform.value if platform else None,
        "tier": tier.value if tier else None,
        "owner": owner,
        "mfa": mfa.value if mfa else None,
        "status": status.value if status else None,
        "stale": True if stale else None,
        "stale_days": stale,
        "q": search,
        "sort": sort.value,
    }
    client = ApiClient()
    items: list[Any] = []
    cursor: str | None = None
    while limit is None or len(items) < limit:
        page = client.get(BASE, **params, cursor=cursor, limit=200)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    items = items[:limit] if limit is not None else items
    if as_json:
        print_json(items)
        return
    render.table(render.account_rows(items), render.LIST_COLUMNS, f"{len(items)} accounts")


@app.command("show")
def show_command(
    account: str = typer.Argument(..., help="Account id, or platform:handle."),
    as_json: bool = JsonOption,
) -> None:
    """Show one account with every fact, where it came from and how old it is."""
    client = ApiClient()
    record = client.get(f"{BASE}/{_account_id(client, account)}")
    if as_json:
        print_json(record)
        return
    render.detail(record)


@app.command("add")
def add_command(
    platform: Platform = typer.Option(..., help="Where the account lives."),
    handle: str = typer.Option(..., help="The handle or sign-in address."),
    mission: str = typer.Option(..., help="Mission code or id."),
    tier: AccountTier = typer.Option(..., help="How prominent the account is."),
    kind: AccountKind = typer.Option(..., help="institutional or personal_official."),
    owner: str | None = typer.Option(None, help="Owner's e-mail address."),
    url: str | None = typer.Option(None, help="Public address of the account."),
    display_name: str | None = typer.Option(None, help="Name shown on the platform."),
    status: AccountStatus = typer.Option(AccountStatus.ACTIVE, help="active, dormant, closed."),
    in_registry: bool = typer.Option(False, help="Listed in the public registry."),
    verified: YesNo = typer.Option(YesNo.UNKNOWN, help="Carries the platform's badge."),
    as_json: bool = JsonOption,
) -> None:
    """Add an account to one of your missions."""
    client = ApiClient()
    body: dict[str, Any] = {
        "platform": platform.value,
        "handle": handle,
        "mission_id": _mission_id(client, mission),
        "tier": tier.value,
        "kind": kind.value,
        "owner_id": _person_id(client, owner) if owner else None,
        "url": url,
        "display_name": display_name,
        "status": status.value,
        "in_public_registry": in_registry,
        "verified_badge": verified.value_or_none(),
    }
    record = client.post(BASE, {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(record)
        return
    render.table(render.account_rows([record]), render.LIST_COLUMNS, "Added")


@app.command("edit")
def edit_command(
    account: str = typer.Argument(..., help="Account id, or platform:handle."),
    handle: str | None = typer.Option(None, help="New handle."),
    mission: str | None = typer.Option(None, help="Move to this mission (code or id)."),
    tier: AccountTier | None = typer.Option(None, help="New tier."),
    kind: AccountKind | None = typer.Option(None, help="New kind."),
    owner: str | None = typer.Option(None, help="Owner's e-mail address, or 'none'."),
    url: str | None = typer.Option(None, help="New URL, or 'none'."),
    display_name: str | None = typer.Option(None, help="New display name."),
    status: AccountStatus | None = typer.Option(None, help="active, dormant or closed."),
    in_registry: YesNo | None = typer.Option(None, help="Listed in the public registry."),
    verified: YesNo | None = typer.Option(None, help="Carries the platform's badge."),
    as_json: bool = JsonOption,
) -> None:
    """Change an account; the change is refused if someone changed it since it was read."""
    client = ApiClient()
    account_id = _account_id(client, account)
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "handle": handle,
            "mission_id": _mission_id(client, mission) if mission else None,
            "tier": tier.value if tier else None,
            "kind": kind.value if kind else None,
            "display_name": display_name,
            "status": status.value if status else None,
        }.items()
        if v is not None
    }
    if owner is not None:
        changes["owner_id"] = None if owner == "none" else _person_id(client, owner)
    if url is not None:
        changes["url"] = None if url == "none" else url
    if in_registry is not None:
        changes["in_public_registry"] = in_registry == YesNo.YES
    if verified is not None:
        changes["verified_badge"] = verified.value_or_none()
    if not changes:
        fail("nothing to change: pass at least one option, e.g. --status dormant")
    etag = client.request("GET", f"{BASE}/{account_id}").headers["ETag"]
    response = client.request(
        "PATCH", f"{BASE}/{account_id}", json_body=changes, headers={"If-Match": etag}
    )
    record = response.json()
    if as_json:
        print_json(record)
        return
    render.table(render.account_rows([record]), render.LIST_COLUMNS, "Changed")


def _yes_no(value: YesNo | None) -> bool | None:
    return value.value_or_none() if value is not None else None


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command("attest")
def attest_command(
    account: str = typer.Argument(..., help="Account id, or platform:handle."),
    mfa_enabled: YesNo | None = typer.Option(None, help="MFA is on."),
    mfa_enforced: YesNo | None = typer.Option(None, help="Required by the organisation."),
    mfa_methods: str | None = typer.Option(
        None, help="Comma-separated, e.g. fido2,totp ('' none)."
    ),
    recovery_email: str | None = typer.Option(None, help="Recovery e-mail address."),
    recovery_phone: str | None = typer.Option(None, help="Recovery phone, international form."),
    phone_owner: PhoneOwner | None = typer.Option(None, help="Who holds the recovery line."),
    carrier_lock: YesNo | None = typer.Option(None, help="Port-out/SIM lock on the line."),
    backup_codes: YesNo | None = typer.Option(None, help="Backup codes escrowed."),
    storage: CredentialStorage | None = typer.Option(None, help="Where the password is kept."),
    min_length: int | None = typer.Option(None, min=1, help="Password length policy."),
    holders: str | None = typer.Option(None, help="E-mails of people who know the password."),
    admin: list[str] | None = typer.Option(None, help="EMAIL[=ROLE], repeat; 'none' for none."),
    admin_affiliation: Affiliation = typer.Option(Affiliation.MINISTRY, help="For --admin."),
    app_name: list[str] | None = typer.Option(None, "--app", help="Connected app; 'none'."),
    as_json: bool = JsonOption,
) -> None:
    """Attest facts about one account as checked by you now; each group given is replaced.

    Attesting recovery details records them as verified now.
    """
    client = ApiClient()
    account_id = _account_id(client, account)
    facts = _mfa_facts(mfa_enabled, mfa_enforced, mfa_methods)
    recovery = {
        "email": recovery_email,
        "phone": recovery_phone,
        "phone_owner": phone_owner.value if phone_owner else None,
        "carrier_lock": _yes_no(carrier_lock),
        "backup_codes_escrowed": _yes_no(backup_codes),
    }
    if any(v is not None for v in recovery.values()):
        facts["recovery"] = {k: v for k, v in recovery.items() if v is not None}
    if storage is not None or min_length is not None or holders is not None:
        facts["credential"] = _credential(client, storage, min_length, holders)
    if admin:
        facts["admins"] = _admins(client, admin, admin_affiliation)
    if app_name:
        facts["apps"] = [] if app_name == ["none"] else [{"name": n} for n in app_name]
    if not facts:
        fail("nothing to attest: pass at least one fact, e.g. --mfa-methods fido2")
    record = client.post(f"{BASE}/{account_id}/attest", facts)
    if as_json:
        print_json(record)
        return
    render.detail(record)


def _mfa_facts(
    enabled: YesNo | None, enforced: YesNo | None, methods: str | None
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if enabled is not None or enforced is not None:
        facts["mfa"] = {"mfa_enabled": _yes_no(enabled), "mfa_enforced": _yes_no(enforced)}
    if methods is not None:
        facts["mfa_methods"] = _split(methods)
    return facts


def _credential(
    client: ApiClient,
    storage: CredentialStorage | None,
    min_length: int | None,
    holders: str | None,
) -> dict[str, Any]:
    credential: dict[str, Any] = {"storage": storage.value if storage else None}
    credential["min_length"] = min_length
    if holders is not None:
        credential["holder_ids"] = [_person_id(client, e) for e in _split(holders) or []]
    return {k: v for k, v in credential.items() if v is not None}


def _admins(client: ApiClient, specs: list[str], affiliation: Affiliation) -> list[dict[str, Any]]:
    if specs == ["none"]:
        return []
    admins = []
    for spec in specs:
        identity, _, role = spec.partition("=")
        found = client.get(PEOPLE, email=identity.strip().lower())["items"]
        who = {"person_id": found[0]["id"]} if found else {"external_identity": identity.strip()}
        admins.append({**who, "platform_role": role.strip() or None, "affiliation": affiliation})
    return admins
