"""HTTP routes for connectors: thin wrappers over ``connectors.service``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from secops.accounts.connectors import service
from secops.accounts.connectors.schemas import (
    ConnectorCheck,
    ConnectorCreate,
    ConnectorPage,
    ConnectorRead,
    PageQuery,
    SyncRunPage,
    SyncRunRead,
)
from secops.auth.deps import CanAdminConnectors
from secops.core.db import DbSession
from secops.core.errors import (
    BadRequest,
    Conflict,
    DecryptionFailed,
    NotFound,
    problems,
)
from secops.core.etag import etag_for

router = APIRouter(prefix="/connectors", tags=["connectors"])


@router.get("", responses=problems(BadRequest))
def list_connectors(
    query: Annotated[PageQuery, Query()], session: DbSession, principal: CanAdminConnectors
) -> ConnectorPage:
    """Connectors on the missions where you administer connectors, by name."""
    return service.list_connectors(
        session, principal=principal, cursor=query.cursor, limit=query.limit
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(NotFound, Conflict))
def create_connector(
    body: ConnectorCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CanAdminConnectors,
) -> ConnectorRead:
    """Configure a Microsoft 365 tenant or Google Workspace; the secret is never returned."""
    connector = service.create_connector(session, principal=principal, data=body)
    response.headers["Location"] = request.url_for("get_connector", connector_id=connector.id).path
    response.headers["ETag"] = etag_for(connector.version)
    return service.connector_read(connector)


@router.get("/{connector_id}", responses=problems(NotFound))
def get_connector(
    connector_id: uuid.UUID, response: Response, session: DbSession, principal: CanAdminConnectors
) -> ConnectorRead:
    """One connector, with its last sync status."""
    connector = service.get_connector(session, principal=principal, connector_id=connector_id)
    response.headers["ETag"] = etag_for(connector.version)
    return service.connector_read(connector)


@router.post("/{connector_id}/test", responses=problems(NotFound, DecryptionFailed))
def test_connector(
    connector_id: uuid.UUID, session: DbSession, principal: CanAdminConnectors
) -> ConnectorCheck:
    """Sign in to the vendor and read one page: ok, or the vendor's error code."""
    return service.test_connector(session, principal=principal, connector_id=connector_id)


@router.post(
    "/{connector_id}/sync",
    status_code=status.HTTP_201_CREATED,
    responses=problems(NotFound, Conflict, DecryptionFailed),
)
def sync_connector(
    connector_id: uuid.UUID, session: DbSession, principal: CanAdminConnectors
) -> SyncRunRead:
    """Sync now; the run says ok, partial (some facts are errors) or failed, and what changed."""
    run = service.sync_connector(session, principal=principal, connector_id=connector_id)
    return SyncRunRead.model_validate(run)


@router.get("/{connector_id}/runs", responses=problems(NotFound, BadRequest))
def list_runs(
    connector_id: uuid.UUID,
    query: Annotated[PageQuery, Query()],
    session: DbSession,
    principal: CanAdminConnectors,
) -> SyncRunPage:
    """The connector's syncs, newest first."""
    return service.list_runs(
        session,
        principal=principal,
        connector_id=connector_id,
        cursor=query.cursor,
        limit=query.limit,
    )
