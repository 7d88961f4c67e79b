"""The vendor HTTP client: allow-listed hosts, no redirects, size caps, bounded waits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from secops.accounts.connectors.http import (
    HostNotAllowed,
    HttpLimits,
    MalformedResponse,
    RedirectRefused,
    ResponseTooLarge,
    VendorHttp,
    VendorRefused,
    VendorUnavailable,
    check_url,
    vendor_code,
)
from secops.core.clock import FrozenClock
from tests.accounts.connectors.conftest import Naps
from tests.accounts.connectors.payloads import google_error, graph_error

USERS = "https://graph.microsoft.com/v1.0/users"
DIRECTORY = "https://admin.googleapis.com/admin/directory/v1/users"
ALLOWED = frozenset({"graph.microsoft.com", "admin.googleapis.com"})


@pytest.mark.parametrize(
    "url",
    [
        "http://graph.microsoft.com/v1.0/users",
        "https://graph.microsoft.com:8443/v1.0/users",
        "https://user:pw@graph.microsoft.com/v1.0/users",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1/v1.0/users",
        "https://localhost/v1.0/users",
        "https://graph.microsoft.com.evil.example/v1.0/users",
        "https://graph.microsoft.com./v1.0/users",
        "file:///etc/passwd",
        "not a url at all",
    ],
)
def test_urls_off_the_allow_list_are_refused_before_sending(url: str) -> None:
    with pytest.raises(HostNotAllowed):
        check_url(url, ALLOWED)


def test_allow_listed_https_urls_pass() -> None:
    assert (
        check_url("https://GRAPH.microsoft.com/v1.0/users", ALLOWED).host == "graph.microsoft.com"
    )


def test_a_redirect_is_not_followed(vendors: respx.MockRouter, vendor: VendorHttp) -> None:
    elsewhere = vendors.get("https://graph.microsoft.com/v1.0/elsewhere").respond(200, json={})
    vendors.get(USERS).respond(
        302, headers={"Location": "https://graph.microsoft.com/v1.0/elsewhere"}
    )

    with pytest.raises(RedirectRefused) as refused:
        vendor.get_json(USERS)

    assert refused.value.status == 302
    assert not elsewhere.called


def test_a_next_link_to_another_host_is_refused(
    vendors: respx.MockRouter, vendor: VendorHttp
) -> None:
    evil = vendors.get(url__startswith="https://evil.example/").respond(200, json={"value": []})
    vendors.get(USERS).respond(
        200,
        json={
            "value": [{"id": "1"}],
            "@odata.nextLink": "https://evil.example/v1.0/users?$skiptoken=x",
        },
    )

    pages = vendor.graph_pages(USERS, headers={})
    assert next(pages) == [{"id": "1"}]
    with pytest.raises(HostNotAllowed):
        next(pages)
    assert not evil.called


def test_a_next_link_that_points_back_to_itself_stops(
    vendors: respx.MockRouter, vendor: VendorHttp
) -> None:
    vendors.get(USERS).respond(200, json={"value": [], "@odata.nextLink": USERS})

    with pytest.raises(MalformedResponse):
        list(vendor.graph_pages(USERS, headers={}))


def test_a_declared_oversized_body_is_refused(
    vendors: respx.MockRouter, naps: Naps, clock: FrozenClock
) -> None:
    vendors.get(USERS).respond(
        200, content=b"x" * 4096, headers={"Content-Type": "application/json"}
    )

    small = VendorHttp(limits=HttpLimits(max_response_bytes=1024), sleeper=naps, clock=clock)
    with small, pytest.raises(ResponseTooLarge):
        small.get_json(USERS)


def test_a_streamed_body_is_cut_at_the_cap(
    vendors: respx.MockRouter, naps: Naps, clock: FrozenClock
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b" " * 512

    vendors.get(USERS).mock(side_effect=lambda _request: httpx.Response(200, content=chunks()))

    small = VendorHttp(limits=HttpLimits(max_response_bytes=2048), sleeper=naps, clock=clock)
    with small, pytest.raises(ResponseTooLarge):
        small.get_json(USERS)

    assert len(sent) < 10, "reading stopped soon after the cap"


def test_429_with_retry_after_waits_then_succeeds(
    vendors: respx.MockRouter, vendor: VendorHttp, naps: Naps
) -> None:
    route = vendors.get(USERS)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}, json=graph_error("TooManyRequests")),
        httpx.Response(200, json={"value": [{"id": "1"}]}),
    ]

    assert vendor.get_json(USERS) == {"value": [{"id": "1"}]}
    assert naps.waits == [7.0]
    assert route.call_count == 2


def test_retry_after_as_an_http_date_is_honoured(
    vendors: respx.MockRouter, vendor: VendorHttp, naps: Naps, clock: FrozenClock
) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)
    vendors.get(USERS).side_effect = [
        httpx.Response(503, headers={"Retry-After": when}),
        httpx.Response(200, json={"value": []}),
    ]

    vendor.get_json(USERS)

    assert naps.waits == [30.0]


def test_throttling_without_end_gives_up_after_the_retry_budget(
    vendors: respx.MockRouter, vendor: VendorHttp, naps: Naps
) -> None:
    route = vendors.get(USERS).respond(
        429, headers={"Retry-After": "2"}, json=graph_error("TooManyRequests")
    )

    with pytest.raises(VendorUnavailable) as gave_up:
        vendor.get_json(USERS)

    assert gave_up.value.code == "TooManyRequests"
    assert route.call_count == 4
    assert naps.waits == [2.0, 2.0, 2.0]


def test_a_retry_after_beyond_the_limit_is_not_slept_through(
    vendors: respx.MockRouter, vendor: VendorHttp, naps: Naps
) -> None:
    vendors.get(USERS).respond(429, headers={"Retry-After": "86400"})

    with pytest.raises(VendorUnavailable) as gave_up:
        vendor.get_json(USERS)

    assert gave_up.value.code == "throttled_too_long"
    assert naps.waits == []


def test_503_without_retry_after_backs_off_exponentially(
    vendors: respx.MockRouter, vendor: VendorHttp, naps: Naps
) -> None:
    vendors.get(USERS).side_effect = [
        httpx.Response(503),
        httpx.Response(503),
        httpx.Response(200, json={}),
    ]

    vendor.get_json(USERS)

    assert naps.waits == [1.0, 2.0]


def test_a_403_is_a_refusal_carrying_the_vendor_code(
    vendors: respx.MockRouter, vendor: VendorHttp
) -> None:
    vendors.get(USERS).respond(403, json=graph_error("Authorization_RequestDenied"))

    with pytest.raises(VendorRefused) as refused:
        vendor.get_json(USERS)

    assert refused.value.is_permission_error
    assert refused.value.reason == "Authorization_RequestDenied (HTTP 403)"
    assert "Insufficient privileges" not in str(refused.value)


def test_timeouts_and_network_errors_are_unavailable(
    vendors: respx.MockRouter, vendor: VendorHttp
) -> None:
    vendors.get(USERS).mock(side_effect=httpx.ConnectTimeout("slow"))
    vendors.get(DIRECTORY).mock(side_effect=httpx.ConnectError("down"))

    with pytest.raises(VendorUnavailable, match="timeout"):
        vendor.get_json(USERS)
    with pytest.raises(VendorUnavailable, match="network_error"):
        vendor.get_json(DIRECTORY)


def test_a_body_that_is_not_json_is_malformed(
    vendors: respx.MockRouter, vendor: VendorHttp
) -> None:
    vendors.get(USERS).respond(200, content=b"<html>proxy login</html>")

    with pytest.raises(MalformedResponse):
        vendor.get_json(USERS)


def test_google_pages_follow_next_page_token(vendors: respx.MockRouter, vendor: VendorHttp) -> None:
    route = vendors.get(url__startswith=DIRECTORY)
    route.side_effect = [
        httpx.Response(200, json={"users": [{"id": "1"}], "nextPageToken": "p2"}),
        httpx.Response(200, json={"users": [{"id": "2"}]}),
    ]

    pages = list(
        vendor.google_pages(
            DIRECTORY, field="users", params={"customer": "my_customer"}, headers={}
        )
    )

    assert [p["users"][0]["id"] for p in pages] == ["1", "2"]
    assert route.calls[1].request.url.params["pageToken"] == "p2"
    assert route.calls[1].request.url.params["customer"] == "my_customer"


def test_the_client_never_follows_redirects_and_verifies_tls() -> None:
    with VendorHttp() as client:
        inner = client._client
        assert inner.follow_redirects is False
        assert inner.timeout.read == 30.0
        assert inner.timeout.connect == 10.0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (graph_error("Authorization_RequestDenied"), "Authorization_RequestDenied"),
        (google_error(403, "PERMISSION_DENIED", "forbidden"), "PERMISSION_DENIED"),
        (
            {"error": {"code": 403, "errors": [{"reason": "insufficientPermissions"}]}},
            "insufficientPermissions",
        ),
        (
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret",
            },
            "invalid_client",
        ),
        ({"error": {"code": "Bad code with <script> and spaces"}}, "Badcodewithscriptandspaces"),
        (None, "http_500"),
        ([1, 2], "http_500"),
    ],
)
def test_vendor_codes_are_read_from_each_error_shape(body: object, code: str) -> None:
    assert VendorRefused(vendor_code(body, 500), status=500).code == code
