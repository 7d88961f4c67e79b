"""SQLite binds None, bytes and bool exactly as its driver would, through the fast path."""

from __future__ import annotations

import sqlite3

import secops.core.db  # noqa: F401 - registers the identity adapters


def test_null_blob_and_boolean_parameters_are_stored_as_the_driver_stores_them() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a, b, c, d)")

    connection.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)", [(None, b"\x00sealed", True, False)]
    )

    stored = connection.execute("SELECT typeof(a), typeof(b), b, typeof(c), c, d FROM t").fetchone()
    assert stored == ("null", "blob", b"\x00sealed", "integer", 1, 0)


def test_the_adapters_are_the_identity_and_leave_the_base_types_unadapted() -> None:
    adapters = sqlite3.adapters
    protocol = sqlite3.PrepareProtocol

    assert adapters[type(None), protocol](None) is None
    blob = b"sealed"
    assert adapters[bytes, protocol](blob) is blob
    assert adapters[bool, protocol](True) == 1
    # str, int and float keep the driver's no-adapter path (registering one would disable it).
    assert not {(str, protocol), (int, protocol), (float, protocol)} & set(adapters)
