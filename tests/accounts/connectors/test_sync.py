"""Syncing a Microsoft 365 tenant into the inventory through the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlmodel import col, select

from secops.accounts.connectors.models import SyncRun, SyncStatus
from secops.accounts.models import ConnectedApp, Platform
from secops.audit.models import AuditEvent
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import Permission, Principal, PrincipalKind, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.api import accounts, create, detail, graph_body, sync
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.graph_tenant import GraphTenant, denied
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry

M365 = "microsoft365"
AMBASSADOR = "ambassador@mfa.example"
PRESS = "press.officer@mfa.example"
CLERK = "clerk@mfa.example"


@pytest.fixture
def officer(ministry: Ministry, role_on: Callable[..., Principal]) -> Principal:
    """Requests run as an officer of the embassy in Paris (and the consulate under it)."""
    return role_on(Role.OFFICER, ministry.paris)


@pytest.fixture
def connector(client: TestClient, ministry: Ministry, officer: Principal, no_waiting: Naps) -> str:
    """A Graph connector feeding Paris, created through the API."""
    return create(client, graph_body(ministry.paris))


def audit_actions(sessions: SessionFactory, after_seq: int = 0) -> list[str]:
    with sessions.begin() as s:
        query = select(AuditEvent.action).where(col(AuditEvent.seq) > after_seq)
        return list(s.exec(query.order_by(col(AuditEvent.seq))).all())


def last_seq(sessions: SessionFactory) -> int:
    with sessions.begin() as s:
        seqs = s.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq).desc())).first()
        return int(seqs or 0)


def methods_of(account: dict[str, Any]) -> dict[str, str]:
    return {m["method"]: m["strength"] for m in account["mfa_method_facts"]}


def test_first_sync_creates_each_member_and_the_tenant_in_the_mission(
    client: TestClient, vendors: respx.MockRouter, connector: str, ministry: Ministry
) -> None:
    GraphTenant().mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "ok", run
    assert run["counts"]["accounts_created"] == 4
    assert run["counts"]["accounts_skipped"] == 1  # the guest
    found = accounts(client, M365)
    assert set(found) == {AMBASSADOR, PRESS, CLERK, p.TENANT}
    assert {a["mission_id"] for a in found.values()} == {str(ministry.paris.id)}
    assert found[AMBASSADOR]["external_id"] == p.AMBASSADOR
    assert found[AMBASSADOR]["last_activity_at"].startswith("2026-01-13T17:45:12")


def test_facts_carry_the_api_source_and_the_vendors_evidence_date(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant().mount(vendors)
    sync(client, connector)

    ambassador = detail(client, accounts(client, M365)[AMBASSADOR]["id"])

    assert ambassador["mfa"]["mfa_enabled"] is True
    assert ambassador["mfa"]["source"] == "api:microsoft_graph"
    assert ambassador["mfa"]["fact_status"] == "ok"
    assert datetime.fromisoformat(ambassador["mfa"]["observed_at"]) == datetime(
        2026, 1, 14, 6, 30, tzinfo=UTC
    )
    assert ambassador["mfa"]["age_days"] == 1
    assert methods_of(ambassador) == {"mobilePhone": "phone_email"}
    assert ambassador["mfa_strength"] == "phone_email"


def test_an_unknown_method_string_is_stored_as_unknown_strength(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant().mount(vendors)
    sync(client, connector)

    found = accounts(client, M365)
    clerk, press = (detail(client, found[h]["id"]) for h in (CLERK, PRESS))

    assert methods_of(clerk) == {"quantumTelepathyToken": "unknown"}
    assert clerk["mfa_strength"] == "unknown"
    assert methods_of(press)["fido2"] == "phishing_resistant"
    assert press["mfa_strength"] == "phishing_resistant"


def test_a_403_on_the_registration_report_records_errors_never_a_pass(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant(registrations=denied()).mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "partial"
    assert "registration report: Authorization_RequestDenied (HTTP 403)" in run["error"]
    assert run["counts"]["facts_errored"] == 6  # MFA state and methods of three users
    for handle in (AMBASSADOR, PRESS, CLERK):
        account = detail(client, accounts(client, M365)[handle]["id"])
        assert account["mfa"]["mfa_enabled"] is not True
        assert account["mfa"]["fact_status"] == "error"
        assert "Authorization_RequestDenied" in account["mfa"]["error_reason"]
        assert account["mfa_strength"] == "unknown"


def test_a_403_after_a_good_sync_marks_the_last_values_as_errors(
    client: TestClient, vendors: respx.MockRouter, connector: str, clock: FrozenClock
) -> None:
    routes = GraphTenant().mount(vendors)
    sync(client, connector)
    routes["registrations"].mock(return_value=denied())
    clock.advance(days=1)

    run = sync(client, connector)

    press = detail(client, accounts(client, M365)[PRESS]["id"])
    assert run["status"] == "partial"
    assert press["mfa"]["fact_status"] == "error"
    assert press["mfa_strength"] == "unknown", "a refused read is not a phishing-resistant pass"
    assert {m["fact_status"] for m in press["mfa_method_facts"]} == {"error"}


def test_a_second_sync_of_the_same_payloads_changes_nothing(
    client: TestClient,
    vendors: respx.MockRouter,
    connector: str,
    clock: FrozenClock,
    sessions: SessionFactory,
) -> None:
    GraphTenant().mount(vendors)
    first = sync(client, connector)
    clock.advance(hours=6)
    before = last_seq(sessions)

    second = sync(client, connector)

    assert first["counts"]["accounts_created"] == 4
    assert second["status"] == "ok"
    assert second["counts"]["accounts_created"] == 0
    assert second["counts"]["accounts_updated"] == 0
    assert second["counts"]["accounts_unchanged"] == 4
    assert audit_actions(sessions, before) == ["connector.sync"]


def test_a_sync_audits_its_counts_and_each_account_change(
    client: TestClient, vendors: respx.MockRouter, connector: str, sessions: SessionFactory
) -> None:
    GraphTenant().mount(vendors)
    before = last_seq(sessions)

    run = sync(client, connector)

    actions = audit_actions(sessions, before)
    assert actions.count("connector.sync") == 1
    assert actions.count("account.create") == 4
    assert "account.mfa.set" in actions
    with sessions.begin() as s:
        event = s.exec(select(AuditEvent).where(col(AuditEvent.action) == "connector.sync")).one()
    assert event.details["counts"] == run["counts"]
    assert event.object_id == connector


def test_changes_in_the_tenant_are_applied_and_counted(
    client: TestClient, vendors: respx.MockRouter, connector: str, clock: FrozenClock
) -> None:
    routes = GraphTenant().mount(vendors)
    sync(client, connector)
    renamed = p.registration(p.CLERK, "records.clerk@mfa.example", methods=["fido2"])
    users = [p.graph_user(p.CLERK, "records.clerk@mfa.example", enabled=False)]
    routes["registrations"].respond(200, json=p.graph_page([renamed]))
    routes["users"].respond(200, json=p.graph_page(users))
    clock.advance(days=1)

    run = sync(client, connector)

    found = accounts(client, M365)
    assert CLERK not in found
    clerk = found["records.clerk@mfa.example"]
    assert clerk["status"] == "closed"
    assert clerk["mfa_strength"] == "phishing_resistant"
    assert run["counts"]["accounts_updated"] >= 1


def test_a_429_during_sync_is_waited_out(
    client: TestClient, vendors: respx.MockRouter, connector: str, no_waiting: Naps
) -> None:
    routes = GraphTenant().mount(vendors)
    routes["grants"].side_effect = [
        httpx.Response(429, headers={"Retry-After": "5"}, json=p.graph_error("TooManyRequests")),
        httpx.Response(200, json=p.graph_page([])),
    ]

    run = sync(client, connector)

    assert run["status"] == "ok"
    assert no_waiting.waits == [5.0]


def test_a_refused_sign_in_fails_the_run_and_changes_nothing(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    refused = httpx.Response(401, json={"error": "invalid_client", "error_description": "bad"})
    GraphTenant(token=refused).mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "failed"
    assert run["error"] == "sign-in: invalid_client (HTTP 401)"
    assert accounts(client, M365) == {}
    shown = client.get(f"/api/v1/connectors/{connector}").json()
    assert shown["last_sync_status"] == "failed"


def test_accounts_elsewhere_are_left_alone_and_counted(
    client: TestClient,
    vendors: respx.MockRouter,
    connector: str,
    ministry: Ministry,
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        make_account(s, ministry.nairobi, platform=Platform.MICROSOFT365, handle=AMBASSADOR)
        lyon = make_account(s, ministry.lyon, platform=Platform.MICROSOFT365, handle=PRESS)
    GraphTenant().mount(vendors)

    run = sync(client, connector)

    assert run["status"] == "partial"
    assert run["counts"]["accounts_out_of_reach"] == 1
    assert run["counts"]["accounts_created"] == 2
    press = detail(client, str(lyon.id))
    assert press["external_id"] == p.PRESS, "Lyon is under Paris: the account is adopted"
    assert press["mfa_strength"] == "phishing_resistant"


def test_review_marks_on_apps_survive_a_sync(
    client: TestClient, vendors: respx.MockRouter, connector: str, sessions: SessionFactory
) -> None:
    GraphTenant().mount(vendors)
    sync(client, connector)
    reviewed = datetime(2026, 1, 10, tzinfo=UTC)
    with sessions.begin() as s:
        app = s.exec(
            select(ConnectedApp).where(col(ConnectedApp.external_id) == "grant-press")
        ).one()
        app.allow_listed, app.last_reviewed_at = True, reviewed

    sync(client, connector)

    press = detail(client, accounts(client, M365)[PRESS]["id"])
    (shown,) = press["apps"]
    assert shown["allow_listed"] is True
    assert datetime.fromisoformat(shown["last_reviewed_at"]) == reviewed


def test_the_tenant_account_lists_admins_and_tenant_wide_apps(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant().mount(vendors)
    sync(client, connector)

    tenant = detail(client, accounts(client, M365)[p.TENANT]["id"])

    assert tenant["tier"] == "service"
    assert [(a["external_identity"], a["platform_role"]) for a in tenant["admins"]] == [
        ("Ambassador@MFA.example", "Global Administrator")
    ]
    assert [a["name"] for a in tenant["apps"]] == ["SocialScheduler Pro"]
    assert tenant["apps"][0]["granted_by"] == "admin consent (all users)"


def test_an_admin_who_is_in_the_staff_directory_is_linked_to_the_person(
    client: TestClient,
    vendors: respx.MockRouter,
    connector: str,
    ministry: Ministry,
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as s:
        person = make_person(s, ministry.paris, email=AMBASSADOR, full_name="H.E. the Ambassador")
    GraphTenant().mount(vendors)
    sync(client, connector)

    (admin,) = detail(client, accounts(client, M365)[p.TENANT]["id"])["admins"]

    assert admin["person_id"] == str(person.id)
    assert admin["person_name"] == "H.E. the Ambassador"
    assert admin["email_domain"] == "mfa.example"


def test_a_second_sync_while_one_runs_is_refused_and_stale_runs_are_abandoned(
    client: TestClient,
    vendors: respx.MockRouter,
    connector: str,
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
) -> None:
    GraphTenant().mount(vendors)
    with sessions.begin() as s:
        running = SyncRun(
            connector_id=uuid.UUID(connector),
            mission_id=ministry.paris.id,
            started_by=ministry.paris.id,
            started_at=clock.now() - timedelta(minutes=5),
        )
        s.add(running)

    refused = client.post(f"/api/v1/connectors/{connector}/sync")
    clock.advance(hours=2)
    run = sync(client, connector)

    assert refused.status_code == 409
    assert run["status"] == "ok"
    with sessions.begin() as s:
        stale = s.get(SyncRun, running.id)
        assert stale is not None
        assert stale.status == SyncStatus.FAILED
        assert stale.error == "abandoned: the sync never finished"


def test_runs_are_listed_newest_first(
    client: TestClient, vendors: respx.MockRouter, connector: str, clock: FrozenClock
) -> None:
    GraphTenant().mount(vendors)
    first = sync(client, connector)
    clock.advance(hours=1)
    second = sync(client, connector)

    page = client.get(f"/api/v1/connectors/{connector}/runs", params={"limit": 1}).json()
    rest = client.get(
        f"/api/v1/connectors/{connector}/runs", params={"cursor": page["next_cursor"]}
    ).json()

    assert [r["id"] for r in page["items"]] == [second["id"]]
    assert [r["id"] for r in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None


def test_a_sync_needs_the_right_to_write_accounts(
    client: TestClient, connector: str, ministry: Ministry, act_as: Callable[[Principal], None]
) -> None:
    key = Principal(
        kind=PrincipalKind.API_KEY,
        id=ministry.paris.id,
        name="connectors-only",
        roles={Role.OFFICER: frozenset({ministry.paris.id})},
        allowed=frozenset({Permission.CONNECTORS_ADMIN}),
    )
    act_as(key)

    response = client.post(f"/api/v1/connectors/{connector}/sync")

    assert response.status_code == 403
    assert "accounts:write" in response.json()["detail"]
