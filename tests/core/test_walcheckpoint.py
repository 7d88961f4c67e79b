"""SQLite: a bulk write's commit leaves the checkpoint to a background thread, which runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from structlog.testing import capture_logs

from secops.core import fastinsert, walcheckpoint
from secops.core.db import create_db_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
    walcheckpoint.wait()
    yield engine
    walcheckpoint.wait()
    engine.dispose()


def write_many(engine: Engine) -> None:
    """About 8 MB of rows through a bulk write: past SQLite's 1,000-page checkpoint mark."""
    with Session(engine) as session, session.begin(), fastinsert.bulk_writes(session):
        connection = session.connection()
        setting = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        assert setting == 0
        connection.exec_driver_sql(
            "INSERT INTO t (payload) VALUES (?)", [("x" * 2000,) for _ in range(4000)]
        )


def test_the_commit_of_a_bulk_write_leaves_the_checkpoint_to_a_background_thread(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "wal.db"
    released = threading.Event()
    checkpoint = walcheckpoint._checkpoint

    def held(path: str) -> None:
        released.wait(10)
        checkpoint(path)

    monkeypatch.setattr(walcheckpoint, "_checkpoint", held)
    before = database.stat().st_size

    write_many(engine)

    # Committed, readable, and still only in the write-ahead log.
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 4000
    assert database.stat().st_size == before
    released.set()
    walcheckpoint.wait(10)
    assert database.stat().st_size > before + 7_000_000


def test_the_connection_checkpoints_automatically_again_once_back_in_the_pool(
    engine: Engine,
) -> None:
    write_many(engine)
    walcheckpoint.wait(10)

    with engine.connect() as connection:
        setting = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    assert setting == walcheckpoint.AUTOCHECKPOINT_PAGES


def test_a_checkpoint_that_cannot_run_is_logged_and_left_to_the_next_one(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    checkpoint = walcheckpoint._checkpoint

    def held(path: str) -> None:
        released.wait(10)
        checkpoint(path)

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(walcheckpoint, "_checkpoint", held)
    write_many(engine)
    with monkeypatch.context() as broken, capture_logs() as logged:
        broken.setattr(walcheckpoint.sqlite3, "connect", unavailable)
        released.set()
        walcheckpoint.wait(10)

    assert {"event": "db.checkpoint_skipped", "reason": "OSError", "log_level": "info"} in logged
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 4000
    assert (tmp_path / "wal.db").stat().st_size < 1_000_000  # still only in the log

    monkeypatch.setattr(walcheckpoint, "_checkpoint", checkpoint)
    write_many(engine)
    walcheckpoint.wait(10)
    assert (tmp_path / "wal.db").stat().st_size > 15_000_000  # both writes copied


def test_a_checkpoint_thread_that_cannot_start_fails_neither_the_commit_nor_the_pool(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_threads(_path: str) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(walcheckpoint, "_start", no_threads)
    with capture_logs() as logged:
        write_many(engine)

    assert {
        "event": "db.checkpoint_skipped",
        "reason": "RuntimeError",
        "log_level": "info",
    } in logged
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 4000
        setting = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    assert setting == walcheckpoint.AUTOCHECKPOINT_PAGES
