"""How ``secops policy`` prints runs, findings, scores and results: Rich tables for people.

Values are user data: escaped, so a bracket in a handle or a reason prints as a bracket rather
than being read as Rich markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from secops.core.console import stdout

_STATUS_STYLE = {"fail": "red", "error": "magenta", "manual": "yellow", "pass": "green"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return escape(str(value))


def _status(value: str | None) -> str:
    style = _STATUS_STYLE.get(value or "")
    return f"[{style}]{_text(value)}[/{style}]" if style else _text(value)


def _score(summary: Mapping[str, Any] | None) -> str:
    if not summary or summary.get("score") is None:
        return "n/a"
    return f"{summary['score']:.1f}"


def _day(value: str | None) -> str:
    return (value or "")[:10]


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    out = Table(title=title)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*row)
    stdout.print(out)


def policies(items: Sequence[Mapping[str, Any]]) -> None:
    """Loaded policy files."""
    rows = [
        [_text(p["id"]), _text(p["version"]), _text(p["title"]), str(p["rule_count"]),
         _text(p["review_by"]), _text(p["sha256"][:12])]
        for p in items
    ]  # fmt: skip
    _table(f"{len(items)} policies", ["Id", "Version", "Title", "Rules", "Review by", "SHA-256"],
           rows)  # fmt: skip


def _account(item: Mapping[str, Any]) -> str:
    if item.get("handle") is None:
        return _text(item["account_id"])
    return f"{_text(item['platform'])}:{_text(item['handle'])}"


def run_summary(run: Mapping[str, Any]) -> None:
    """One run: which policy file, and what it found on the caller's missions."""
    summary = run.get("summary") or {}
    stdout.print(
        f"[bold]Run {run['seq']}[/bold] of {_text(run['policy_id'])} {_text(run['policy_version'])}"
        f" (sha256 {_text(run['policy_sha256'][:12])}…): {_text(run['status'])}",
        highlight=False,
    )
    if run.get("error"):
        stdout.print(f"  [red]{_text(run['error'])}[/red]", highlight=False)
    if not summary:
        return
    waived = summary.get("waived")
    stdout.print(
        f"  {summary['accounts']} accounts, score {_score(summary)}"
        f"{'' if waived is None else f' ({waived} open results waived)'}\n"
        f"  pass {summary['passed']}, fail {summary['failed']}, manual {summary['manual']}, "
        f"error {summary['error']}, not applicable {summary['not_applicable']}",
        highlight=False,
    )


def runs(items: Sequence[Mapping[str, Any]]) -> None:
    """Recent runs."""
    rows = []
    for run in items:
        summary = run.get("summary") or {}
        rows.append([str(run["seq"]), _text(run["policy_id"]), _text(run["policy_version"]),
                     _text(run["status"]), _text(run["trigger"]), _text(run["started_at"][:19]),
                     str(summary.get("accounts", "")), _score(summary),
                     str(summary.get("open", ""))])  # fmt: skip
    columns = ["Run", "Policy", "Version", "Status", "Trigger", "Started", "Accounts", "Score",
               "Open"]  # fmt: skip
    _table(f"{len(items)} runs", columns, rows)


def _waiver(item: Mapping[str, Any]) -> str:
    waiver = item.get("waiver")
    return f"until {_day(waiver['expires_at'])}" if waiver else ""


_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def findings(items: Sequence[Mapping[str, Any]]) -> None:
    """Findings, the most severe first: a heading line each, then why, indented.

    A table squeezes the reason (the part an officer reads) into a sliver of an 80-column
    terminal, so each finding is a short block instead.
    """
    items = sorted(items, key=lambda f: (_SEVERITY_ORDER.get(f["severity"], 9), f["rule_id"],
                                         f["mission_code"] or "", f["handle"] or ""))  # fmt: skip
    stdout.print(f"[bold]{len(items)} findings[/bold]")
    for f in items:
        severity = _text(f["severity"]).upper()
        style = _SEVERITY_STYLE.get(f["severity"])
        heading = f"[{style}]{severity}[/{style}]" if style else severity
        mission = f" ({_text(f['mission_code'])})" if f.get("mission_code") else ""
        stdout.print(
            f"{heading}  {_text(f['rule_id'])}  {_status(f['status'])}  {_account(f)}{mission}"
            f"  [dim]{_text(f['change'])}, first seen {_day(f['first_seen_at'])}[/dim]"
        )
        stdout.print(f"    {_text(f['reason'])}", soft_wrap=False)
        if f.get("waiver"):
            stdout.print(f"    [dim]waived {_waiver(f)}[/dim]")


