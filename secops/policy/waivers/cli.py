"""``secops waivers …``: request, list, show, approve, reject, revoke and extend waivers.

Every command goes through the API as the signed-in user. A mission is named by its code or id;
an account by its id or as ``platform:handle``. ``--expires`` takes a date (``2026-06-30``, read
as midnight UTC), a time with its zone (``2026-06-30T12:00Z``) or days from now (``90d``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from secops.accounts.refs import account_id as _account_id
from secops.core.client import ApiClient
from secops.core.clock import Clock, SystemClock
from secops.core.console import JsonOption, fail, print_json, stdout
from secops.missions.refs import mission_id as _mission_id
from secops.policy.waivers.models import WaiverState

app = typer.Typer(no_args_is_help=True)

BASE = "/api/v1/policy/waivers"
LIST_COLUMNS = ("id", "rule", "mission", "scope", "state", "expires", "requested by", "approved by")
_DAYS = re.compile(r"^\s*(\d{1,4})\s*d\s*$", re.IGNORECASE)

# Tests replace this to read "90d" against their own time.
clock: Clock = SystemClock()


def parse_expiry(text: str, now: datetime) -> datetime:
    """``--expires``: ``Nd`` from now, or an ISO date or time (UTC when it names no zone)."""
    days = _DAYS.match(text)
    if days:
        return now + timedelta(days=int(days.group(1)))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail("--expires: give a date (2026-06-30), a time (2026-06-30T12:00Z) or days (90d)")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _waiver_id(ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        fail("name the waiver by its id (see `secops waivers list`)")


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _scope(record: Mapping[str, Any]) -> str:
    accounts = record["accounts"]
    if accounts:
        names = [a["handle"] or a["id"] for a in accounts]
        return (
            f"{len(names)} account(s): " + ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
        )
    return "mission and below" if record["include_children"] else "mission"


def _row(record: Mapping[str, Any]) -> dict[str, str]:
    expires = f"{record['expires_at'][:16].replace('T', ' ')} ({record['days_left']} d)"
    return {
        "id": _cell(record["id"]),
        "rule": _cell(record["rule_id"]),
        "mission": _cell(record["mission_code"]),
        "scope": _cell(_scope(record)),
        "state": _cell(record["state"]),
        "expires": _cell(expires),
        "requested by": _cell(record["requested_by_name"]),
        "approved by": _cell(record["approved_by_name"]),
    }


def _table(records: Sequence[Mapping[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in LIST_COLUMNS:
        table.add_column(column.title())
    for record in records:
        row = _row(record)
        table.add_row(*(row[c] for c in LIST_COLUMNS))
    stdout.print(table)


def _detail(record: Mapping[str, Any], title: str) -> None:
    stdout.print(f"[bold]{escape(title)}[/bold]")
    fields = {k: v for k, v in record.items() if k != "accounts"}
    fields["scope"] = _scope(record)
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        stdout.print(f"  {key.ljust(width)}  {_cell(value)}", highlight=False)


def _show(record: Mapping[str, Any], title: str, as_json: bool) -> None:
    if as_json:
        print_json(record)
    else:
        _detail(record, title)


@app.command("request")
def request_command(
    rule: str = typer.Option(..., help="The rule id, e.g. MFA.ENABLED.1v1."),
    mission: str = typer.Option(..., help="Mission code or id: the waiver's scope."),
    reason: str = typer.Option(..., help="Why the rule cannot be met, and what is done instead."),
    expires: str = typer.Option(..., help="2026-06-30, 2026-06-30T12:00Z or 90d; capped."),
    account: list[str] | None = typer.Option(
        None, help="Limit to this account (id or platform:handle); repeat for more."
    ),
    include_children: bool = typer.Option(False, help="Also cover the missions below."),
    policy: str | None = typer.Option(None, help="Policy id; needed when several are loaded."),
    as_json: bool = JsonOption,
) -> None:
    """Ask for an exception to one rule; another person must approve it."""
    expires_at = parse_expiry(expires, clock.now()).isoformat()
    client = ApiClient()
    body: dict[str, Any] = {
        "rule_id": rule,
        "mission_id": _mission_id(client, mission),
        "reason": reason,
        "expires_at": expires_at,
        "include_children": include_children,
        "account_ids": [_account_id(client, a) for a in account or []],
    }
    if policy is not None:
        body["policy_id"] = policy
    _show(client.post(BASE, body), "Waiver requested", as_json)


@app.command("list")
def list_command(
    state: WaiverState | None = typer.Option(None, help="requested, active, expired, …"),
    rule: str | None = typer.Option(None, help="Only this rule id."),
    mission: str | None = typer.Option(None, help="Only this mission (code or id)."),
    policy: str | None = typer.Option(None, help="Only this policy id."),
    account: str | None = typer.Option(None, help="Only waivers listing this account."),
    expiring_within: int | None = typer.Option(
        None, min=0, help="Active waivers expiring within this many days."
    ),
    limit: int | None = typer.Option(None, min=1, help="Stop after this many waivers."),
    as_json: bool = JsonOption,
) -> None:
    """List the waivers on your missions, newest request first."""
    client = ApiClient()
    params: dict[str, Any] = {
        "state": state.value if state else None,
        "rule_id": rule,
        "mission_id": _mission_id(client, mission) if mission else None,
        "policy_id": policy,
        "account_id": _account_id(client, account) if account else None,
        "expiring_within_days": expiring_within,
    }
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
    _table(items, f"{len(items)} waivers")


@app.command("show")
def show_command(
    waiver: str = typer.Argument(..., help="Waiver id."), as_json: bool = JsonOption
) -> None:
    """Show one waiver: scope, reason, who asked, who decided, and its state now."""
    client = ApiClient()
    _show(client.get(f"{BASE}/{_waiver_id(waiver)}"), "Waiver", as_json)


def _decide(action: str, waiver: str, note: str | None) -> Any:
    client = ApiClient()
    path = f"{BASE}/{_waiver_id(waiver)}"
    etag = client.request("GET", path).headers["ETag"]
    body = {"note": note} if note else {}
    response = client.request(
        "POST", f"{path}/{action}", json_body=body, headers={"If-Match": etag}
    )
    return response.json()


@app.command("approve")
def approve_command(
    waiver: str = typer.Argument(..., help="Waiver id."),
    note: str | None = typer.Option(None, help="Why you approve; kept with the waiver."),
    as_json: bool = JsonOption,
) -> None:
    """Approve someone else's request (never your own)."""
    _show(_decide("approve", waiver, note), "Waiver approved", as_json)


