"""Alembic from code: upgrade, downgrade, and whether models and migrations agree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData
from sqlalchemy import exc as sa_exc


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that points at the packaged migrations and uses ``engine``."""
    config = Config()
    location = resources.files("secops") / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


@lru_cache(maxsize=1)
def _packaged_head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("secops") / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def head_revision(_engine: Engine | None = None) -> str | None:
    """The newest revision shipped with this version of secops."""
    return _packaged_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database forward."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back."""
    command.downgrade(alembic_config(engine), revision)


@dataclass(frozen=True)
class MigrationState:
    """Whether the database answers and which revision it is at."""

    reachable: bool
    revision: str | None
    head: str | None

    @property
    def current(self) -> bool:
        """True when the database is at the newest revision."""
        return self.reachable and self.revision is not None and self.revision == self.head


def migration_state(engine: Engine) -> MigrationState:
    """Read the database's revision without changing anything."""
    head = head_revision(engine)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    except (sa_exc.OperationalError, sa_exc.InterfaceError):
        return MigrationState(reachable=False, revision=None, head=head)
    return MigrationState(reachable=True, revision=revision, head=head)


def schema_differences(engine: Engine, target: MetaData) -> list[Any]:
    """What differs between ``target`` (every model imported) and the migrated database."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, target))
