"""Test harness: a fresh database per test (SQLite by default, PostgreSQL when asked), frozen clock.

``SECOPS_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test`` runs the suite on
PostgreSQL; the run fails, never skips, when that server does not answer.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

import secops.db_models  # noqa: F401  - every table on the metadata
from secops.app import create_app
from secops.auth.deps import current_principal
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings, normalise_database_url
from secops.core.db import SessionFactory, create_db_engine, metadata
from secops.core.logging import configure_logging
from secops.core.migrations import alembic_config
from secops.core.principal import Principal

PG_URL = os.environ.get("SECOPS_TEST_DATABASE_URL")
_counter = itertools.count()


def _stamp_head(engine: Engine) -> None:
    config = alembic_config(engine)
    if config.get_main_option("script_location"):
        from alembic.script import ScriptDirectory

        if ScriptDirectory.from_config(config).get_current_head() is not None:
            command.stamp(config, "head")


def _build_schema(url: str) -> None:
    engine = create_db_engine(url)
    try:
        metadata.create_all(engine)
        _stamp_head(engine)
    finally:
        engine.dispose()


def _admin_engine() -> Engine:
    assert PG_URL is not None
    return create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated-equivalent schema built once; each test copies it."""
    configure_logging(fmt="json", level="info")
    if PG_URL is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _build_schema(f"sqlite:///{path}")
        yield str(path)
        return
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # the run must fail, not skip, when PostgreSQL is down
        pytest.exit(f"PostgreSQL at {PG_URL} is unreachable: {exc}", returncode=3)
    name = f"secops_tmpl_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_database_url(PG_URL)).set(database=name)
    _build_schema(url.render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_test_database(database_template: str) -> Iterator[tuple[str, Engine]]:
    """PostgreSQL: one database for the whole run, wiped between tests.

    DROP DATABASE forces a checkpoint (about a second each), so tests share one database and
    each starts from empty tables instead.
    """
    name = f"secops_t_{os.getpid()}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_template}"'))
    url = make_url(normalise_database_url(PG_URL or "")).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    cleaner = create_engine(rendered)
    yield rendered, cleaner
    cleaner.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wipe(engine: Engine) -> None:
    # Replica mode skips user triggers, so foreign keys and the audit trail's append-only
    # trigger do not fire while the test harness empties the tables.
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        for table in ("audit_event", "audit_checkpoint"):
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


@pytest.fixture
def database_url(
    database_template: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh, empty, migrated-equivalent database for this test."""
    if PG_URL is None:
        target = tmp_path / "db" / "secops.db"
        target.parent.mkdir()
        shutil.copy(database_template, target)
        yield f"sqlite:///{target}"
        return
    url, cleaner = request.getfixturevalue("_pg_test_database")
    _wipe(cleaner)
    yield url
    _wipe(cleaner)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for migration tests."""
    if PG_URL is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"secops_e_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield (
        make_url(normalise_database_url(PG_URL))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """The time every test starts at; advance it explicitly."""
    return FrozenClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Test settings: a private data directory, fast password hashing."""
    return Settings(
        env=Environment.TEST,
        data_dir=tmp_path / "data",
        database_url=database_url,
        log_format="json",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Iterator[FastAPI]:
    """The application under test."""
    application = create_app(settings, clock=clock, configure_logs=False)
    yield application
    application.state.runtime.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for the app; server errors come back as responses, as in production."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def sessions(app: FastAPI) -> SessionFactory:
    """The app's session factory, for arranging data through the services."""
    factory: SessionFactory = app.state.sessions
    return factory


@pytest.fixture
def act_as(app: FastAPI) -> Iterator[Callable[[Principal], None]]:
    """Make every request run as the given principal (unit tests of routes, not of auth)."""

    def use(principal: Principal) -> None:
        app.dependency_overrides[current_principal] = lambda: principal

    yield use
    app.dependency_overrides.pop(current_principal, None)


def random_id() -> uuid.UUID:
    """A UUID that names nothing."""
    return uuid.uuid4()
