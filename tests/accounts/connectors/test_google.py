"""Reading a Google Workspace: the signed JWT, Directory paging, tokens, the usage report."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from secops.accounts.connectors import google
from secops.accounts.connectors.google_auth import KeyFileInvalid, ServiceAccountKey
from secops.accounts.connectors.http import VendorHttp, VendorRefused
from secops.accounts.connectors.readings import AccountReading, TenantReading
from secops.core.clock import FrozenClock
from tests.accounts.connectors import payloads as p
from tests.accounts.connectors.google_workspace import REPORT_DAY, Workspace

REPORT_EVIDENCE = datetime(2026, 1, 12, tzinfo=UTC)


def read(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str, ws: Workspace
) -> TenantReading:
    ws.mount(vendors)
    key = ServiceAccountKey.from_json(key_file)
    return google.read_tenant(
        vendor, key, subject=p.ADMIN_SUBJECT, customer=p.CUSTOMER, now=clock.now()
    )


def by_id(reading: TenantReading) -> dict[str, AccountReading]:
    return {a.external_id: a for a in reading.accounts}


def _decode(segment: str) -> dict[str, object]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def test_the_jwt_assertion_is_signed_for_the_admin_and_verifies(
    vendors: respx.MockRouter,
    vendor: VendorHttp,
    clock: FrozenClock,
    key_file: str,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    routes = Workspace().mount(vendors)
    key = ServiceAccountKey.from_json(key_file)

    google.read_tenant(vendor, key, subject=p.ADMIN_SUBJECT, customer=p.CUSTOMER, now=clock.now())

    form = parse_qs(routes["token"].calls[0].request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    header, claims, signature = form["assertion"][0].split(".")
    assert _decode(header) == {"alg": "RS256", "typ": "JWT", "kid": "5c1e0c0ffee0ddba11"}
    issued = int(clock.now().timestamp())
    assert _decode(claims) == {
        "iss": "secops-reader@ministry-secops.iam.gserviceaccount.com",
        "sub": p.ADMIN_SUBJECT,
        "aud": "https://oauth2.googleapis.com/token",
        "scope": " ".join(
            [
                "https://www.googleapis.com/auth/admin.directory.user.readonly",
                "https://www.googleapis.com/auth/admin.directory.user.security",
                "https://www.googleapis.com/auth/admin.reports.usage.readonly",
            ]
        ),
        "iat": issued,
        "exp": issued + 3600,
    }
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    rsa_key.public_key().verify(
        raw, f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"type": "authorized_user", "client_email": "a@b", "private_key": "x"}),
        json.dumps({"type": "service_account", "client_email": "a@b.example", "private_key": "x"}),
        json.dumps({"type": "service_account", "private_key": "x"}),
    ],
)
def test_a_secret_that_is_not_a_service_account_key_is_refused(text: str) -> None:
    with pytest.raises(KeyFileInvalid) as refused:
        ServiceAccountKey.from_json(text)

    assert "x" not in str(refused.value).split()


def test_both_directory_pages_are_read_with_the_customer(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    ws = Workspace()
    routes = ws.mount(vendors)
    key = ServiceAccountKey.from_json(key_file)

    reading = google.read_tenant(
        vendor, key, subject=p.ADMIN_SUBJECT, customer=p.CUSTOMER, now=clock.now()
    )

    assert set(by_id(reading)) == {p.G_AMBASSADOR, p.G_PRESS, p.G_ADMIN, f"workspace:{p.DOMAIN}"}
    first, second = (c.request.url.params for c in routes["users"].calls)
    assert first["customer"] == p.CUSTOMER
    assert "pageToken" not in first
    assert second["pageToken"] == "page-1"
    assert routes["report"].call_count == 2
    report_params = routes["report"].calls[0].request.url.params
    assert report_params["customerId"] == p.CUSTOMER
    assert "accounts:num_security_keys" in report_params["parameters"].split(",")


def test_directory_facts_and_the_recovery_details(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    accounts = by_id(read(vendors, vendor, clock, key_file, Workspace()))

    ambassador = accounts[p.G_AMBASSADOR]
    assert ambassador.mfa is not None
    assert ambassador.mfa.value is not None
    assert (ambassador.mfa.value.enabled, ambassador.mfa.value.enforced) == (True, False)
    assert ambassador.recovery is not None
    assert ambassador.recovery.value is not None
    assert ambassador.recovery.value.email == "ambassador.private@gmail.example"
    assert ambassador.recovery.value.phone == "+33612345678"
    press_recovery = accounts[p.G_PRESS].recovery
    assert press_recovery is not None
    assert press_recovery.ok
    assert press_recovery.value is not None
    assert (press_recovery.value.email, press_recovery.value.phone) == (None, None)


def test_the_report_pairs_become_methods_dated_by_the_report_day(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    accounts = by_id(read(vendors, vendor, clock, key_file, Workspace()))

    admin, ambassador, press = (accounts[i].methods for i in (p.G_ADMIN, p.G_AMBASSADOR, p.G_PRESS))
    assert admin is not None
    assert admin.value == ("security_key", "passkey")
    assert admin.observed_at == REPORT_EVIDENCE
    assert ambassador is not None
    assert ambassador.value == ("2sv_unspecified",), "2SV on, factor unknown: never strong"
    assert press is not None
    assert press.value == ()


def test_the_name_value_pairs_are_flattened_by_type() -> None:
    pairs = [
        {"name": "accounts:num_security_keys", "intValue": "3"},
        {"name": "accounts:num_passkeys_enrolled", "intValue": 0},
        {"name": "accounts:is_2sv_enrolled", "boolValue": False},
        {"name": "accounts:password_strength", "stringValue": "WEAK"},
        {"name": "accounts:last_login_time", "datetimeValue": "2026-01-11T09:00:00.000Z"},
        {"name": "accounts:num_authorized_apps", "intValue": "many"},
        {"intValue": "1"},
        "garbage",
    ]

    assert google.flatten(pairs) == {
        "accounts:num_security_keys": 3,
        "accounts:num_passkeys_enrolled": 0,
        "accounts:is_2sv_enrolled": False,
        "accounts:password_strength": "WEAK",
        "accounts:last_login_time": datetime(2026, 1, 11, 9, tzinfo=UTC),
    }


def test_the_report_date_is_three_days_back() -> None:
    assert google.report_day(datetime(2026, 1, 15, 0, 30, tzinfo=UTC)) == REPORT_DAY


def test_a_user_missing_from_the_report_or_its_key_count_is_an_error(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    day = REPORT_DAY.isoformat()
    ws = Workspace(report=[[p.usage_row(f"press@{p.DOMAIN}", day, is_2sv_enrolled=False)]])

    accounts = by_id(read(vendors, vendor, clock, key_file, ws))

    ambassador, press = accounts[p.G_AMBASSADOR].methods, accounts[p.G_PRESS].methods
    assert ambassador is not None
    assert ambassador.error == "user not in the usage report for 2026-01-12"
    assert press is not None
    assert press.error == "accounts:num_security_keys missing from the usage report for 2026-01-12"


def test_a_refused_report_leaves_the_directory_facts(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    refused = httpx.Response(403, json=p.google_error(403, "PERMISSION_DENIED", "forbidden"))

    reading = read(vendors, vendor, clock, key_file, Workspace(report=refused))

    assert reading.failures == {"usage report": "PERMISSION_DENIED (HTTP 403)"}
    ambassador = by_id(reading)[p.G_AMBASSADOR]
    assert ambassador.methods is not None
    assert ambassador.methods.error == "usage report refused: PERMISSION_DENIED (HTTP 403)"
    assert ambassador.mfa is not None
    assert ambassador.mfa.ok


def test_a_token_listing_refusal_stops_asking_and_marks_every_app_list(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    refused = httpx.Response(403, json=p.google_error(403, "PERMISSION_DENIED", "forbidden"))
    ws = Workspace(tokens={p.G_AMBASSADOR: refused})
    routes = ws.mount(vendors)
    key = ServiceAccountKey.from_json(key_file)

    reading = google.read_tenant(
        vendor, key, subject=p.ADMIN_SUBJECT, customer=p.CUSTOMER, now=clock.now()
    )

    assert reading.failures["user tokens"] == "PERMISSION_DENIED (HTTP 403)"
    for user_id in (p.G_AMBASSADOR, p.G_PRESS, p.G_ADMIN):
        apps = by_id(reading)[user_id].apps
        assert apps is not None
        assert not apps.ok
    assert not routes[f"tokens:{p.G_PRESS}"].called


def test_tokens_become_connected_apps(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    apps = by_id(read(vendors, vendor, clock, key_file, Workspace()))[p.G_AMBASSADOR].apps

    assert apps is not None
    assert apps.value is not None
    assert [(a.name, a.external_id) for a in apps.value] == [
        ("Hootsuite", "1234-sched.apps.googleusercontent.com")
    ]


def test_super_admins_become_the_workspaces_admins(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    workspace = by_id(read(vendors, vendor, clock, key_file, Workspace()))[f"workspace:{p.DOMAIN}"]

    assert workspace.handle == p.DOMAIN
    assert workspace.admins is not None
    assert workspace.admins.value is not None
    assert [(a.identity, a.role) for a in workspace.admins.value] == [
        (p.ADMIN_SUBJECT, "Super Admin")
    ]


def test_a_missing_2sv_flag_is_an_error_not_off(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    odd = p.directory_user(p.G_PRESS, f"press@{p.DOMAIN}")
    del odd["isEnrolledIn2Sv"]
    del odd["isAdmin"]
    ws = Workspace(users=[[odd]])

    accounts = by_id(read(vendors, vendor, clock, key_file, ws))

    press_mfa = accounts[p.G_PRESS].mfa
    assert press_mfa is not None
    assert press_mfa.error == "isEnrolledIn2Sv missing from directory"
    admins = accounts[f"workspace:{p.DOMAIN}"].admins
    assert admins is not None
    assert admins.error == "isAdmin missing from directory for 1 users"


def test_a_refused_directory_stops_the_read(
    vendors: respx.MockRouter, vendor: VendorHttp, clock: FrozenClock, key_file: str
) -> None:
    refused = httpx.Response(403, json=p.google_error(403, "PERMISSION_DENIED", "forbidden"))

    with pytest.raises(VendorRefused):
        read(vendors, vendor, clock, key_file, Workspace(users=refused))
