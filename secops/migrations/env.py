"""Alembic environment: runs with the engine secops hands it, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import secops.db_models  # noqa: F401  - registers every table on the metadata
from secops.core.config import Settings
from secops.core.db import create_db_engine, metadata

config = context.config


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    return create_db_engine(Settings().effective_database_url)


def run_migrations_online() -> None:
    """Run the migrations inside one transaction per revision."""
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("secops migrations run online only: use `secops db upgrade`")
run_migrations_online()
