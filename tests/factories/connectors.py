"""Builders for connectors: a Graph connector on a mission, through the service (secret sealed)."""

from __future__ import annotations

import itertools

from pydantic import SecretStr
from sqlmodel import Session

from secops.accounts.connectors import service as connector_service
from secops.accounts.connectors.models import Connector, ConnectorKind
from secops.accounts.connectors.schemas import ConnectorCreate
from secops.core.principal import system_principal
from secops.missions.models import Mission

_seq = itertools.count(1)
FACTORY_SECRET = "factory-client-secret"


def make_connector(
    session: Session,
    mission: Mission,
    *,
    tenant_id: str | None = None,
    secret: str = FACTORY_SECRET,
    name: str | None = None,
) -> Connector:
    """A Microsoft Graph connector feeding ``mission`` (a fresh tenant unless one is given)."""
    n = next(_seq)
    data = ConnectorCreate(
        kind=ConnectorKind.MICROSOFT_GRAPH,
        name=name or f"Tenant {n}",
        mission_id=mission.id,
        tenant_id=tenant_id or f"tenant-{n}.onmicrosoft.example",
        client_id="00000000-0000-4000-8000-00000000c11e",
        secret=SecretStr(secret),
    )
    return connector_service.create_connector(
        session, principal=system_principal("tests"), data=data
    )
