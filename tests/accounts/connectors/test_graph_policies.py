"""Conditional Access and the methods policy: whose MFA is enforced, which methods are allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from secops.accounts.connectors import graph
from secops.accounts.connectors.http import VendorHttp
from secops.accounts.connectors.readings import AccountReading, TenantReading
from secops.core.clock import FrozenClock
from secops.core.principal import Principal, Role
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.api import accounts, create, detail, graph_body, sync
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.graph_tenant import GraphTenant, credentials, denied
from tests.factories.missions import Ministry

POLICY = "9c1e3b2a-0000-4000-8000-0000000000c9"
REFUSED = "Authorization_RequestDenied (HTTP 403)"


def read(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, tenant: GraphTenant
) -> TenantReading:
    tenant.mount(vendors)
    return graph.read_tenant(vendor, credentials(), clock.now())


def enforced(reading: TenantReading) -> dict[str, bool | None]:
    found: dict[str, bool | None] = {}
    for account in reading.accounts:
        if account.is_tenant:
            continue
        assert account.mfa is not None
        assert account.mfa.ok, account.mfa.error
        assert account.mfa.value is not None
        found[account.external_id] = account.mfa.value.enforced
    return found


def users(reading: TenantReading) -> list[AccountReading]:
    return [a for a in reading.accounts if not a.is_tenant]


def tenant_row(reading: TenantReading) -> AccountReading:
    (row,) = [a for a in reading.accounts if a.is_tenant]
    return row


def with_policy(**fields: Any) -> GraphTenant:
    return GraphTenant(policies=[p.ca_policy(POLICY, "Require MFA", **fields)])


def test_a_policy_requiring_mfa_of_everyone_covers_all_but_the_excluded_group(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    reading = read(vendors, vendor, clock, GraphTenant())

    assert enforced(reading) == {p.AMBASSADOR: True, p.PRESS: True, p.CLERK: False}
    assert reading.failures == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "enabledForReportingButNotEnforced"},
        {"state": "disabled"},
        {"include_users": [p.AMBASSADOR, p.PRESS, p.CLERK]},
        {"include_applications": ["00000002-0000-0ff1-ce00-000000000000"]},
        {"controls": ["mfa", "compliantDevice"]},
        {"controls": ["block"]},
        {"locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}},
    ],
    ids=["report-only", "disabled", "named-users", "one-app", "or-device", "block", "trusted"],
)
def test_a_policy_that_leaves_some_sign_ins_without_mfa_enforces_nothing(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, fields: dict[str, Any]
) -> None:
    reading = read(vendors, vendor, clock, with_policy(**fields))

    assert set(enforced(reading).values()) == {False}


@pytest.mark.parametrize(
    "fields",
    [
        {"controls": [], "strength": p.MFA_STRENGTH},
        {"controls": ["mfa", "compliantDevice"], "operator": "AND"},
    ],
    ids=["authentication-strength", "mfa-and-device"],
)
def test_an_authentication_strength_or_mfa_required_alongside_counts(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, fields: dict[str, Any]
) -> None:
    reading = read(vendors, vendor, clock, with_policy(**fields))

    assert set(enforced(reading).values()) == {True}


def test_users_excluded_by_id_or_by_a_role_they_hold_are_not_covered(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    tenant = with_policy(exclude_users=[p.PRESS], exclude_roles=[p.GLOBAL_ADMIN_ROLE])

    reading = read(vendors, vendor, clock, tenant)

    # The ambassador holds Global Administrator (the tenant's role assignments).
    assert enforced(reading) == {p.AMBASSADOR: False, p.PRESS: False, p.CLERK: True}


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        (GraphTenant(policies=denied()), f"conditional access policies refused: {REFUSED}"),
        (
            GraphTenant(break_glass=denied()),
            f"members of a group excluded from MFA refused: {REFUSED}",
        ),
        (
            GraphTenant(
                policies=[p.ca_policy(POLICY, "MFA", exclude_roles=[p.GLOBAL_ADMIN_ROLE])],
                roles=denied(),
            ),
            "conditional access policies exclude roles, but the role assignments were not read",
        ),
        (
            GraphTenant(policies=[{"id": POLICY, "state": "enabled"}]),
            "a policy in the conditional access policies could not be read",
        ),
    ],
    ids=["policies-refused", "group-refused", "roles-refused", "policy-unreadable"],
)
def test_enforcement_that_cannot_be_read_makes_every_mfa_fact_an_error(
    vendors: respx.MockRouter,
    vendor: VendorHttp,
    clock: FrozenClock,
    tenant: GraphTenant,
    reason: str,
) -> None:
    reading = read(vendors, vendor, clock, tenant)

    for account in users(reading):
        assert account.mfa is not None
        assert account.mfa.error == reason
        assert account.methods is not None
        assert account.methods.ok  # the registered methods were read and stay usable


def test_a_refused_policy_list_is_named_among_the_failed_reads(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    reading = read(vendors, vendor, clock, GraphTenant(policies=denied()))

    assert reading.failures == {"conditional access policies": REFUSED}


def test_the_tenant_records_the_methods_its_policy_allows(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock
) -> None:
    row = tenant_row(read(vendors, vendor, clock, GraphTenant()))

    assert row.methods is not None
    assert row.methods.value == ("Fido2", "MicrosoftAuthenticator", "Sms")
    assert row.methods.observed_at == clock.now()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (denied(), f"authentication methods policy refused: {REFUSED}"),
        (
            httpx.Response(200, json={"id": "authenticationMethodsPolicy"}),
            "authenticationMethodConfigurations missing from the authentication methods policy",
        ),
    ],
    ids=["refused", "malformed"],
)
def test_a_methods_policy_that_cannot_be_read_is_an_error_on_the_tenant(
    vendors: respx.MockRouter,
    vendor: VendorHttp,
    clock: FrozenClock,
    answer: httpx.Response,
    reason: str,
) -> None:
    reading = read(vendors, vendor, clock, GraphTenant(methods=answer))

    methods = tenant_row(reading).methods
    assert methods is not None
    assert methods.error == reason
    assert set(enforced(reading).values()) == {True, False}  # the users' facts are unaffected


# -- through a sync -----------------------------------------------------------------------------

M365 = "microsoft365"


@pytest.fixture
def connector(
    client: TestClient,
    ministry: Ministry,
    role_on: Callable[..., Principal],
    no_waiting: Naps,
) -> str:
    """A Graph connector feeding Paris, created by an officer there."""
    role_on(Role.OFFICER, ministry.paris)
    return create(client, graph_body(ministry.paris))


def test_a_sync_stores_whether_mfa_is_enforced_for_each_account(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant().mount(vendors)

    sync(client, connector)

    found = accounts(client, M365)
    ambassador = detail(client, found["ambassador@mfa.example"]["id"])
    clerk = detail(client, found["clerk@mfa.example"]["id"])
    assert (ambassador["mfa"]["mfa_enabled"], ambassador["mfa"]["mfa_enforced"]) == (True, True)
    assert clerk["mfa"]["mfa_enforced"] is False


def test_a_sync_without_the_policy_permission_records_the_reason_never_a_pass(
    client: TestClient, vendors: respx.MockRouter, connector: str
) -> None:
    GraphTenant(policies=denied()).mount(vendors)

    run = sync(client, connector)

    ambassador = detail(client, accounts(client, M365)["ambassador@mfa.example"]["id"])
    assert run["status"] == "partial"
    assert f"conditional access policies: {REFUSED}" in run["error"]
    assert ambassador["mfa"]["fact_status"] == "error"
    assert ambassador["mfa"]["mfa_enforced"] is not True
    assert "conditional access policies refused" in ambassador["mfa"]["error_reason"]
