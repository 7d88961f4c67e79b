"""The import's driver-level inserts store exactly what SQLAlchemy's own inserts store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select
from sqlmodel import SQLModel

from secops.accounts.io import tables
from secops.accounts.models import Affiliation, MfaStrength, Platform
from secops.core import fastinsert, ids
from secops.core.db import SessionFactory
from tests.factories.missions import Ministry

WHEN = datetime(2025, 11, 2, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))


def rows(ministry: Ministry, suffix: str) -> dict[str, list[dict[str, object]]]:
    account_id = uuid.uuid4()
    return {
        "account": [
            {
                "id": account_id,
                "platform": Platform.X,
                "handle": f"h{suffix}",
                "mission_id": ministry.paris.id,
                "tier": "mission",
                "kind": "institutional",
                "status": "active",
                "verified_badge": None,
                "in_public_registry": True,
                "mfa_strength": MfaStrength.TOTP,
                "evidence_at": WHEN,
                "created_at": WHEN,
                "updated_at": WHEN,
                "version": 1,
            }
        ],
        "connected_app": [
            {
                "id": uuid.uuid4(),
                "account_id": account_id,
                "name": "Tool",
                "scopes": ["a", "b"],
                "allow_listed": False,
                "source": "attested",
                "fact_status": "ok",
                "observed_at": WHEN,
                "attested_by": uuid.UUID(int=0),
                "recorded_at": WHEN,
            }
        ],
        "account_admin": [
            {
                "id": uuid.uuid4(),
                "account_id": account_id,
                "external_identity": "x@y.example",
                "affiliation": Affiliation.EXTERNAL,
                "source": "attested",
                "fact_status": "ok",
                "last_sign_in_at": None,
            }
        ],
    }


def test_rows_read_back_the_same_whichever_way_they_were_written(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    fast, core = rows(ministry, "fast"), rows(ministry, "core")
    with sessions.begin() as session:
        for name, values in fast.items():
            fastinsert.insert_many(session, SQLModel.metadata.tables[name], values)
        for name, values in core.items():
            session.execute(insert(SQLModel.metadata.tables[name]), values)

    with sessions() as session:
        for name in fast:
            table = SQLModel.metadata.tables[name]
            read = {row.id: dict(row._mapping) for row in session.execute(select(table))}
            for mine, theirs in zip(fast[name], core[name], strict=True):
                got, expected = read[mine["id"]], read[theirs["id"]]
                differing = {
                    k
                    for k in got
                    if k not in {"id", "account_id", "handle"} and got[k] != expected[k]
                }
                assert differing == set(), name
    assert read  # the last table was read


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        fastinsert._utc(datetime(2025, 1, 1))  # noqa: DTZ001 - the case under test
    assert fastinsert._utc(WHEN).tzinfo is UTC


def test_the_import_names_every_column_of_every_table_it_writes() -> None:
    for name, names in tables.COLUMNS.items():
        columns = SQLModel.metadata.tables[name].columns
        assert sorted(names) == sorted(c.name for c in columns), name


def test_bulk_ids_are_random_version_4_uuids_handed_out_in_order() -> None:
    drawn = ids.ordered_ids(500)
    hexed = ids.ordered_hex_ids(500)

    assert drawn == sorted(drawn)
    assert hexed == sorted(hexed)
    assert len(set(drawn)) == len(drawn)
    assert {(u.version, u.variant) for u in drawn} == {(4, uuid.RFC_4122)}
    assert {(uuid.UUID(h).version, uuid.UUID(h).variant) for h in hexed} == {(4, uuid.RFC_4122)}
    assert ids.ordered_ids(500) != drawn
