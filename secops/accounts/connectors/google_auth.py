"""Google service-account tokens: an RS256 JWT assertion with domain-wide delegation.

The stored secret is the service account's key file (JSON). Its ``private_key`` signs a JWT
whose ``sub`` is the Workspace admin the service account acts for; Google's token endpoint
trades it for an access token (RFC 7523). The endpoint is fixed: the key file's ``token_uri``
is not followed.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, StrictStr, ValidationError

from secops.accounts.connectors.http import GOOGLE_OAUTH_HOST, VendorError, VendorHttp
from secops.accounts.connectors.readings import VendorModel, parse_row

TOKEN_URL: Final = f"https://{GOOGLE_OAUTH_HOST}/token"
GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES: Final = (
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.security",
    "https://www.googleapis.com/auth/admin.reports.usage.readonly",
)
ASSERTION_LIFETIME_SECONDS: Final = 3600
MIN_RSA_BITS: Final = 2048


class KeyFileInvalid(ValueError):
    """The secret is not a usable service-account key file (the message names no content)."""


class _KeyFile(VendorModel):
    type: StrictStr
    client_email: StrictStr = Field(min_length=3, max_length=320)
    private_key: StrictStr = Field(min_length=1)
    private_key_id: StrictStr | None = Field(default=None, max_length=100)


class ServiceAccountKey:
    """A parsed service-account key: the e-mail it signs as and its RSA private key."""

    def __init__(self, client_email: str, key: rsa.RSAPrivateKey, key_id: str | None) -> None:
        self.client_email = client_email
        self.key_id = key_id
        self._key = key

    def __repr__(self) -> str:
        return f"ServiceAccountKey({self.client_email!r})"

    @classmethod
    def from_json(cls, text: str) -> ServiceAccountKey:
        """Parse a key file; KeyFileInvalid with a content-free reason when it is not one."""
        try:
            data = _KeyFile.model_validate(json.loads(text))
        except (ValueError, ValidationError):
            raise KeyFileInvalid("not a service-account key file (JSON)") from None
        if data.type != "service_account" or "@" not in data.client_email:
            raise KeyFileInvalid("not a service-account key file (type, client_email)")
        try:
            key = serialization.load_pem_private_key(data.private_key.encode(), password=None)
        except (ValueError, TypeError):
            raise KeyFileInvalid("the key file's private_key is not a PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
            raise KeyFileInvalid("the key file's private_key is not an RSA key of 2048+ bits")
        return cls(data.client_email, key, data.private_key_id)

    def assertion(self, *, subject: str, scopes: tuple[str, ...], now: datetime) -> str:
        """A signed JWT asking for ``scopes`` on behalf of ``subject``."""
        issued = int(now.timestamp())
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
        if self.key_id:
            header["kid"] = self.key_id
        claims = {
            "iss": self.client_email,
            "sub": subject,
            "scope": " ".join(scopes),
            "aud": TOKEN_URL,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_SECONDS,
        }
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


class _TokenResponse(VendorModel):
    access_token: StrictStr = Field(min_length=1)


def acquire_token(http: VendorHttp, key: ServiceAccountKey, *, subject: str, now: datetime) -> str:
    """An access token for ``subject`` through domain-wide delegation; VendorError if refused."""
    assertion = key.assertion(subject=subject, scopes=SCOPES, now=now)
    body = http.post_form(TOKEN_URL, data={"grant_type": GRANT_TYPE, "assertion": assertion})
    parsed = parse_row(_TokenResponse, body)
    if parsed is None:
        raise VendorError("token_response_invalid")
    return parsed.row.access_token
