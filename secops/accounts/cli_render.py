"""How ``secops accounts`` prints accounts: tables and records with the age of every fact.

Values are user data: they are escaped so a bracket in a handle prints as a bracket instead of
being read as Rich markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from secops.core.console import stdout

LIST_COLUMNS = ("platform", "handle", "mission", "tier", "owner", "mfa", "status", "evidence")


def age(days: int | None) -> str:
    """Evidence age for people: ``today``, ``12 d``, or ``none`` when nothing is recorded."""
    if days is None:
        return "none"
    return "today" if days == 0 else f"{days} d"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return escape(str(value))


def _status(fact: Mapping[str, Any]) -> str:
    origin = "attested" if fact["source"] == "attested" else fact["source"]
    text = f"{origin}, {age(fact['age_days'])}"
    if fact["fact_status"] != "ok":
        text += f" [bold red]{escape(fact['fact_status'])}: {escape(fact['error_reason'] or '')}"
        text += "[/bold red]"
    return text


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str) -> None:
    """A table of already-flattened rows."""
    out = Table(title=title)
    for column in columns:
        out.add_column(column.replace("_", " ").title())
    for row in rows:
        out.add_row(*(row.get(c, "") for c in columns))
    stdout.print(out)


def account_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One table row per account summary."""
    return [
        {
            "platform": _cell(a["platform"]),
            "handle": _cell(a["handle"]),
            "mission": _cell(a["mission_code"]),
            "tier": _cell(a["tier"]),
            "owner": _cell(a["owner_name"]),
            "mfa": _cell(a["mfa_strength"] or "no evidence"),
            "status": _cell(a["status"]),
            "evidence": age(a["age_days"]),
        }
        for a in items
    ]


def _section(title: str, fields: Mapping[str, Any], fact: Mapping[str, Any] | None) -> None:
    suffix = f"  [dim]({_status(fact)})[/dim]" if fact else ""
    stdout.print(f"\n[bold]{escape(title)}[/bold]{suffix}")
    width = max((len(k) for k in fields), default=0)
    for key, value in fields.items():
        stdout.print(f"  {key.ljust(width)}  {_cell(value)}", highlight=False)


def _pick(record: Mapping[str, Any], names: str) -> dict[str, Any]:
    return {name: record.get(name) for name in names.split()}


def detail(record: Mapping[str, Any]) -> None:
    """Every fact group of one account, each with its source and age."""
    title = f"{record['platform']}:{record['handle']}"
    _section(
        title,
        _pick(
            record,
            "id display_name url mission_code tier kind owner_name status last_activity_at "
            "verified_badge in_public_registry external_id version",
        ),
        None,
    )
    mfa = record.get("mfa")
    methods = {m["method"]: f"{m['strength']}" for m in record.get("mfa_method_facts", [])}
    mfa_fields = {"strongest": record.get("mfa_strength") or "no evidence", **methods}
    if mfa:
        mfa_fields = {"enabled": mfa["mfa_enabled"], "enforced": mfa["mfa_enforced"], **mfa_fields}
    _section("MFA", mfa_fields, mfa or _group(record, "mfa_methods"))
    recovery = record.get("recovery")
    if recovery:
        names = "email email_domain phone phone_owner carrier_lock backup_codes_escrowed"
        _section("Recovery", _pick(recovery, names + " last_verified_at"), recovery)
    credential = record.get("credential")
    if credential:
        names = "storage last_rotated_at min_length breach_checked_at holder_ids"
        _section("Password handling", _pick(credential, names), credential)
    _list(
        "Admins",
        record.get("admins", []),
        "person_name external_identity platform_role affiliation last_sign_in_at",
        _group(record, "admins"),
    )
    _list(
        "Connected apps",
        record.get("apps", []),
        "name publisher scopes allow_listed last_reviewed_at",
        _group(record, "apps"),
    )


def _group(record: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((g for g in record.get("groups", []) if g["group"] == name), None)


def _list(
    title: str, items: Sequence[Mapping[str, Any]], names: str, group: Mapping[str, Any] | None
) -> None:
    if group is None and not items:
        return
    suffix = f"  [dim]({_status(group)})[/dim]" if group else ""
    stdout.print(f"\n[bold]{title}[/bold]{suffix}")
    if not items:
        stdout.print("  none")
        return
    columns = [*names.split(), "evidence"]
    out = Table(show_header=True)
    for column in columns:
        out.add_column(column.replace("_", " "))
    for item in items:
        out.add_row(*(_cell(item.get(c)) for c in columns[:-1]), _status(item))
    stdout.print(out)
