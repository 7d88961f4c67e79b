"""The README stays true: the two-command quickstart, and every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from secops.core.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
QUICKSTART = [
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/secops demo",
    "bash .ci/run",
]


def fenced_blocks(text: str) -> list[list[str]]:
    return [
        block.strip("\n").splitlines() for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    ]


def test_the_first_code_block_is_the_two_command_quickstart() -> None:
    text = README.read_text()

    assert "## Quickstart" in text
    assert fenced_blocks(text)[0] == QUICKSTART
    assert text.index("## Quickstart") < text.index("```")


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `(SECOPS_[A-Z0-9_]+)` \|", README.read_text(), re.M))

    settings = {f"SECOPS_{name.upper()}" for name in Settings.model_fields}

    assert settings - documented == set(), "add these to the README's configuration table"
    assert documented - settings <= {
        "SECOPS_URL",
        "SECOPS_API_KEY",
        "SECOPS_CREDENTIALS_FILE",
        "SECOPS_TEST_DATABASE_URL",
    }
