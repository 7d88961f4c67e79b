"""Settings: production refuses unsafe defaults in one line; importing builds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secops.app import create_app
from secops.core.config import (
    Environment,
    Settings,
    load_settings,
    normalise_database_url,
)
from secops.core.errors import ConfigurationError

PRODUCTION = {"env": "production", "database_url": "postgresql://db.internal/secops"}
STRONG_KEY = "Zq3v9-Tm2kLr8pWx4nYb7cHd5fJg6sAe"  # 32 characters, not a placeholder


@pytest.mark.parametrize(
    "secret_key",
    [None, "", "changethis", "changeme", "secret", "   ", "too-short-for-production"],
    ids=["missing", "empty", "changethis", "changeme", "secret", "blank", "short"],
)
def test_production_refuses_a_missing_or_default_secret_key(secret_key: str | None) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(**PRODUCTION, secret_key=secret_key)

    reason = str(caught.value)
    assert "SECOPS_SECRET_KEY" in reason
    assert "\n" not in reason


def test_production_reads_its_refusal_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECOPS_ENV", "production")
    monkeypatch.setenv("SECOPS_DATABASE_URL", "postgresql://db.internal/secops")
    monkeypatch.delenv("SECOPS_SECRET_KEY", raising=False)

    with pytest.raises(ConfigurationError, match="SECOPS_SECRET_KEY"):
        load_settings()


def test_production_accepts_a_strong_secret_key() -> None:
    settings = Settings(**PRODUCTION, secret_key=STRONG_KEY)

    assert settings.is_production
    assert STRONG_KEY not in repr(settings)


def test_production_needs_a_database_url() -> None:
    with pytest.raises(ConfigurationError, match="SECOPS_DATABASE_URL"):
        Settings(env="production", secret_key=STRONG_KEY)


def test_production_refuses_a_wildcard_cors_origin() -> None:
    with pytest.raises(ConfigurationError, match="SECOPS_CORS_ALLOW_ORIGINS"):
        Settings(**PRODUCTION, secret_key=STRONG_KEY, cors_allow_origins=("*",))


@pytest.mark.parametrize("proxies", ["*", "10.0.0.5, *"])
def test_production_refuses_to_believe_forwarded_headers_from_anyone(proxies: str) -> None:
    with pytest.raises(ConfigurationError, match="SECOPS_FORWARDED_ALLOW_IPS"):
        Settings(**PRODUCTION, secret_key=STRONG_KEY, forwarded_allow_ips=proxies)


def test_create_app_refuses_unsafe_production_settings_built_without_validation(
    core_settings: Settings,
) -> None:
    unsafe = core_settings.model_copy(update={"env": Environment.PRODUCTION, "secret_key": None})

    with pytest.raises(ConfigurationError, match="SECOPS_SECRET_KEY"):
        create_app(unsafe, configure_logs=False)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SECOPS_PORT", "eighty"), ("SECOPS_PORT", "70000"), ("SECOPS_LOG_LEVEL", "loud")],
)
def test_a_bad_value_is_reported_in_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    reason = str(caught.value)
    assert reason.startswith(f"{variable}: ")
    assert "\n" not in reason
    assert caught.value.__cause__ is None


def test_development_defaults_keep_data_under_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'data/db/secops.db')}"
    assert settings.effective_kek_file == tmp_path / "data/keys/kek.key"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_the_psycopg_driver(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


IMPORT_PROBE = """
import gc, logging
import structlog
import secops.app, secops.cli, secops.db_models, secops.cli.server, secops.cli.db
from sqlalchemy import Engine
from secops.core.config import Settings
assert not [o for o in gc.get_objects() if isinstance(o, Engine)], "an engine was built"
assert not [o for o in gc.get_objects() if isinstance(o, Settings)], "settings were read"
assert not logging.getLogger().handlers, "logging was configured"
assert not structlog.is_configured(), "structlog was configured"
print("clean")
"""


def test_importing_the_app_and_cli_builds_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOPS_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
    assert list(tmp_path.iterdir()) == []