@app.command("reject")
def reject_command(
    waiver: str = typer.Argument(..., help="Waiver id."),
    note: str | None = typer.Option(None, help="Why you refuse it."),
    as_json: bool = JsonOption,
) -> None:
    """Refuse a request."""
    _show(_decide("reject", waiver, note), "Waiver rejected", as_json)


@app.command("revoke")
def revoke_command(
    waiver: str = typer.Argument(..., help="Waiver id."),
    note: str | None = typer.Option(None, help="Why it ends now."),
    as_json: bool = JsonOption,
) -> None:
    """End a waiver (or withdraw a request) now: the failures it covered show again at once."""
    _show(_decide("revoke", waiver, note), "Waiver revoked", as_json)


@app.command("extend")
def extend_command(
    waiver: str = typer.Argument(..., help="Waiver id."),
    expires: str = typer.Option(..., help="The new expiry: 2026-06-30, …T12:00Z or 90d."),
    reason: str | None = typer.Option(None, help="A new reason (default: the current one)."),
    as_json: bool = JsonOption,
) -> None:
    """Ask for a later expiry: a new request that another person must approve again."""
    client = ApiClient()
    body: dict[str, Any] = {"expires_at": parse_expiry(expires, clock.now()).isoformat()}
    if reason is not None:
        body["reason"] = reason
    record = client.post(f"{BASE}/{_waiver_id(waiver)}/extend", body)
    _show(record, "Extension requested", as_json)
