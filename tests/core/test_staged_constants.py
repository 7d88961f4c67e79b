"""SQLite's staged writes bind a column once when every row holds the same value, and store
exactly what a row-by-row insert stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, Table
from sqlmodel import Session

from secops.core import fastinsert, walcheckpoint
from secops.core.db import create_db_engine

ROWS = fastinsert.CONSTANT_FROM_ROWS + 44
NAMES = ("id", "label", "number", "missing", "flag", "blob")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'staged.db'}")
    with engine.begin() as connection:
        for name in ("staged", "direct"):
            # Typeless columns: whatever storage class arrives is kept, so a changed one shows.
            connection.exec_driver_sql(
                f"CREATE TABLE {name} (id, label, number, missing, flag, blob)"
            )
    yield engine
    walcheckpoint.wait()
    engine.dispose()


def table(name: str) -> Table:
    return Table(name, MetaData(), *(Column(n) for n in NAMES))


def rows() -> list[tuple[object, ...]]:
    # label and missing are constant; number mixes 1 and 1.0 (equal, not the same type);
    # flag mixes True and 1; blob is constant bytes.
    return [
        (n, "attested", 1 if n % 2 else 1.0, None, True if n % 3 else 1, b"\x00sealed")
        for n in range(ROWS)
    ]


def stored(engine: Engine, name: str) -> list[tuple[object, ...]]:
    columns = ", ".join(f"{c}, typeof({c})" for c in NAMES)
    with engine.connect() as connection:
        return list(connection.exec_driver_sql(f"SELECT {columns} FROM {name} ORDER BY rowid"))


def test_columns_with_one_value_are_stored_as_a_row_by_row_insert_stores_them(
    engine: Engine,
) -> None:
    with Session(engine) as session, session.begin():
        with fastinsert.pipelined(session) as pipeline:
            pipeline(table("staged"), NAMES, rows())
        fastinsert.insert_encoded(session, table("direct"), NAMES, rows())

    staged = stored(engine, "staged")
    assert staged == stored(engine, "direct")
    assert staged[0][6:8] == (None, "null")
    assert {row[5] for row in staged} == {"integer", "real"}


def test_only_columns_equal_and_of_one_type_in_every_row_count_as_constant() -> None:
    names, kept, constants = fastinsert._constant_columns(NAMES, rows())

    assert constants == {"label": "attested", "missing": None, "blob": b"\x00sealed"}
    assert names == ["id", "number", "flag"]
    assert kept[3] == (3, 1, 1)


def test_small_batches_are_staged_as_they_are() -> None:
    few = rows()[: fastinsert.CONSTANT_FROM_ROWS - 1]

    assert fastinsert._constant_columns(NAMES, few) == (NAMES, few, {})
