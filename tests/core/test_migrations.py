"""Migrations build the schema the models describe, from empty, on SQLite and PostgreSQL.

They pass once the first revision exists in ``secops/migrations/versions/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

import secops.db_models  # noqa: F401  - every table on the metadata
from secops.app import create_app
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings, normalise_database_url
from secops.core.db import create_db_engine, metadata
from secops.core.migrations import (
    alembic_config,
    downgrade,
    head_revision,
    migration_state,
    schema_differences,
    upgrade,
)


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    engine = create_db_engine(normalise_database_url(empty_database_url))
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def database_objects(engine: Engine) -> set[str]:
    """Triggers and functions: what a schema comparison of tables and columns does not see."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT 'trigger ' || name FROM sqlite_master WHERE type = 'trigger'")
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal "
                    "UNION SELECT 'function ' || proname FROM pg_proc "
                    "WHERE pronamespace = 'public'::regnamespace"
                )
            )
        return {str(row[0]) for row in rows}


def test_a_migration_is_shipped() -> None:
    assert head_revision() is not None, "no revision in secops/migrations/versions/"


def test_upgrade_from_empty_builds_exactly_the_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    state = migration_state(empty_engine)
    assert state.current
    assert state.revision == head_revision()
    assert schema_differences(empty_engine, metadata) == []
    assert tables(empty_engine) == set(metadata.tables)


def test_upgrade_creates_the_same_triggers_and_functions_as_the_models(
    empty_engine: Engine, database_url: str
) -> None:
    # ``database_url`` is built by metadata.create_all, which runs the models' DDL events
    # (the audit table's append-only trigger on PostgreSQL).
    modelled = create_db_engine(normalise_database_url(database_url))
    try:
        expected = database_objects(modelled)
    finally:
        modelled.dispose()

    upgrade(empty_engine)

    assert database_objects(empty_engine) == expected


def test_downgrade_to_base_removes_every_table_and_trigger(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    downgrade(empty_engine, "base")

    assert tables(empty_engine) == set()
    assert database_objects(empty_engine) == set()
    assert migration_state(empty_engine).revision is None


def test_every_revision_upgrades_downgrades_and_upgrades_again(empty_engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_engine))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions

    for revision in revisions:
        upgrade(empty_engine, revision.revision)
        downgrade(empty_engine, str(revision.down_revision or "base"))
        upgrade(empty_engine, revision.revision)

    assert migration_state(empty_engine).current


def test_readyz_is_503_before_upgrade_and_200_after(
    empty_database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    settings = Settings(
        env=Environment.TEST, data_dir=tmp_path / "data", database_url=empty_database_url
    )
    app = create_app(settings, clock=clock, configure_logs=False)
    try:
        with TestClient(app) as client:
            before = client.get("/readyz")
            upgrade(app.state.engine)
            after = client.get("/readyz")
    finally:
        app.state.runtime.dispose()

    assert before.status_code == 503
    assert before.json()["database"] == "not migrated"
    assert after.status_code == 200
    assert after.json() == {"status": "ready"}
