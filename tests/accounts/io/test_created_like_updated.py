"""An account an import creates stores the same facts as the core's writers store on an update.

New accounts go through the import's bulk path; stored accounts go one by one through the
core's fact writers. The same cells must give the same rows either way.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import SQLModel, col

from secops.accounts.models import Account, AccountFactSheet
from secops.core.crypto import decrypt_field
from secops.core.db import SessionFactory
from secops.core.principal import Principal
from tests.accounts.io.conftest import csv_file, imported
from tests.factories.missions import Ministry

FACTS = (
    "mfa_enabled,mfa_enforced,mfa_methods,recovery_email,recovery_phone,recovery_phone_owner,"
    "recovery_carrier_lock,credential_storage,credential_holders,admins,connected_apps,"
    "admins_observed_at"
)
CELLS = (
    "true,false,fido2; sms; Fido2,Box@Mail.example,+33 6 12 34 56 78,personal,true,vault,"
    "lena@mfa.example; paul@mfa.example,"
    '"lena@mfa.example (role=owner); Outside Agency (role=editor, affiliation=external); '
    'outside agency (role=viewer)",'
    '"Hootsuite (publisher=Hootsuite Inc., scopes=publish read); '
    'hootsuite (publisher=hootsuite inc.)",'
    "2025-11-02"
)
PEOPLE = (
    "record,email,full_name,mission",
    "person,lena@mfa.example,Lena,HQ",
    "person,paul@mfa.example,Paul,HQ",
)
# Columns that differ by nature between the two accounts (keys, random ids, ciphertexts).
OWN = {"id", "account_id", "recovery_email", "recovery_phone"}


def _facts(sessions: SessionFactory, handle: str) -> dict[str, list[dict[str, Any]]]:
    facts: dict[str, list[dict[str, Any]]] = {}
    with sessions() as session:
        account = session.scalars(select(Account).where(col(Account.handle) == handle)).one()
        for name, table in SQLModel.metadata.tables.items():
            if name == "account" or "account_id" not in table.c:
                continue
            rows = session.execute(select(table).where(table.c.account_id == account.id))
            facts[name] = sorted(
                ({k: v for k, v in r._mapping.items() if k not in OWN} for r in rows), key=repr
            )
        sheet = session.get(AccountFactSheet, account.id)
        assert sheet is not None
        facts["secrets"] = [
            {
                column: decrypt_field(
                    session,
                    table="account_recovery",
                    column=column,
                    row_id=account.id,
                    blob=getattr(sheet, f"recovery_{column}"),
                )
                for column in ("email", "phone")
            }
        ]
        facts["summary"] = [{"mfa": account.mfa_strength, "evidence": account.evidence_at}]
    return facts


def test_a_new_account_gets_the_rows_the_core_writes_for_a_stored_one(
    client: TestClient, ministry: Ministry, admin: Principal, sessions: SessionFactory
) -> None:
    imported(client, csv_file(*PEOPLE))
    imported(
        client, csv_file("platform,handle,mission,tier,kind", "x,updated,HQ,mission,institutional")
    )

    report = imported(
        client,
        csv_file(
            f"platform,handle,mission,tier,kind,{FACTS}",
            f"x,created,HQ,mission,institutional,{CELLS}",
            f"x,updated,HQ,mission,institutional,{CELLS}",
        ),
    )

    assert report["accounts"] == {"created": 1, "updated": 1, "unchanged": 0}
    created, updated = _facts(sessions, "created"), _facts(sessions, "updated")
    assert created == updated
    assert len(created["account_admin"]) == 2  # the same outside identity, named twice
    assert len(created["connected_app"]) == 1
    assert created["account_fact_sheet"][0]["recovery_last_verified_at"] is not None
