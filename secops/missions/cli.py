"""``secops missions``: list, create, show and draw missions (acts as the signed-in user).

Every command goes through the API with the stored token, so it sees exactly what the user
would see there; errors reach ``secops.cli.main`` as ``ApiError`` and print as one line.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from secops.core.client import ApiClient
from secops.core.console import JsonOption, fail, print_json, print_record, print_table, stdout
from secops.missions.models import MissionKind, MissionStatus, Region

app = typer.Typer(no_args_is_help=True)

BASE = "/api/v1/missions"
COLUMNS = ["code", "name", "kind", "country", "city", "region", "status"]
RECORD_FIELDS = [
    "id",
    "code",
    "name",
    "kind",
    "country",
    "city",
    "region",
    "parent_id",
    "status",
    "created_at",
    "updated_at",
    "closed_at",
    "version",
]


def _resolve(client: ApiClient, ref: str) -> dict[str, Any]:
    """A mission by id or by code, as the API shows it to this user."""
    try:
        mission_id = uuid.UUID(ref)
    except ValueError:
        found = client.get(BASE, code=ref.strip().upper())
        if not found["items"]:
            fail(f"no mission with code {ref.strip().upper()} that you can see")
        return dict(found["items"][0])
    return dict(client.get(f"{BASE}/{mission_id}"))


def _fetch(client: ApiClient, params: dict[str, Any], limit: int | None = None) -> list[Any]:
    """Every mission matching ``params``, page after page (up to ``limit``)."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = client.get(BASE, **params, cursor=cursor)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if cursor is None or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items


@app.command("list")
def list_command(
    kind: MissionKind | None = typer.Option(None, help="Only this kind."),
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code, e.g. FR."),
    region: Region | None = typer.Option(None, help="Only this region."),
    status: MissionStatus | None = typer.Option(None, help="active or closed."),
    search: str | None = typer.Option(None, "--search", "-q", help="Text in the code or name."),
    limit: int | None = typer.Option(None, min=1, help="Stop after this many missions."),
    as_json: bool = JsonOption,
) -> None:
    """List the missions you can see, by code."""
    params: dict[str, Any] = {
        "kind": kind.value if kind else None,
        "country": country.strip().upper() if country else None,
        "region": region.value if region else None,
        "status": status.value if status else None,
        "q": search,
    }
    items = _fetch(ApiClient(), params, limit)
    if as_json:
        print_json(items)
        return
    print_table(items, COLUMNS, title=f"{len(items)} mission{'' if len(items) == 1 else 's'}")


@app.command("show")
def show_command(
    mission: str = typer.Argument(..., help="Mission code (EMB-PARIS) or id."),
    as_json: bool = JsonOption,
) -> None:
    """Show one mission."""
    record = _resolve(ApiClient(), mission)
    if as_json:
        print_json(record)
        return
    print_record({k: record.get(k) for k in RECORD_FIELDS}, title=record["code"])


@app.command("create")
def create_command(
    code: str = typer.Argument(..., help="Unique code: upper-case letters, digits, hyphens."),
    name: str = typer.Option(..., help="Full name, e.g. 'Embassy in Paris'."),
    kind: MissionKind = typer.Option(..., help="Kind of mission."),
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2 code, e.g. FR."),
    city: str = typer.Option(..., help="City the mission is in."),
    region: Region = typer.Option(..., help="The ministry's regional desk."),
    parent: str | None = typer.Option(None, help="Parent code or id (not for the HQ)."),
    as_json: bool = JsonOption,
) -> None:
    """Create a mission under a parent you administer."""
    client = ApiClient()
    parent_id = _resolve(client, parent)["id"] if parent else None
    body = {
        "code": code.strip().upper(),
        "name": name,
        "kind": kind.value,
        "country": country.strip().upper(),
        "city": city,
        "region": region.value,
        "parent_id": parent_id,
    }
    record = client.post(BASE, body)
    if as_json:
        print_json(record)
        return
    print_record({k: record.get(k) for k in RECORD_FIELDS}, title=f"Created {record['code']}")


def _nest(missions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missions as a forest: a mission whose parent you cannot see is drawn as a root."""
    nodes = {m["id"]: {**m, "children": []} for m in missions}
    roots: list[dict[str, Any]] = []
    for mission in missions:
        parent = nodes.get(mission["parent_id"])
        (parent["children"] if parent else roots).append(nodes[mission["id"]])
    return roots


def _branch(tree: Tree, node: dict[str, Any]) -> None:
    closed = " [dim](closed)[/dim]" if node["status"] == MissionStatus.CLOSED else ""
    # Names are user data: escape them so a bracket is printed, not read as Rich markup.
    code, name, kind = (escape(str(node[k])) for k in ("code", "name", "kind"))
    label = f"[bold]{code}[/bold]  {name}  [dim]{kind}[/dim]{closed}"
    child = tree.add(label, highlight=False)
    for grandchild in node["children"]:
        _branch(child, grandchild)


@app.command("tree")
def tree_command(as_json: bool = JsonOption) -> None:
    """Draw the missions you can see as a tree."""
    roots = _nest(_fetch(ApiClient(), {}))
    if as_json:
        print_json(roots)
        return
    tree = Tree("[bold]Missions[/bold]", highlight=False)
    for root in roots:
        _branch(tree, root)
    stdout.print(tree)
