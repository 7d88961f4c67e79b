"""One entry point per action over both vendors: read a tenant, or test that it lets us in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from secops.accounts.connectors import google, graph
from secops.accounts.connectors.google_auth import TOKEN_URL as GOOGLE_TOKEN_URL
from secops.accounts.connectors.google_auth import KeyFileInvalid, ServiceAccountKey
from secops.accounts.connectors.http import VendorError, VendorHttp
from secops.accounts.connectors.models import ConnectorKind
from secops.accounts.connectors.readings import TenantReading
from secops.core.logging import get_logger

log = get_logger("secops.connectors")


@dataclass(frozen=True)
class VendorConfig:
    """A connector's settings with its decrypted secret, held only for one call."""

    kind: ConnectorKind
    tenant_id: str | None
    client_id: str
    customer_id: str | None
    admin_subject: str | None
    secret: str = field(repr=False)

    def graph_credentials(self) -> graph.GraphCredentials:
        """The client-credentials triple (Graph connectors)."""
        return graph.GraphCredentials(str(self.tenant_id), self.client_id, self.secret)

    def google_key(self) -> ServiceAccountKey:
        """The service-account key (Google connectors); VendorError if it no longer parses."""
        try:
            return ServiceAccountKey.from_json(self.secret)
        except KeyFileInvalid:
            raise VendorError("key_file_invalid") from None


def endpoints(kind: ConnectorKind, tenant_id: str | None) -> tuple[str, str]:
    """The fixed token URL and API base of a connector kind."""
    if kind == ConnectorKind.MICROSOFT_GRAPH:
        return graph.token_url(str(tenant_id)), graph.GRAPH
    return GOOGLE_TOKEN_URL, google.ADMIN


def read_vendor(
    config: VendorConfig, http: VendorHttp, now: datetime
) -> tuple[TenantReading | None, str | None]:
    """Everything the tenant shows, or None and the reason nothing could be read."""
    try:
        with http:
            if config.kind == ConnectorKind.MICROSOFT_GRAPH:
                return graph.read_tenant(http, config.graph_credentials(), now), None
            return (
                google.read_tenant(
                    http,
                    config.google_key(),
                    subject=str(config.admin_subject),
                    customer=str(config.customer_id),
                    now=now,
                ),
                None,
            )
    except VendorError as exc:
        log.warning(
            "connector.read_failed", kind=str(config.kind), code=exc.code, status=exc.status
        )
        return None, exc.reason


def test_vendor(config: VendorConfig, http: VendorHttp) -> VendorError | None:
    """Authenticate and read one page; the vendor's refusal, or None when it let us in."""
    try:
        with http:
            if config.kind == ConnectorKind.MICROSOFT_GRAPH:
                graph.probe(http, config.graph_credentials())
            else:
                google.probe(
                    http,
                    config.google_key(),
                    str(config.admin_subject),
                    str(config.customer_id),
                )
    except VendorError as exc:
        return exc
    return None
