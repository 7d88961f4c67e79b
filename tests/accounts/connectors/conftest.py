"""Fixtures for connector tests: a vendor client whose sleeper records, and a test RSA key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from secops.accounts.connectors import http as vendor_http
from secops.core.clock import Clock, FrozenClock
from tests.accounts.connectors.payloads import DOMAIN


class Naps:
    """A sleeper that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def naps() -> Naps:
    """The waits the vendor client asked for."""
    return Naps()


@pytest.fixture
def vendor(naps: Naps, clock: FrozenClock) -> Iterator[vendor_http.VendorHttp]:
    """A vendor client on the test clock that never really sleeps."""
    with vendor_http.VendorHttp(sleeper=naps, clock=clock) as client:
        yield client


@pytest.fixture
def no_waiting(naps: Naps, monkeypatch: pytest.MonkeyPatch) -> Naps:
    """Services open vendor clients whose waits are recorded, not slept."""

    def factory(clock: Clock) -> vendor_http.VendorHttp:
        return vendor_http.VendorHttp(sleeper=naps, clock=clock)

    monkeypatch.setattr(vendor_http, "http_factory", factory)
    return naps


@pytest.fixture
def vendors() -> Iterator[respx.MockRouter]:
    """respx routes for the vendors; any request nobody mocked fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key for the whole run (generating one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def key_file(rsa_key: rsa.RSAPrivateKey) -> str:
    """A service-account key file as Google issues it, around the test key."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "ministry-secops",
            "private_key_id": "5c1e0c0ffee0ddba11",
            "private_key": pem,
            "client_email": "secops-reader@ministry-secops.iam.gserviceaccount.com",
            "client_id": "112233445566778899000",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "universe_domain": "googleapis.com",
            "x_note": f"workspace {DOMAIN}",
        }
    )
