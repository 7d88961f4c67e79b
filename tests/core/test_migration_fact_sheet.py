"""Revision 0005 moves the one-per-account fact groups into the fact sheet and back, losing
nothing: values, provenance, ciphertexts (still readable under their bound place), and the
absence of a group never recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, Table, column, insert, select, table

import secops.db_models  # noqa: F401  - every table on the metadata
from secops.core.config import normalise_database_url
from secops.core.db import create_db_engine, metadata
from secops.core.migrations import downgrade, upgrade

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
BLOB = b"\x01sealed-recovery-address"


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(normalise_database_url(empty_database_url))
    yield engine
    engine.dispose()


def _old(name: str, *names: str) -> Any:
    """A table of revision 0004, by its column names (the models no longer describe it)."""
    return table(name, *(column(n) for n in names))


PROVENANCE = ("source", "observed_at", "attested_by", "fact_status", "error_reason")


def _provenance(source: str, status: str = "ok", reason: str | None = None) -> dict[str, Any]:
    return {
        "source": source,
        "observed_at": WHEN.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "attested_by": None,
        "fact_status": status,
        "error_reason": reason,
    }


def _seed_revision_0004(engine: Engine) -> tuple[str, str]:
    """Two accounts: one with every group recorded, one with none."""
    mission_id, full, bare = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stamp = WHEN
    is_sqlite = engine.dialect.name == "sqlite"

    def uid(value: uuid.UUID) -> Any:
        return value.hex if is_sqlite else value

    def when(values: dict[str, Any]) -> dict[str, Any]:
        return values if is_sqlite else {**values, "observed_at": WHEN}

    mission: Table = metadata.tables["mission"]
    account: Table = metadata.tables["account"]
    with engine.begin() as conn:
        conn.execute(
            insert(mission).values(
                id=mission_id,
                code="HQ",
                name="Headquarters",
                kind="hq",
                country="MT",
                city="Valletta",
                region="europe",
                status="active",
                created_at=stamp,
                updated_at=stamp,
                version=1,
            )
        )
        for account_id, handle in ((full, "full"), (bare, "bare")):
            conn.execute(
                insert(account).values(
                    id=account_id,
                    platform="x",
                    handle=handle,
                    mission_id=mission_id,
                    tier="mission",
                    kind="institutional",
                    status="active",
                    in_public_registry=False,
                    created_at=stamp,
                    updated_at=stamp,
                    version=1,
                )
            )
        conn.execute(
            insert(_old("account_mfa", "account_id", "mfa_enabled", "mfa_enforced", *PROVENANCE)),
            [
                {
                    "account_id": uid(full),
                    "mfa_enabled": True,
                    "mfa_enforced": False,
                    **when(_provenance("api:microsoft_graph")),
                }
            ],
        )
        conn.execute(
            insert(
                _old(
                    "account_recovery",
                    "account_id",
                    "email",
                    "email_domain",
                    "email_hint",
                    "phone_owner",
                    "carrier_lock",
                    *PROVENANCE,
                )
            ),
            [
                {
                    "account_id": uid(full),
                    "email": BLOB,
                    "email_domain": "gmail.com",
                    "email_hint": "p•••@gmail.com",
                    "phone_owner": "personal",
                    "carrier_lock": True,
                    **when(_provenance("attested")),
                }
            ],
        )
        conn.execute(
            insert(_old("account_credential", "account_id", "storage", "min_length", *PROVENANCE)),
            [
                {
                    "account_id": uid(full),
                    "storage": "vault",
                    "min_length": 16,
                    **when(_provenance("attested")),
                }
            ],
        )
        conn.execute(
            insert(_old("account_fact_group", "account_id", "fact_group", *PROVENANCE)),
            [
                {
                    "account_id": uid(full),
                    "fact_group": "admins",
                    **when(
                        _provenance("api:microsoft_graph", "error", "Authorization_RequestDenied")
                    ),
                },
                {"account_id": uid(full), "fact_group": "apps", **when(_provenance("attested"))},
            ],
        )
    return str(full), str(bare)


def _sheets(engine: Engine) -> dict[str, dict[str, Any]]:
    sheet = metadata.tables["account_fact_sheet"]
    account = metadata.tables["account"]
    query = select(account.c.handle, sheet).join(sheet, sheet.c.account_id == account.c.id)
    with engine.connect() as conn:
        return {row.handle: dict(row._mapping) for row in conn.execute(query)}


def test_upgrade_moves_every_recorded_group_onto_one_sheet_per_account(engine: Engine) -> None:
    upgrade(engine, "0004")
    _seed_revision_0004(engine)

    upgrade(engine, "0005")

    sheets = _sheets(engine)
    assert set(sheets) == {"full"}  # an account with no facts gets no sheet
    sheet = sheets["full"]
    assert (sheet["mfa_enabled"], sheet["mfa_enforced"]) == (True, False)
    assert sheet["mfa_source"] == "api:microsoft_graph"
    assert sheet["mfa_observed_at"] == WHEN
    assert bytes(sheet["recovery_email"]) == BLOB
    assert sheet["recovery_email_hint"] == "p•••@gmail.com"
    assert (sheet["recovery_phone_owner"], sheet["recovery_carrier_lock"]) == ("personal", True)
    assert (sheet["credential_storage"], sheet["credential_min_length"]) == ("vault", 16)
    assert sheet["admins_fact_status"] == "error"
    assert sheet["admins_error_reason"] == "Authorization_RequestDenied"
    assert sheet["apps_source"] == "attested"
    assert sheet["mfa_methods_source"] is None  # never recorded stays unrecorded


def test_downgrade_puts_each_group_back_in_its_own_table(engine: Engine) -> None:
    upgrade(engine, "0004")
    _seed_revision_0004(engine)
    upgrade(engine, "0005")

    downgrade(engine, "0004")

    with engine.connect() as conn:
        mfa = conn.execute(select(_old("account_mfa", "mfa_enabled", "source"))).all()
        groups = conn.execute(
            select(_old("account_fact_group", "fact_group", "fact_status", "error_reason"))
        ).all()
        recovery = conn.execute(select(_old("account_recovery", "email", "phone_owner"))).all()
        credential = conn.execute(select(_old("account_credential", "storage"))).all()
    assert [tuple(r) for r in mfa] == [(True, "api:microsoft_graph")]
    assert sorted(tuple(r) for r in groups) == [
        ("admins", "error", "Authorization_RequestDenied"),
        ("apps", "ok", None),
    ]
    assert [(bytes(r[0]), r[1]) for r in recovery] == [(BLOB, "personal")]
    assert [tuple(r) for r in credential] == [("vault",)]
