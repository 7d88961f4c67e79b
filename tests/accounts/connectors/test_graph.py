"""Reading a Microsoft Graph tenant into readings: paging, refusals, odd and missing fields."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from secops.accounts.connectors import graph
from secops.accounts.connectors.http import VendorHttp, VendorRefused
from secops.accounts.connectors.readings import AccountReading, TenantReading, failed
from secops.core.clock import FrozenClock
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.graph_tenant import GraphTenant, credentials, denied


def read(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, tenant: GraphTenant
) -> TenantReading:
    tenant.mount(vendors)
    return graph.read_tenant(vendor, credentials(), clock.now())


def by_id(reading: TenantReading) -> dict[str, AccountReading]:
    return {a.external_id: a for a in reading.accounts}


def test_the_token_is_requested_by_client_credentials(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    routes = GraphTenant().mount(vendors)

    graph.read_tenant(vendor, credentials(), clock.now())

    form = parse_qs(routes["token"].calls[0].request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [p.CLIENT],
        "client_secret": [p.GRAPH_SECRET],
        "scope": ["https://graph.microsoft.com/.default"],
    }
    sent = routes["users"].calls[0].request.headers["Authorization"]
    assert sent == "Bearer eyJ0eXAiOiJKV1Qi.graph.token"


def test_both_pages_of_each_report_are_read_and_guests_skipped(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    reading = read(vendors, vendor, clock, GraphTenant())

    accounts = by_id(reading)
    assert set(accounts) == {p.AMBASSADOR, p.PRESS, p.CLERK, f"tenant:{p.TENANT}"}
    assert reading.skipped == 1
    assert reading.failures == {}
    assert accounts[p.CLERK].methods is not None
    assert accounts[p.CLERK].methods.value == ("quantumTelepathyToken",)


def test_registration_facts_carry_the_reports_evidence_date(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    ambassador = by_id(read(vendors, vendor, clock, GraphTenant()))[p.AMBASSADOR]

    assert ambassador.mfa is not None
    assert ambassador.mfa.ok
    assert ambassador.mfa.value is not None
    assert ambassador.mfa.value.enabled is True
    assert ambassador.mfa.observed_at == datetime(2026, 1, 14, 6, 30, tzinfo=UTC)
    assert ambassador.methods is not None
    assert ambassador.methods.value == ("mobilePhone",)
    assert ambassador.last_sign_in is not None
    assert ambassador.last_sign_in.value == datetime(2026, 1, 13, 17, 45, 12, 123456, tzinfo=UTC)


def test_a_user_missing_optional_fields_still_reads(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    clerk = by_id(read(vendors, vendor, clock, GraphTenant()))[p.CLERK]

    assert clerk.display_name == "Clerk"  # from the registration report
    assert clerk.enabled is None
    assert clerk.last_sign_in is not None
    assert clerk.last_sign_in.ok
    assert clerk.last_sign_in.value is None
    assert clerk.errors() == 0


def test_a_403_on_the_registration_report_makes_mfa_facts_errors_for_everyone(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    reading = read(vendors, vendor, clock, GraphTenant(registrations=denied()))

    assert reading.failures == {"registration report": "Authorization_RequestDenied (HTTP 403)"}
    users = [a for a in reading.accounts if not a.is_tenant]
    assert {a.external_id for a in users} == {p.AMBASSADOR, p.PRESS, p.CLERK}
    for account in users:
        assert account.mfa is not None
        assert account.mfa.value is None
        assert (
            account.mfa.error
            == "registration report refused: Authorization_RequestDenied (HTTP 403)"
        )
        assert account.methods is not None
        assert not account.methods.ok
        assert account.last_sign_in is not None
        assert account.last_sign_in.ok


def test_a_missing_or_malformed_mfa_flag_is_an_error_not_a_default(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    missing = p.registration(p.AMBASSADOR, "Ambassador@MFA.example")
    del missing["isMfaRegistered"]
    del missing["methodsRegistered"]
    malformed = p.registration(p.PRESS, "press.officer@mfa.example", mfa="yes")
    tenant = GraphTenant(registrations=[[missing], [malformed]])

    accounts = by_id(read(vendors, vendor, clock, tenant))

    assert accounts[p.AMBASSADOR].mfa == failed("isMfaRegistered missing from registration report")
    assert accounts[p.AMBASSADOR].methods == failed(
        "methodsRegistered missing from registration report"
    )
    assert accounts[p.PRESS].mfa == failed("isMfaRegistered malformed in registration report")
    press_methods = accounts[p.PRESS].methods
    assert press_methods is not None
    assert press_methods.ok, "the other fields of the row still count"
    assert accounts[p.CLERK].mfa == failed("user not in the registration report")


def test_rows_without_an_id_are_counted_unreadable(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    tenant = GraphTenant(registrations=[[{"userPrincipalName": "nobody@mfa.example"}], []])

    reading = read(vendors, vendor, clock, tenant)

    assert reading.unreadable == 1


def test_role_assignments_become_the_tenants_admins(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    second = p.role_assignment(
        p.AMBASSADOR, "Ambassador@MFA.example", "194ae4cb-b126-40b2-bd5b-6091b380977d"
    )
    tenant = GraphTenant(roles=[p.role_assignment(p.AMBASSADOR, "Ambassador@MFA.example"), second])

    admins = by_id(read(vendors, vendor, clock, tenant))[f"tenant:{p.TENANT}"].admins

    assert admins is not None
    assert admins.ok
    assert admins.value is not None
    (only,) = admins.value
    assert only.identity == "Ambassador@MFA.example"
    assert only.role == "Global Administrator, Security Administrator"
    assert only.last_sign_in_at == datetime(2026, 1, 13, 17, 45, 12, 123456, tzinfo=UTC)


def test_an_unattributable_role_assignment_makes_the_admin_list_an_error(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    broken = p.role_assignment(p.PRESS, "press.officer@mfa.example")
    del broken["principalId"]
    tenant = GraphTenant(roles=[p.role_assignment(p.AMBASSADOR, "Ambassador@MFA.example"), broken])

    admins = by_id(read(vendors, vendor, clock, tenant))[f"tenant:{p.TENANT}"].admins

    assert admins is not None
    assert admins.value is None
    assert admins.error == "principalId or roleDefinitionId missing from role assignments"


def test_grants_go_to_the_tenant_or_to_the_consenting_user(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    accounts = by_id(read(vendors, vendor, clock, GraphTenant()))

    tenant_apps = accounts[f"tenant:{p.TENANT}"].apps
    press_apps = accounts[p.PRESS].apps
    clerk_apps = accounts[p.CLERK].apps
    assert tenant_apps is not None
    assert tenant_apps.value is not None
    assert [(a.name, a.scopes) for a in tenant_apps.value] == [
        ("SocialScheduler Pro", ("Mail.Read", "User.Read"))
    ]
    assert press_apps is not None
    assert press_apps.value is not None
    assert [(a.external_id, a.publisher) for a in press_apps.value] == [
        ("grant-press", "Scheduler Ltd")
    ]
    assert clerk_apps is not None
    assert clerk_apps.ok
    assert clerk_apps.value == ()


def test_a_403_on_grants_leaves_other_facts_alone(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    accounts = by_id(read(vendors, vendor, clock, GraphTenant(grants=denied())))

    press = accounts[p.PRESS]
    assert press.apps is not None
    assert not press.apps.ok
    assert press.mfa is not None
    assert press.mfa.ok


def test_no_account_can_be_listed_when_both_user_sources_refuse(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    GraphTenant(registrations=denied(), users=denied()).mount(vendors)

    with pytest.raises(VendorRefused, match="Authorization_RequestDenied"):
        graph.read_tenant(vendor, credentials(), clock.now())


def test_a_refused_token_stops_before_any_read(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    refused = httpx.Response(
        401, json={"error": "invalid_client", "error_description": "AADSTS7000215"}
    )
    routes = GraphTenant(token=refused).mount(vendors)

    with pytest.raises(VendorRefused) as error:
        graph.read_tenant(vendor, credentials(), clock.now())

    assert error.value.reason == "invalid_client (HTTP 401)"
    assert not routes["users"].called


def test_a_429_on_a_page_is_waited_out(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, naps: Naps
) -> None:
    routes = GraphTenant().mount(vendors)
    routes["roles"].side_effect = [
        httpx.Response(429, headers={"Retry-After": "3"}, json=p.graph_error("TooManyRequests")),
        httpx.Response(200, json=p.graph_page([p.role_assignment(p.AMBASSADOR, "a@mfa.example")])),
    ]

    reading = graph.read_tenant(vendor, credentials(), clock.now())

    assert naps.waits == [3.0]
    assert reading.failures == {}


def test_a_next_link_off_the_allow_list_fails_that_read_only(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    evil = vendors.get(url__startswith="https://graph.evil.example/").respond(
        200, json={"value": []}
    )
    routes = GraphTenant().mount(vendors)
    routes["registrations"].respond(
        200,
        json=p.graph_page(
            [p.registration(p.AMBASSADOR, "Ambassador@MFA.example")],
            next_link="https://graph.evil.example/v1.0/reports?$skiptoken=x",
        ),
    )

    reading = graph.read_tenant(vendor, credentials(), clock.now())

    assert not evil.called
    assert reading.failures == {"registration report": "host_not_allowed"}
    ambassador = by_id(reading)[p.AMBASSADOR]
    assert ambassador.mfa is not None
    assert ambassador.mfa.error == "registration report refused: host_not_allowed"


def test_a_redirect_on_a_read_fails_that_read_without_following_it(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    elsewhere = "https://login.microsoftonline.com/common/oauth2/authorize"
    followed = vendors.get(elsewhere).respond(200, json={})
    GraphTenant(users=httpx.Response(302, headers={"Location": elsewhere})).mount(vendors)

    reading = graph.read_tenant(vendor, credentials(), clock.now())

    assert not followed.called
    assert reading.failures == {"users": "redirect_refused (HTTP 302)"}
    ambassador = by_id(reading)[p.AMBASSADOR]
    assert ambassador.last_sign_in is not None
    assert ambassador.last_sign_in.error == "users refused: redirect_refused (HTTP 302)"
