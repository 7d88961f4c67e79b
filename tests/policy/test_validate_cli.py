"""``secops policy validate [PATH...]`` and ``secops policy schema``, as an operator runs them."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from secops.cli import main
from secops.policy.loader import policy_json_schema

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good-policy.yaml"
BASELINE_DIR = Path(__file__).resolve().parents[2] / "policies"


@dataclass(frozen=True)
class Ran:
    """What a command printed and how it exited."""

    exit_code: int
    stdout: str
    stderr: str


Run = Callable[..., Ran]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``secops policy ...`` through the root command, as an operator does."""
    for name in ("SECOPS_POLICIES_DIR", "SECOPS_ENV"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Ran:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "argv", ["secops", "policy", *(str(a) for a in args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return invoke


def broken_copy(directory: Path) -> tuple[Path, Path]:
    """A good policy and a copy with two mistakes: line 21 an unknown field, line 30 an old id."""
    good = directory / "a-good.yaml"
    shutil.copy(GOOD, good)
    text = GOOD.read_text("utf-8").replace("id: test-baseline", "id: broken-baseline")
    text = text.replace("field: mfa.enabled, op: eq", "field: mfa.enabeld, op: eq")
    text = text.replace("id: MFA.NOSMS.1v1", "id: MFA.ENABLED.1v1")
    broken = directory / "b-broken.yaml"
    broken.write_text(text, encoding="utf-8")
    return good, broken


def test_valid_file_exits_zero_and_counts_rules_and_files(run: Run) -> None:
    result = run("validate", GOOD)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "6 rules in 1 file OK\n"
    assert result.stderr == ""


def test_shipped_policies_directory_validates(run: Run) -> None:
    result = run("validate", BASELINE_DIR)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(" OK\n")


def test_every_problem_is_printed_with_file_line_and_rule_and_exit_is_one(
    run: Run, tmp_path: Path
) -> None:
    _, broken = broken_copy(tmp_path)

    result = run("validate", tmp_path)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{broken}:21 MFA.ENABLED.1v1: condition.field: unknown field 'mfa.enabeld' "
        "(did you mean 'mfa.enabled' or 'mfa.enforced'?)",
        f"{broken}:30 MFA.ENABLED.1v1: id: rule id MFA.ENABLED.1v1 is used by two rules "
        "(also at line 18)",
    ]
    assert result.stderr == (
        "error: 2 problems; no policy was loaded (a broken file stops evaluation)\n"
    )


def test_default_path_is_the_configured_policies_directory(run: Run, tmp_path: Path) -> None:
    broken_copy(tmp_path)

    failed = run("validate", env={"SECOPS_POLICIES_DIR": str(tmp_path)})
    (tmp_path / "b-broken.yaml").unlink()
    passed = run("validate", env={"SECOPS_POLICIES_DIR": str(tmp_path)})

    assert failed.exit_code == 1
    assert len(failed.stdout.splitlines()) == 2
    assert passed.exit_code == 0
    assert passed.stdout == "6 rules in 1 file OK\n"


def test_directory_without_policy_files_is_an_error(run: Run, tmp_path: Path) -> None:
    result = run("validate", tmp_path)

    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path}: no policy files (*.yaml, *.yml) here\n"


def test_missing_path_is_an_error(run: Run, tmp_path: Path) -> None:
    result = run("validate", GOOD, tmp_path / "absent.yaml")

    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path / 'absent.yaml'}: no such file or directory\n"


def test_same_file_named_twice_is_read_once(run: Run) -> None:
    result = run("validate", GOOD, DATA, GOOD)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "6 rules in 1 file OK\n"


def test_warnings_go_to_stderr_and_do_not_fail(run: Run, tmp_path: Path) -> None:
    stale = tmp_path / "stale.yaml"
    stale.write_text(GOOD.read_text("utf-8").replace("2099-12-31", "2001-01-01"), "utf-8")

    result = run("validate", stale)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "6 rules in 1 file OK\n"
    assert result.stderr == (
        f"warning: {stale}:7: policy.review_by: the review date 2001-01-01 has passed; "
        "review the policy and set the next date\n"
    )


def test_json_output_lists_problems_and_keeps_the_exit_code(run: Run, tmp_path: Path) -> None:
    good, broken = broken_copy(tmp_path)

    result = run("validate", "--json", tmp_path)

    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["files"] == [str(good), str(broken)]
    assert body["rules"] == 6
    assert [(p["path"], p["line"], p["rule_id"]) for p in body["problems"]] == [
        (str(broken), 21, "MFA.ENABLED.1v1"),
        (str(broken), 30, "MFA.ENABLED.1v1"),
    ]
    assert body["warnings"] == []


def test_schema_prints_the_json_schema_of_a_policy_file(run: Run) -> None:
    result = run("schema")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == policy_json_schema()
