"""``secops policy validate [PATH...]`` and ``secops policy schema`` (server-local, no API).

``validate`` reads policy files the way evaluation does and either says how many rules it read
or lists every problem as ``file:line rule: message`` and exits 1: a file that fails here would
stop evaluation. Warnings (a passed review date, unused thresholds) are printed on stderr and do
not change the exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from secops.core.config import load_settings
from secops.core.console import JsonOption, fail
from secops.policy.loader import PolicyProblem, PolicyReport, inspect_paths, render_json_schema

PathsArgument = typer.Argument(
    None,
    help="Policy files or directories of *.yaml files (default: the policies directory).",
    show_default=False,
)


def _missing_files(paths: list[Path], report: PolicyReport) -> list[PolicyProblem]:
    """A directory with no policy file is a mistake worth an error, not '0 rules OK'."""
    return [
        PolicyProblem(str(path), None, None, "no policy files (*.yaml, *.yml) here")
        for path in paths
        if path.is_dir() and not any(f.parent == path for f in report.files)
    ]


def _summary(report: PolicyReport) -> str:
    files = len(report.files)
    rules = report.rule_count
    return f"{rules} rule{'s' if rules != 1 else ''} in {files} file{'s' if files != 1 else ''} OK"


def validate(paths: list[Path] | None = PathsArgument, as_json: bool = JsonOption) -> None:
    """Check policy files: exit 0, or list every problem (file:line rule: message) and exit 1."""
    targets = list(paths) if paths else [load_settings().effective_policies_dir]
    report = inspect_paths(targets)
    problems = [*_missing_files(targets, report), *report.problems]
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "ok": not problems,
                    "files": [str(f) for f in report.files],
                    "rules": report.rule_count,
                    "problems": [p.as_dict() for p in problems],
                    "warnings": [w.as_dict() for w in report.warnings],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    else:
        for warning in report.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        for problem in problems:
            sys.stdout.write(f"{problem}\n")
    if problems:
        count = len(problems)
        # fail() rather than typer.Exit: the root command turns it into stderr and exit 1.
        fail(
            f"{count} problem{'s' if count != 1 else ''}; no policy was loaded "
            "(a broken file stops evaluation)"
        )
    if not as_json:
        sys.stdout.write(_summary(report) + "\n")


def schema() -> None:
    """Print the JSON Schema of a policy file (for editors and CI)."""
    sys.stdout.write(render_json_schema())


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``schema`` to the ``secops policy`` command group."""
    app.command("validate")(validate)
    app.command("schema")(schema)
