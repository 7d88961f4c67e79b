"""``secops connectors add|list|test|sync|runs`` (acts as the signed-in user over the API).

The secret is read from a file (or ``-`` for standard input), sent once over the API and never
printed: no command shows it, because the API never returns it.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import typer

from secops.accounts.connectors.models import ConnectorKind
from secops.core.client import ApiClient
from secops.core.console import JsonOption, fail, print_json, print_record, print_table

app = typer.Typer(no_args_is_help=True)

BASE = "/api/v1/connectors"
COLUMNS = ["id", "name", "kind", "mission_code", "tenant", "last_sync_status", "last_sync_at"]
RUN_COLUMNS = ["started_at", "status", "created", "updated", "unchanged", "errored", "error"]
MAX_SECRET_BYTES = 20_000


def _read_secret(path: str) -> str:
    if path == "-":
        text = sys.stdin.read(MAX_SECRET_BYTES + 1)
    else:
        file = Path(path)
        if not file.is_file():
            fail(f"no such file: {path}")
        if file.stat().st_size > MAX_SECRET_BYTES:
            fail(f"{path} is larger than a secret or key file can be")
        text = file.read_text(encoding="utf-8")
    text = text.strip()
    if not text or len(text) > MAX_SECRET_BYTES:
        fail("the secret file is empty or too large")
    return text


def _mission_id(client: ApiClient, reference: str) -> str:
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        code = reference.strip().upper()
        found = client.get("/api/v1/missions", code=code)
        if not found["items"]:
            fail(f"no mission with code {code} that you can see")
        return str(found["items"][0]["id"])


def _mission_codes(client: ApiClient) -> dict[str, str]:
    codes: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = client.get("/api/v1/missions", cursor=cursor, limit=200)
        codes.update({m["id"]: m["code"] for m in page["items"]})
        cursor = page.get("next_cursor")
        if cursor is None:
            return codes


def _row(connector: dict[str, Any], codes: dict[str, str]) -> dict[str, Any]:
    tenant = connector.get("tenant_id") or connector.get("admin_subject")
    return {
        **connector,
        "mission_code": codes.get(connector["mission_id"], connector["mission_id"]),
        "tenant": tenant,
    }


@app.command("add")
def add_command(
    kind: ConnectorKind = typer.Option(..., help="microsoft_graph or google_workspace."),
    name: str = typer.Option(..., help="A name officers will recognise."),
    mission: str = typer.Option(..., help="Mission code (or id) whose accounts it feeds."),
    secret_file: str = typer.Option(
        ...,
        help="Graph: a file holding the client secret. Google: the key file (JSON). '-': stdin.",
    ),
    tenant_id: str | None = typer.Option(None, help="Graph: the directory (tenant) id."),
    client_id: str | None = typer.Option(None, help="Graph: the application (client) id."),
    customer_id: str | None = typer.Option(None, help="Google: customer id or my_customer."),
    admin_subject: str | None = typer.Option(None, help="Google: the admin to act for."),
    as_json: bool = JsonOption,
) -> None:
    """Configure a connector; the secret is sent once and never shown again."""
    client = ApiClient()
    body = {
        "kind": kind.value,
        "name": name,
        "mission_id": _mission_id(client, mission),
        "tenant_id": tenant_id,
        "client_id": client_id,
        "customer_id": customer_id,
        "admin_subject": admin_subject,
        "secret": _read_secret(secret_file),
    }
    created = client.post(BASE, {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(created)
        return
    print_record(_row(created, {}), title=f"Connector {created['name']} added")


@app.command("list")
def list_command(as_json: bool = JsonOption) -> None:
    """List the connectors you administer."""
    client = ApiClient()
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = client.get(BASE, cursor=cursor)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    if as_json:
        print_json(items)
        return
    codes = _mission_codes(client)
    print_table([_row(c, codes) for c in items], COLUMNS, title=f"{len(items)} connectors")


@app.command("test")
def check_command(
    connector: uuid.UUID = typer.Argument(..., help="Connector id."), as_json: bool = JsonOption
) -> None:
    """Sign in to the vendor and read one page; exits 1 if the vendor refused."""
    result = ApiClient().post(f"{BASE}/{connector}/test")
    if as_json:
        print_json(result)
    elif result["ok"]:
        typer.echo("ok: the vendor accepted the credentials and answered")
    if not result["ok"]:
        status = f" (HTTP {result['http_status']})" if result.get("http_status") else ""
        fail(f"the vendor refused: {result['code']}{status}")


@app.command("sync")
def sync_command(
    connector: uuid.UUID = typer.Argument(..., help="Connector id."), as_json: bool = JsonOption
) -> None:
    """Sync now and print what changed; exits 1 if nothing could be read."""
    run = ApiClient().post(f"{BASE}/{connector}/sync")
    if as_json:
        print_json(run)
    else:
        print_record(
            {"status": run["status"], **run["counts"], "error": run.get("error")},
            title=f"Sync {run['id']}",
        )
    if run["status"] == "failed":
        fail(f"the sync failed: {run.get('error') or 'see the run'}")


@app.command("runs")
def runs_command(
    connector: uuid.UUID = typer.Argument(..., help="Connector id."),
    limit: int = typer.Option(20, min=1, max=200, help="How many runs, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """The connector's latest syncs."""
    page = ApiClient().get(f"{BASE}/{connector}/runs", limit=limit)
    if as_json:
        print_json(page["items"])
        return
    rows = [
        {
            **run,
            "created": run["counts"].get("accounts_created"),
            "updated": run["counts"].get("accounts_updated"),
            "unchanged": run["counts"].get("accounts_unchanged"),
            "errored": run["counts"].get("facts_errored"),
        }
        for run in page["items"]
    ]
    print_table(rows, RUN_COLUMNS, title=f"{len(rows)} runs")
