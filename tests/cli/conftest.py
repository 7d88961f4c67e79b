"""Run the ``secops`` command in-process, as a user would from a shell."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from secops.cli import main


@dataclass(frozen=True)
class CliResult:
    """What a command printed and how it exited."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """Non-empty lines on stderr."""
        return [line for line in self.err.splitlines() if line.strip()]


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> RunCli:
    """``run_cli("db", "check", SECOPS_PORT="x")`` runs ``secops db check`` through ``main()``."""
    for name in list(os.environ):
        if name.startswith("SECOPS_") and name != "SECOPS_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECOPS_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("SECOPS_LOG_FORMAT", "json")

    def run(*args: str, **env: str) -> CliResult:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "argv", ["secops", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code=code, out=out, err=err)

    return run
