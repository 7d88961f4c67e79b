"""Syncing a Google Workspace into the inventory through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlmodel import select

from secops.accounts.models import AccountFactSheet
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Principal, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.api import accounts, create, detail, google_body, sync
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.google_workspace import Workspace
from tests.factories.missions import Ministry

GWS = "google_workspace"
AMBASSADOR = f"ambassador@{p.DOMAIN}"


@pytest.fixture
def connector(
    client: TestClient,
    ministry: Ministry,
    role_on: Callable[..., Principal],
    key_file: str,
    no_waiting: Naps,
) -> str:
    """A Google Workspace connector feeding the HQ, created by a ministry-wide officer."""
    role_on(Role.OFFICER, ministry.hq)
    return create(client, google_body(ministry.hq, key_file))


def test_a_workspace_sync_records_2sv_recovery_methods_and_apps(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    Workspace().mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "ok", run
    assert run["counts"]["accounts_created"] == 4
    found = accounts(client, GWS)
    ambassador = detail(client, found[AMBASSADOR]["id"])
    assert ambassador["mfa"]["mfa_enabled"] is True
    assert ambassador["mfa"]["mfa_enforced"] is False
    assert ambassador["mfa"]["source"] == "api:google_workspace"
    assert [(m["method"], m["strength"]) for m in ambassador["mfa_method_facts"]] == [
        ("2sv_unspecified", "unknown")
    ]
    assert ambassador["recovery"]["email_domain"] == "gmail.example"
    assert ambassador["recovery"]["email"] == "ambassador.private@gmail.example"  # officers see it
    assert [a["name"] for a in ambassador["apps"]] == ["Hootsuite"]
    admin = detail(client, found[p.ADMIN_SUBJECT]["id"])
    assert admin["mfa_strength"] == "phishing_resistant"


def test_report_facts_are_dated_by_the_report_day(
    client: TestClient, vendors: respx.MockRouter, connector: str, clock: FrozenClock
) -> None:
    Workspace().mount(vendors)
    sync(client, connector)

    admin = detail(client, accounts(client, GWS)[p.ADMIN_SUBJECT]["id"])

    (method, *_rest) = admin["mfa_method_facts"]
    assert datetime.fromisoformat(method["observed_at"]) == datetime(2026, 1, 12, tzinfo=UTC)
    assert method["age_days"] == 3
    assert datetime.fromisoformat(admin["mfa"]["observed_at"]) == clock.now()


def test_the_recovery_address_and_phone_are_stored_encrypted(
    client: TestClient, vendors: respx.MockRouter, connector: str, sessions: SessionFactory
) -> None:
    Workspace().mount(vendors)
    sync(client, connector)

    with sessions.begin() as s:
        rows = s.exec(select(AccountFactSheet)).all()
        blobs = [bytes(r.recovery_email) for r in rows if r.recovery_email] + [
            bytes(r.recovery_phone) for r in rows if r.recovery_phone
        ]

    assert blobs
    assert not any(b"gmail.example" in blob or b"612345678" in blob for blob in blobs)


def test_a_refused_usage_report_makes_methods_errors_and_the_run_partial(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    refused = httpx.Response(403, json=p.google_error(403, "PERMISSION_DENIED", "forbidden"))
    Workspace(report=refused).mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "partial"
    assert run["error"] == "usage report: PERMISSION_DENIED (HTTP 403)"
    admin = detail(client, accounts(client, GWS)[p.ADMIN_SUBJECT]["id"])
    assert admin["mfa_strength"] == "unknown"
    assert admin["mfa"]["fact_status"] == "ok"
    (group,) = [g for g in admin["groups"] if g["group"] == "mfa_methods"]
    assert group["fact_status"] == "error"


def test_a_second_workspace_sync_changes_nothing(
    client: TestClient, vendors: respx.MockRouter, connector: str, clock: FrozenClock
) -> None:
    Workspace().mount(vendors)
    sync(client, connector)
    clock.advance(hours=3)

    again = sync(client, connector)

    assert again["counts"]["accounts_unchanged"] == 4
    assert again["counts"]["accounts_updated"] == 0


def test_attested_recovery_details_survive_a_sync(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    Workspace().mount(vendors)
    sync(client, connector)
    account_id = accounts(client, GWS)[AMBASSADOR]["id"]
    attested = client.post(
        f"/api/v1/accounts/{account_id}/attest",
        json={
            "recovery": {
                "phone": "+33612345678",
                "carrier_lock": True,
                "phone_owner": "institutional",
            }
        },
    )
    assert attested.status_code == 200, attested.text

    sync(client, connector)

    recovery = detail(client, account_id)["recovery"]
    assert recovery["carrier_lock"] is True
    assert recovery["phone_owner"] == "institutional"
    assert recovery["email_domain"] == "gmail.example"
