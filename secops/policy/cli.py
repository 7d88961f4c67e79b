"""``secops policy …``: evaluate, and read runs, findings, scores and diffs (as the signed-in user).

``validate`` and ``schema`` read policy files on this machine; every other command goes through
the API with the stored token, so it shows exactly what the user may see there. A run is named
by its id or its number (``12``); a mission by its code or id; an account by its id or as
``platform:handle``.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer

from secops.accounts.refs import account_id as _account_id
from secops.core.client import ApiClient
from secops.core.console import JsonOption, fail, print_json
from secops.missions.refs import mission_id as _mission_id
from secops.policy import cli_render as render
from secops.policy import validate_cli
from secops.policy.outcomes import Change, ResultStatus
from secops.policy.spec import Severity

app = typer.Typer(no_args_is_help=True)
validate_cli.register(app)

API = "/api/v1"
RUNS = f"{API}/policy/runs"
ACCOUNTS = f"{API}/accounts"

PolicyOption = typer.Option(None, "--policy", help="Policy id (needed when several are loaded).")
RunOption = typer.Option(None, "--run", help="Run id or number; default: the newest.")


def _run_id(client: ApiClient, ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    number = ref.strip().lstrip("#")
    if not number.isdigit():
        fail("name the run by its id or its number, e.g. 12")
    found = client.get(RUNS, seq=int(number))
    if not found["items"]:
        fail(f"no run {number} that covered your missions")
    return str(found["items"][0]["id"])


@app.command("list")
def list_command(as_json: bool = JsonOption) -> None:
    """The policy files the server has loaded."""
    items = ApiClient().get(f"{API}/policies")
    if as_json:
        print_json(items)
        return
    render.policies(items)


@app.command("evaluate")
def evaluate_command(
    policy: str | None = PolicyOption,
    mission: str | None = typer.Option(None, help="Mission code or id; default: all of yours."),
    as_json: bool = JsonOption,
) -> None:
    """Evaluate a policy now and print the run's counts and score."""
    client = ApiClient()
    body = {
        "policy_id": policy,
        "mission_id": _mission_id(client, mission) if mission else None,
    }
    response = client.request(
        "POST", RUNS, json_body={k: v for k, v in body.items() if v}, timeout=600.0
    )
    run = response.json()
    if as_json:
        print_json(run)
        return
    render.run_summary(run)


@app.command("runs")
def runs_command(
    policy: str | None = PolicyOption,
    limit: int = typer.Option(20, min=1, max=200, help="How many runs, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """Recent runs that covered your missions."""
    page = ApiClient().get(RUNS, policy_id=policy, limit=limit)
    if as_json:
        print_json(page["items"])
        return
    render.runs(page["items"])


@app.command("findings")
def findings_command(
    run: str | None = RunOption,
    policy: str | None = PolicyOption,
    mission: str | None = typer.Option(None, help="Mission code or id (exactly that mission)."),
    status: ResultStatus | None = typer.Option(None, help="fail, manual, error…"),
    severity: Severity | None = typer.Option(None, help="critical, high, medium, low, info."),
    rule: str | None = typer.Option(None, help="Rule id, e.g. MFA.ENABLED.1v1."),
    change: Change | None = typer.Option(None, help="new, regressed, unchanged or resolved."),
    waived: bool | None = typer.Option(None, "--waived/--not-waived", help="Only (un)waived."),
    account: str | None = typer.Option(None, help="Account id or platform:handle."),
    limit: int | None = typer.Option(None, min=1, help="Stop after this many findings."),
    as_json: bool = JsonOption,
) -> None:
    """Open findings (or resolved ones with --change resolved), with why and how to fix."""
    client = ApiClient()
    params: dict[str, Any] = {
        "policy_id": policy,
        "mission_id": _mission_id(client, mission) if mission else None,
        "status": status.value if status else None,
        "severity": severity.value if severity else None,
        "rule_id": rule,
        "change": change.value if change else None,
        "waived": None if waived is None else str(waived).lower(),
        "account_id": _account_id(client, account) if account else None,
    }
    path = f"{RUNS}/{_run_id(client, run)}/findings" if run else f"{API}/policy/findings"
    items: list[Any] = []
    cursor: str | None = None
    while limit is None or len(items) < limit:
        page = client.get(path, **params, cursor=cursor, limit=200)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    items = items[:limit] if limit is not None else items
    if as_json:
        print_json(items)
        return
    render.findings(items)


@app.command("scores")
def scores_command(
    run: str | None = RunOption, policy: str | None = PolicyOption, as_json: bool = JsonOption
) -> None:
    """Scores per mission and overall, with waived results beside them."""
    client = ApiClient()
    report = client.get(
        f"{API}/policy/scores", run_id=_run_id(client, run) if run else None, policy_id=policy
    )
    if as_json:
        print_json(report)
        return
    render.scores(report)


@app.command("history")
def history_command(
    mission: str | None = typer.Option(None, help="Mission code or id; default: all of yours."),
    policy: str | None = PolicyOption,
    limit: int = typer.Option(20, min=1, max=200, help="How many runs."),
    as_json: bool = JsonOption,
) -> None:
    """The score at each recent run, oldest first."""
    client = ApiClient()
    history = client.get(
        f"{API}/policy/scores/history",
        mission_id=_mission_id(client, mission) if mission else None,
        policy_id=policy,
        limit=limit,
    )
    if as_json:
        print_json(history)
        return
    render.history(history)


@app.command("diff")
def diff_command(
    run_a: str = typer.Argument(..., help="The earlier run (id or number)."),
    run_b: str = typer.Argument(..., help="The later run (id or number)."),
    change: Change | None = typer.Option(None, help="Only this change (unchanged included)."),
    as_json: bool = JsonOption,
) -> None:
    """What changed between two runs: new, regressed, resolved (and how many unchanged)."""
    client = ApiClient()
    params = {
        "from": _run_id(client, run_a),
        "to": _run_id(client, run_b),
        "change": change.value if change else None,
    }
    first = client.get(f"{API}/policy/diff", **params, limit=200)
    items, cursor = list(first["items"]), first.get("next_cursor")
    while cursor is not None:
        page = client.get(f"{API}/policy/diff", **params, cursor=cursor, limit=200)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
    report = {**first, "items": items, "next_cursor": None}
    if as_json:
        print_json(report)
        return
    render.diff(report)


@app.command("show")
def show_command(
    account: str = typer.Argument(..., help="Account id, or platform:handle."),
    run: str | None = RunOption,
    policy: str | None = PolicyOption,
    as_json: bool = JsonOption,
) -> None:
    """Every rule's result on one account, with the evidence and what to do."""
    client = ApiClient()
    account_id = _account_id(client, account)
    record = client.get(
        f"{ACCOUNTS}/{account_id}/policy-results",
        run_id=_run_id(client, run) if run else None,
        policy_id=policy,
    )
    if as_json:
        print_json(record)
        return
    render.account(record)
