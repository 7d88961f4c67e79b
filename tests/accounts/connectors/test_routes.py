"""Configuring connectors through the API: validation, scoping, the fixed endpoints, ``test``."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from secops.core.principal import Principal, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.api import CONNECTORS, create, google_body, graph_body
from tests.accounts.connectors.graph_tenant import GraphTenant
from tests.factories.missions import Ministry


@pytest.fixture
def officer(ministry: Ministry, role_on: Callable[..., Principal]) -> Principal:
    """Requests run as an officer of the embassy in Paris (and the consulate under it)."""
    return role_on(Role.OFFICER, ministry.paris)


def test_create_answers_201_with_location_and_no_secret(
    client: TestClient, ministry: Ministry, officer: Principal
) -> None:
    response = client.post(CONNECTORS, json=graph_body(ministry.paris))

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{CONNECTORS}/{body['id']}"
    assert "secret" not in body
    assert body["token_url"] == (f"https://login.microsoftonline.com/{p.TENANT}/oauth2/v2.0/token")
    assert body["api_base"] == "https://graph.microsoft.com/v1.0"
    assert body["created_by"] == str(officer.id)
    assert body["last_sync_status"] is None


def test_endpoints_cannot_be_chosen_by_the_caller(
    client: TestClient, ministry: Ministry, officer: Principal
) -> None:
    body = graph_body(ministry.paris, token_url="https://evil.example/token")

    response = client.post(CONNECTORS, json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "token_url"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tenant_id": None}, "tenant_id"),
        ({"client_id": None}, "client_id"),
        ({"customer_id": "C0123"}, "customer_id"),
        ({"tenant_id": "../../evil.example/x"}, "tenant_id"),
        ({"tenant_id": "tenant?x=1"}, "tenant_id"),
        ({"secret": ""}, "secret"),
        ({"kind": "okta"}, "kind"),
    ],
)
def test_bad_graph_payloads_are_422_and_never_echo_the_secret(
    client: TestClient,
    ministry: Ministry,
    officer: Principal,
    overrides: dict[str, object],
    field: str,
) -> None:
    response = client.post(CONNECTORS, json=graph_body(ministry.paris, **overrides))

    assert response.status_code == 422
    assert p.GRAPH_SECRET not in response.text
    assert field in response.text


def test_google_needs_a_real_service_account_key(
    client: TestClient, ministry: Ministry, officer: Principal
) -> None:
    not_a_key = json.dumps(
        {
            "type": "service_account",
            "client_email": "x@y.example",
            "private_key": "CANARY-NOT-A-KEY",
        }
    )

    response = client.post(CONNECTORS, json=google_body(ministry.paris, not_a_key))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "secret"]
    assert "CANARY-NOT-A-KEY" not in response.text


def test_google_takes_its_client_id_from_the_key_file(
    client: TestClient, ministry: Ministry, officer: Principal, key_file: str
) -> None:
    response = client.post(CONNECTORS, json=google_body(ministry.paris, key_file))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == "secops-reader@ministry-secops.iam.gserviceaccount.com"
    assert body["token_url"] == "https://oauth2.googleapis.com/token"
    assert "PRIVATE KEY" not in response.text


def test_a_google_client_id_that_is_not_the_keys_is_refused(
    client: TestClient, ministry: Ministry, officer: Principal, key_file: str
) -> None:
    body = google_body(
        ministry.paris, key_file, client_id="someone-else@example.iam.gserviceaccount.com"
    )

    response = client.post(CONNECTORS, json=body)

    assert response.status_code == 422


def test_a_second_connector_for_the_same_tenant_is_409(
    client: TestClient, ministry: Ministry, officer: Principal
) -> None:
    create(client, graph_body(ministry.paris))

    again = client.post(CONNECTORS, json=graph_body(ministry.lyon, tenant_id=p.TENANT.upper()))

    assert again.status_code == 409


def test_a_mission_outside_the_callers_reach_is_404(
    client: TestClient, ministry: Ministry, officer: Principal
) -> None:
    response = client.post(CONNECTORS, json=graph_body(ministry.nairobi))

    assert response.status_code == 404
    assert "mission_id" in response.json()["detail"]


def test_officers_see_only_their_missions_connectors(
    client: TestClient, ministry: Ministry, role_on: Callable[..., Principal]
) -> None:
    role_on(Role.OFFICER, ministry.paris)
    paris = create(client, graph_body(ministry.paris))
    role_on(Role.OFFICER, ministry.nairobi)
    nairobi = create(client, graph_body(ministry.nairobi, tenant_id="nairobi.onmicrosoft.example"))

    listed = client.get(CONNECTORS).json()
    hidden = client.get(f"{CONNECTORS}/{paris}")

    assert [c["id"] for c in listed["items"]] == [nairobi]
    assert hidden.status_code == 404


def test_managers_may_not_administer_connectors(
    client: TestClient, ministry: Ministry, role_on: Callable[..., Principal]
) -> None:
    role_on(Role.MANAGER, ministry.paris)

    assert client.get(CONNECTORS).status_code == 403
    assert client.post(CONNECTORS, json=graph_body(ministry.paris)).status_code == 403


def test_list_pages_by_name(client: TestClient, ministry: Ministry, officer: Principal) -> None:
    for n in range(3):
        create(client, graph_body(ministry.paris, name=f"Tenant {n}", tenant_id=f"t{n}.example"))

    first = client.get(CONNECTORS, params={"limit": 2}).json()
    rest = client.get(CONNECTORS, params={"cursor": first["next_cursor"]}).json()

    assert [c["name"] for c in first["items"] + rest["items"]] == [
        "Tenant 0",
        "Tenant 1",
        "Tenant 2",
    ]
    assert client.get(CONNECTORS, params={"cursor": "garbage"}).status_code == 400


def test_test_says_ok_when_the_tenant_answers(
    client: TestClient, ministry: Ministry, officer: Principal, vendors: respx.MockRouter
) -> None:
    routes = GraphTenant().mount(vendors)
    probe = vendors.get("https://graph.microsoft.com/v1.0/users?$select=id&$top=1").respond(
        200, json=p.graph_page([{"id": p.AMBASSADOR}])
    )
    connector = create(client, graph_body(ministry.paris))

    response = client.post(f"{CONNECTORS}/{connector}/test")

    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert routes["token"].called
    assert probe.called


def test_test_reports_the_vendor_code_and_nothing_else(
    client: TestClient, ministry: Ministry, officer: Principal, vendors: respx.MockRouter
) -> None:
    vendors.post(url__startswith="https://login.microsoftonline.com/").mock(
        return_value=httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: secret {p.GRAPH_SECRET[:6]}",
            },
        )
    )
    connector = create(client, graph_body(ministry.paris))

    response = client.post(f"{CONNECTORS}/{connector}/test")

    assert response.json() == {
        "ok": False,
        "code": "invalid_client",
        "http_status": 401,
        "checked_at": response.json()["checked_at"],
    }
    assert "AADSTS" not in response.text
