"""Fixtures for the HTTP core tests: the real app with probe routes, signed in as an admin."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from secops.app import create_app
from secops.auth.deps import current_principal
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings, normalise_database_url
from secops.core.db import SessionFactory
from secops.core.keyring import create_kek_file
from secops.core.logging import configure_logging
from tests.conftest import PG_URL
from tests.core.probes import admin_principal, mount_probes


@pytest.fixture(scope="session")
def shared_database_url(
    database_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database for all HTTP-core tests, copied once from the template.

    Creating a PostgreSQL database per test costs about a second here, and these tests only
    ever add rows; the few that count rows compare before and after.
    """
    if PG_URL is None:
        target = tmp_path_factory.mktemp("core-db") / "secops.db"
        shutil.copy(database_template, target)
        yield f"sqlite:///{target}"
        return
    name = f"secops_core_{os.getpid()}"
    admin = create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_template}"'))
    yield (
        make_url(normalise_database_url(PG_URL))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _core_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        env=Environment.TEST,
        data_dir=data_dir,
        database_url=database_url,
        log_format="json",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )


@pytest.fixture
def core_settings(shared_database_url: str, tmp_path: Path) -> Settings:
    """Test settings on the shared database, with a private data directory."""
    return _core_settings(shared_database_url, tmp_path / "data")


@pytest.fixture(scope="session")
def shared_probed_app(
    shared_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """The application plus the probe routes, built once: building it costs more than a test."""
    settings = _core_settings(shared_database_url, tmp_path_factory.mktemp("core-data"))
    app = mount_probes(create_app(settings, clock=FrozenClock(), configure_logs=False))
    yield app
    app.state.runtime.dispose()


@pytest.fixture
def probed_app(shared_probed_app: FastAPI) -> Iterator[FastAPI]:
    """The shared probed app, every request made as a ministry-wide admin; overrides reset."""
    shared_probed_app.dependency_overrides.clear()
    shared_probed_app.dependency_overrides[current_principal] = admin_principal
    yield shared_probed_app
    shared_probed_app.dependency_overrides.clear()


@pytest.fixture
def probe(probed_app: FastAPI) -> Iterator[TestClient]:
    """A client for ``probed_app``; server errors come back as responses."""
    with TestClient(probed_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def probe_sessions(probed_app: FastAPI) -> SessionFactory:
    """The probed app's session factory."""
    factory: SessionFactory = probed_app.state.sessions
    return factory


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the real JSON log handler writes, captured in memory for one test."""
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", stream=stream)
    yield stream
    configure_logging(fmt="json", level="info")


@pytest.fixture
def client_with(core_settings: Settings, clock: FrozenClock) -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app whose settings differ from the test settings."""
    apps: list[FastAPI] = []

    def build(*, configure_logs: bool = False, **overrides: Any) -> TestClient:
        changed = Settings(**{**dict(core_settings), **overrides})  # validated, unlike model_copy
        if changed.is_production and not changed.effective_kek_file.exists():
            create_kek_file(changed.effective_kek_file)  # production never creates its own
        application = create_app(changed, clock=clock, configure_logs=configure_logs)
        apps.append(application)
        return TestClient(application, raise_server_exceptions=False)

    yield build
    for application in apps:
        application.state.runtime.dispose()