def _score_row(label: str, score: Mapping[str, Any]) -> list[str]:
    return [label, str(score["accounts"]), _score(score), str(score["passed"]),
            str(score["failed"]), str(score["manual"]), str(score["error"]),
            str(score["not_applicable"]), _text(score.get("waived"))]  # fmt: skip


def scores(report: Mapping[str, Any]) -> None:
    """A run's scores per mission and overall."""
    run_summary(report["run"])
    rows = [_score_row(_text(m["mission_code"] or m["mission_id"]), m) for m in report["missions"]]
    rows.append(_score_row("[bold]all[/bold]", report["overall"]))
    columns = ["Mission", "Accounts", "Score", "Pass", "Fail", "Manual", "Error", "N/A", "Waived"]
    _table("Scores (waived results stay in the score)", columns, rows)


def history(report: Mapping[str, Any]) -> None:
    """Scores over runs."""
    label = report.get("mission_code") or "all your missions"
    rows = [
        [str(p["run_seq"]), _day(p["started_at"]), _text(p["policy_version"]),
         _score(p["score"]), str(p["score"]["open"]), str(p["score"]["accounts"])]
        for p in report["points"]
    ]  # fmt: skip
    _table(f"Score history: {_text(label)}", ["Run", "Date", "Version", "Score", "Open",
                                               "Accounts"], rows)  # fmt: skip


def diff(report: Mapping[str, Any]) -> None:
    """What changed between two runs."""
    counts = report["counts"]
    stdout.print(
        f"Run {report['from_run']['seq']} → run {report['to_run']['seq']}: "
        + ", ".join(f"{counts[name]} {name}" for name in counts),
        highlight=False,
    )
    rows = [
        [_text(i["change"]), _text(i["rule_id"]), _account(i), _status(i["before"]),
         _status(i["after"])]
        for i in report["items"]
    ]  # fmt: skip
    _table(f"{len(rows)} changes", ["Change", "Rule", "Account", "Before", "After"], rows)


def _evidence(items: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for item in items:
        value = item["value"]
        shown = f"{len(value)} records" if isinstance(value, list) and value and isinstance(
            value[0], dict) else _text(value if value is not None else "unset")  # fmt: skip
        if not item["recorded"]:
            parts.append(f"{_text(item['field'])}: never recorded")
            continue
        age = item.get("age_days")
        origin = _text(item.get("source"))
        origin += f", {age} d" if age is not None else ""
        if item.get("status") not in (None, "ok"):
            origin += f", {_text(item['status'])}: {_text(item.get('reason'))}"
        parts.append(f"{_text(item['field'])}={shown} ({origin})")
    return "\n".join(parts)


def account(record: Mapping[str, Any]) -> None:
    """Every rule's result on one account, then what to do about the open ones."""
    run = record["run"]
    if run is None:
        stdout.print(f"{_account(record)}: no policy run has evaluated this account yet",
                     highlight=False)  # fmt: skip
        return
    stdout.print(
        f"[bold]{_account(record)}[/bold]: score {_score(record['score'])} in run {run['seq']} "
        f"({_text(run['policy_id'])} {_text(run['policy_version'])}, {_day(run['started_at'])})",
        highlight=False,
    )
    rows = [
        [_text(r["rule_id"]), _text(r["severity"]), _status(r["status"]), _text(r["reason"]),
         _evidence(r["evidence"]), _waiver(r)]
        for r in record["results"]
    ]  # fmt: skip
    _table("Results", ["Rule", "Severity", "Status", "Reason", "Evidence", "Waived"], rows)
    for result in record["results"]:
        if result["status"] in ("fail", "manual", "error") and result.get("remediation"):
            stdout.print(
                f"\n[bold]{_text(result['rule_id'])}[/bold] {_text(result['title'])}\n"
                f"{_text(result['remediation'])}",
                highlight=False,
            )
