"""SQLite: a bulk write's commit leaves its checkpoint to a background thread.

In WAL mode SQLite appends committed pages to the write-ahead log, and the connection that
commits past ``wal_autocheckpoint`` pages then copies the log into the database file before
its commit returns. For a large import that checkpoint (reading back and writing out a hundred
megabytes, then an fsync) is a third of the commit. The commit itself is no less durable
without it: the log is synced at every commit (``synchronous = FULL``), and a reader finds the
pages in the log until they are copied.

``defer`` turns the automatic checkpoint off for the current transaction of one connection.
When the pool takes the connection back, the setting is restored and a daemon thread runs a
``PASSIVE`` checkpoint on a connection of its own, which waits for no reader or writer; any
frame it cannot copy yet is copied by the next checkpoint. ``wait`` lets tests and commands
that are about to exit (``Runtime.dispose``) wait for the checkpoints started so far.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, Final

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from secops.core.logging import get_logger

# SQLite's default: checkpoint once the log holds this many pages.
AUTOCHECKPOINT_PAGES: Final = 1000
_DEFERRED: Final = "secops.checkpoint_deferred"
_running: list[threading.Thread] = []
_lock = threading.Lock()
log = get_logger("secops.db")


def install(engine: Engine) -> None:
    """Restore the setting and start the deferred checkpoint when a connection comes back."""
    database = engine.url.database
    path = None if not database or database == ":memory:" else database

    def on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # The pool calls this after the commit, on its way to taking the connection back:
        # nothing may escape it, or the caller sees a failed commit and the slot is lost.
        try:
            if dbapi_connection is None or not record.info.pop(_DEFERRED, False):
                return
            try:
                dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            except sqlite3.Error:
                # A broken connection: the pool discards it, with its setting.
                record.invalidate()
                return
            if path is not None:
                _start(path)
        except Exception as exc:
            log.info("db.checkpoint_skipped", reason=type(exc).__name__)

    event.listen(engine, "checkin", on_checkin)


def _start(path: str) -> None:
    thread = threading.Thread(
        target=_checkpoint, args=(path,), name="secops-checkpoint", daemon=True
    )
    with _lock:
        _running[:] = [t for t in _running if t.is_alive()]
        _running.append(thread)
    thread.start()


def defer(connection: Connection) -> None:
    """Let this connection's next commit skip SQLite's automatic checkpoint (see above)."""
    if connection.dialect.name != "sqlite":
        return
    connection.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
    connection.info[_DEFERRED] = True


def wait(timeout: float | None = None) -> None:
    """Wait for the checkpoints started so far."""
    with _lock:
        running = list(_running)
    for thread in running:
        thread.join(timeout)


def _checkpoint(path: str) -> None:
    # A connection of its own, outside the pool: it neither waits for a pooled connection nor
    # outlives a disposed engine.
    try:
        connection = sqlite3.connect(path, timeout=0)
        try:
            frames = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as exc:
        # The next checkpoint copies what this one could not; nothing is lost.
        log.info("db.checkpoint_skipped", reason=type(exc).__name__)
        return
    log.debug("db.checkpoint", log_frames=frames[1] if frames else None)
