"""The process-wide objects (engine, session factory, clock) built once from settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from secops.core import walcheckpoint
from secops.core.clock import Clock, SystemClock
from secops.core.config import Settings
from secops.core.db import SessionFactory, create_db_engine
from secops.core.keyring import Keyring

# How long closing waits for SQLite checkpoints a bulk write left to a background thread.
CHECKPOINT_WAIT_SECONDS = 30.0


@dataclass
class Runtime:
    """Everything a request, CLI command or worker job needs besides its arguments."""

    settings: Settings
    clock: Clock
    engine: Engine
    sessions: SessionFactory
    keyring: Keyring

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Runtime:
        """Create the engine and the session factory for ``settings``."""
        clock = clock or SystemClock()
        url = settings.effective_database_url
        if url.startswith("sqlite:///"):
            # The database directory must exist before SQLite can create the file.
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # The keyring first: a missing or exposed KEK stops startup before anything else opens.
        keyring = Keyring.load(settings)
        engine = create_db_engine(url)
        sessions = SessionFactory(engine, clock=clock, settings=settings, keyring=keyring)
        return cls(
            settings=settings, clock=clock, engine=engine, sessions=sessions, keyring=keyring
        )

    def dispose(self) -> None:
        """Close every pooled connection, once SQLite's background checkpoints are done."""
        walcheckpoint.wait(CHECKPOINT_WAIT_SECONDS)
        self.engine.dispose()
