"""Batched writes on a worker thread (``fastinsert.pipelined``) store what direct inserts store,
in order, and lose nothing stored before when one of them fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from secops.core import fastinsert
from secops.core.db import SessionFactory
from tests.factories.missions import Ministry

WHEN = datetime(2025, 11, 2, 8, 30, 15, 123456, tzinfo=UTC)
ACCOUNTS = SQLModel.metadata.tables["account"]
SHEETS = SQLModel.metadata.tables["account_fact_sheet"]
APPS = SQLModel.metadata.tables["connected_app"]
PEOPLE = SQLModel.metadata.tables["person"]


def encoded(
    session: Session, table: Table, rows: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    encoder = fastinsert.encoder_for(session)
    names = [c.name for c in table.columns]
    converters = [encoder.converter(c) for c in table.columns]
    return names, [
        tuple(convert(row.get(name)) for name, convert in zip(names, converters, strict=True))
        for row in rows
    ]


def account(ministry: Ministry, handle: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "platform": "x",
        "handle": handle,
        "mission_id": ministry.paris.id,
        "tier": "mission",
        "kind": "institutional",
        "status": "active",
        "verified_badge": None,
        "in_public_registry": True,
        "evidence_at": WHEN,
        "created_at": WHEN,
        "updated_at": WHEN,
        "version": 1,
    }


def sheet(account_id: uuid.UUID) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "mfa_enabled": True,
        "mfa_enforced": False,
        "mfa_source": "attested",
        "mfa_observed_at": WHEN,
        "mfa_fact_status": "ok",
        "recovery_email": b"\x00\xffsealed",
        "recovery_email_hint": "a•••@example.org",
        "recovery_source": "attested",
        "recovery_fact_status": "ok",
        "credential_min_length": 16,
        "credential_source": "api:microsoft_graph",
        "credential_fact_status": "error",
        "credential_error_reason": "403 Authorization_RequestDenied",
    }


def app(account_id: uuid.UUID, name: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "account_id": account_id,
        "name": name,
        "scopes": ["publish", "read"],
        "allow_listed": False,
        "source": "attested",
        "fact_status": "ok",
        "observed_at": WHEN,
    }


def write(
    pipeline: fastinsert.Pipeline, session: Session, table: Table, rows: list[dict[str, Any]]
) -> None:
    names, values = encoded(session, table, rows)
    pipeline(table, names, values)


def stored(session: Session, table: Table, key: str, value: Any) -> dict[str, Any]:
    row = session.execute(select(table).where(table.c[key] == value)).one()
    return dict(row._mapping)


def stages(session: Session) -> list[str]:
    if session.get_bind().dialect.name != "sqlite":
        return []
    found = session.execute(
        text("SELECT name FROM sqlite_temp_master WHERE name LIKE :prefix"),
        {"prefix": f"{fastinsert.STAGE_PREFIX}%"},
    )
    return list(found.scalars())


def test_rows_written_through_the_pipeline_read_back_as_direct_inserts_do(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    piped, direct = account(ministry, "piped"), account(ministry, "direct")
    with sessions.begin() as session:
        with fastinsert.pipelined(session) as pipeline:
            write(pipeline, session, ACCOUNTS, [piped])
            write(pipeline, session, SHEETS, [sheet(piped["id"])])
            write(pipeline, session, APPS, [app(piped["id"], "Hootsuite")])
            pipeline.flush()
        for table, row in (
            (ACCOUNTS, direct),
            (SHEETS, sheet(direct["id"])),
            (APPS, app(direct["id"], "Hootsuite")),
        ):
            names, values = encoded(session, table, [row])
            fastinsert.insert_encoded(session, table, names, values)
        assert stages(session) == []

    with sessions() as session:
        for table, key in ((ACCOUNTS, "id"), (SHEETS, "account_id"), (APPS, "account_id")):
            mine = stored(session, table, key, piped["id"])
            theirs = stored(session, table, key, direct["id"])
            different = {
                k for k in mine if k not in {"id", "account_id", "handle"} and mine[k] != theirs[k]
            }
            assert different == set(), table.name
        assert (
            stored(session, SHEETS, "account_id", piped["id"])["recovery_email"]
            == b"\x00\xffsealed"
        )
        if session.get_bind().dialect.name == "sqlite":
            # Same storage class column by column (a staged value keeps its own).
            columns = ", ".join(f"typeof({c.name})" for c in SHEETS.columns)
            kinds = {
                row[0]: row[1:]
                for row in session.execute(
                    text(f"SELECT account_id, {columns} FROM account_fact_sheet")
                )
            }
            assert kinds[piped["id"].hex] == kinds[direct["id"].hex]


def test_batches_reach_the_tables_in_the_order_they_were_written(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    first, second, third = (account(ministry, f"order-{n}") for n in range(3))
    owner = {
        "id": uuid.uuid4(),
        "full_name": "Owner",
        "email": "owner@mfa.example",
        "mission_id": ministry.paris.id,
        "status": "active",
        "created_at": WHEN,
        "updated_at": WHEN,
        "version": 1,
    }
    second["owner_id"] = owner["id"]
    with sessions.begin() as session, fastinsert.pipelined(session) as pipeline:
        write(pipeline, session, ACCOUNTS, [first])
        write(pipeline, session, SHEETS, [sheet(first["id"])])
        write(pipeline, session, PEOPLE, [owner])
        # The same table again in one batch, now naming the person written in between.
        write(pipeline, session, ACCOUNTS, [second])
        write(pipeline, session, SHEETS, [sheet(second["id"])])
        pipeline.flush()
        write(pipeline, session, ACCOUNTS, [third])
        write(pipeline, session, APPS, [app(third["id"], f"App {n}") for n in range(7)])

    with sessions() as session:
        handles = session.execute(select(ACCOUNTS.c.handle).order_by(ACCOUNTS.c.handle)).scalars()
        assert list(handles) == ["order-0", "order-1", "order-2"]
        assert session.scalar(select(func.count()).select_from(SHEETS)) == 2
        # Rows of one write keep their order.
        names = session.execute(
            select(APPS.c.name).where(APPS.c.account_id == third["id"]).order_by(APPS.c.id)
        ).scalars()
        assert sorted(names) == [f"App {n}" for n in range(7)]
        assert stages(session) == []


def write_batches(
    sessions: SessionFactory, batches: list[list[tuple[Table, list[dict[str, Any]]]]]
) -> None:
    """One transaction writing each batch through a pipeline, a flush after each."""
    with sessions.begin() as session, fastinsert.pipelined(session) as pipeline:
        for batch in batches:
            for table, rows in batch:
                write(pipeline, session, table, rows)
            pipeline.flush()


def fail_after_staging(session: Session, ministry: Ministry) -> None:
    """Write one batch, stage another, then fail as a caller that found a problem would."""
    with fastinsert.pipelined(session) as pipeline:
        write(pipeline, session, ACCOUNTS, [account(ministry, "written")])
        pipeline.flush()
        write(pipeline, session, ACCOUNTS, [account(ministry, "staged")])
        raise RuntimeError("the caller found a problem")


def test_a_failed_batch_raises_as_an_integrity_error_and_nothing_of_it_is_kept(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as session:
        kept = account(ministry, "kept")
        fastinsert.insert_encoded(session, ACCOUNTS, *encoded(session, ACCOUNTS, [kept]))
    taken = account(ministry, "kept")  # the same (platform, handle)
    batches = [
        [(ACCOUNTS, [account(ministry, "fresh")])],
        [(ACCOUNTS, [taken])],
        [(SHEETS, [sheet(taken["id"])])],
    ]

    with pytest.raises(IntegrityError):
        write_batches(sessions, batches)

    with sessions() as session:
        handles = session.execute(select(ACCOUNTS.c.handle)).scalars()
        assert list(handles) == ["kept"]
        assert session.scalar(select(func.count()).select_from(SHEETS)) == 0


def test_when_the_caller_fails_its_error_stands_and_the_transaction_keeps_nothing(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    def import_that_fails() -> None:
        with sessions.begin() as session:
            fail_after_staging(session, ministry)

    with pytest.raises(RuntimeError, match="the caller found a problem"):
        import_that_fails()

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ACCOUNTS)) == 0


def test_on_sqlite_a_batch_not_flushed_when_the_caller_fails_is_dropped(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL copies each write as it comes; nothing is staged")
        with pytest.raises(RuntimeError):
            fail_after_staging(session, ministry)

        handles = session.execute(select(ACCOUNTS.c.handle)).scalars()
        assert list(handles) == ["written"]
        assert stages(session) == []
