"""Connector rules: configure a tenant, test it, sync it, and list what each sync did.

Public interface (keyword-only after the session)::

    create_connector(session, *, principal, data: ConnectorCreate) -> Connector
    get_connector(session, *, principal, connector_id) -> Connector
    connector_read(connector) -> ConnectorRead
    list_connectors(session, *, principal, cursor=None, limit=None) -> ConnectorPage
    list_runs(session, *, principal, connector_id, cursor=None, limit=None) -> SyncRunPage
    test_connector(session, *, principal, connector_id) -> ConnectorCheck
    sync_connector(session, *, principal, connector_id) -> SyncRun

``test_connector`` and ``sync_connector`` commit once, on purpose, before talking to the vendor:
the vendor may take minutes, and on SQLite an open transaction holds the database's only write
lock. Everything written after that commit (the facts, the finished run, the audit event) is
still one transaction with the caller's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Final

from sqlmodel import Session

from secops.accounts.connectors import http as vendor_http
from secops.accounts.connectors import repository, sync
from secops.accounts.connectors.google_auth import KeyFileInvalid, ServiceAccountKey
from secops.accounts.connectors.models import Connector, ConnectorKind, SyncRun, SyncStatus
from secops.accounts.connectors.schemas import (
    ConnectorCheck,
    ConnectorCreate,
    ConnectorPage,
    ConnectorRead,
    SyncRunPage,
    SyncRunRead,
)
from secops.accounts.connectors.vendor import VendorConfig, endpoints, read_vendor, test_vendor
from secops.audit import service as audit_service
from secops.audit.models import Outcome
from secops.core.crypto import decrypt_field, encrypt_field
from secops.core.db import clock_of, new_id
from secops.core.errors import Conflict, Forbidden, ValidationFailed
from secops.core.logging import get_logger
from secops.core.principal import Permission, Principal
from secops.missions.scope import descendants

__all__ = [
    "connector_read",
    "create_connector",
    "get_connector",
    "list_connectors",
    "list_runs",
    "sync_connector",
    "test_connector",
]

log = get_logger("secops.connectors")
OBJECT_TYPE: Final = "connector"
STALE_RUN_AFTER: Final = timedelta(hours=1)
# What the read shape takes from the row: everything but the derived endpoints (no secret).
_STORED_FIELDS: Final = tuple(
    name for name in ConnectorRead.model_fields if name not in {"token_url", "api_base"}
)


def _secret_problem(message: str) -> ValidationFailed:
    return ValidationFailed(
        "The secret is not usable for this kind of connector (field: secret).",
        errors=[{"loc": ["body", "secret"], "msg": message, "type": "value_error"}],
    )


def _identity(data: ConnectorCreate, secret: str) -> tuple[str, str]:
    """The client id and the tenant key; a Google secret must be a usable key file."""
    if data.kind == ConnectorKind.MICROSOFT_GRAPH:
        return str(data.client_id), str(data.tenant_id).lower()
    try:
        key = ServiceAccountKey.from_json(secret)
    except KeyFileInvalid as exc:
        raise _secret_problem(str(exc)) from None
    if data.client_id is not None and data.client_id.lower() != key.client_email.lower():
        raise _secret_problem("client_id is not the key file's client_email")
    return key.client_email, str(data.admin_subject).rpartition("@")[2].lower()


def create_connector(session: Session, *, principal: Principal, data: ConnectorCreate) -> Connector:
    """Configure a tenant for a mission the caller administers connectors on."""
    repository.mission_for_connectors(session, principal, data.mission_id)
    secret = data.secret.get_secret_value()
    client_id, tenant_key = _identity(data, secret)
    if repository.tenant_taken(session, data.kind, tenant_key):
        raise Conflict("A connector already reads this tenant (field: tenant_id).")
    now = clock_of(session).now()
    connector_id = new_id()
    connector = Connector(
        id=connector_id,
        kind=data.kind,
        name=data.name,
        mission_id=data.mission_id,
        tenant_id=data.tenant_id,
        customer_id=data.customer_id,
        admin_subject=str(data.admin_subject).lower() if data.admin_subject else None,
        tenant_key=tenant_key,
        client_id=client_id,
        secret=encrypt_field(
            session, table="connector", column="secret", row_id=connector_id, plaintext=secret
        ),
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    session.add(connector)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="connector.create",
        object_type=OBJECT_TYPE,
        object_id=connector.id,
        mission_id=connector.mission_id,
        after=connector.snapshot(),
    )
    log.info("connector.created", connector_id=str(connector.id), kind=str(connector.kind))
    return connector


def get_connector(session: Session, *, principal: Principal, connector_id: uuid.UUID) -> Connector:
    """A connector on a mission where the caller administers connectors; 404 otherwise."""
    return repository.get(session, principal, connector_id)


def connector_read(connector: Connector) -> ConnectorRead:
    """The read shape, with the fixed vendor endpoints of its kind."""
    token_url, api_base = endpoints(connector.kind, connector.tenant_id)
    shown = {name: getattr(connector, name) for name in _STORED_FIELDS}
    return ConnectorRead.model_validate({**shown, "token_url": token_url, "api_base": api_base})


def list_connectors(
    session: Session,
    *,
    principal: Principal,
    cursor: str | None = None,
    limit: int | None = None,
) -> ConnectorPage:
    """The connectors the caller administers, by name."""
    rows, next_cursor = repository.page(session, principal, cursor=cursor, limit=limit)
    return ConnectorPage(items=[connector_read(c) for c in rows], next_cursor=next_cursor)


def list_runs(
    session: Session,
    *,
    principal: Principal,
    connector_id: uuid.UUID,
    cursor: str | None = None,
    limit: int | None = None,
) -> SyncRunPage:
    """A connector's sync runs, newest first."""
    connector = repository.get(session, principal, connector_id)
    rows, next_cursor = repository.runs_page(
        session, principal, connector.id, cursor=cursor, limit=limit
    )
    return SyncRunPage(items=[SyncRunRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def _config(session: Session, connector: Connector) -> VendorConfig:
    secret = decrypt_field(
        session, table="connector", column="secret", row_id=connector.id, blob=connector.secret
    )
    return VendorConfig(
        kind=ConnectorKind(connector.kind),
        tenant_id=connector.tenant_id,
        client_id=connector.client_id,
        customer_id=connector.customer_id,
        admin_subject=connector.admin_subject,
        secret=secret,
    )


def _release(session: Session) -> None:
    # Commit what is done so far: the vendor is read outside any database transaction.
    session.commit()


def test_connector(
    session: Session, *, principal: Principal, connector_id: uuid.UUID
) -> ConnectorCheck:
    """Authenticate and read one page; says ok or gives the vendor's error code."""
    connector = repository.get(session, principal, connector_id)
    config = _config(session, connector)
    clock = clock_of(session)
    _release(session)
    error = test_vendor(config, vendor_http.http_factory(clock))
    check = ConnectorCheck(
        ok=error is None,
        code=error.code if error else None,
        http_status=error.status if error else None,
        checked_at=clock.now(),
    )
    audit_service.record(
        session,
        principal=principal,
        action="connector.test",
        object_type=OBJECT_TYPE,
        object_id=connector.id,
        mission_id=connector.mission_id,
        outcome=Outcome.SUCCESS if check.ok else Outcome.FAILURE,
        details={"code": check.code, "http_status": check.http_status},
    )
    return check


def sync_connector(session: Session, *, principal: Principal, connector_id: uuid.UUID) -> SyncRun:
    """Read the tenant now and write what changed; returns the finished run."""
    connector = repository.get(session, principal, connector_id, for_update=True)
    if not principal.can(Permission.ACCOUNTS_WRITE, connector.mission_id):
        raise Forbidden("A sync writes accounts: your role must allow accounts:write here.")
    run_id = _start_run(session, principal, connector)
    config = _config(session, connector)
    target = sync.Target(
        kind=ConnectorKind(connector.kind),
        mission_id=connector.mission_id,
        reach=descendants(session, connector.mission_id),
    )
    clock = clock_of(session)
    _release(session)
    reading, error = read_vendor(config, vendor_http.http_factory(clock), clock.now())
    # Read again: the caller's grants are checked against the state after the vendor answered.
    connector = repository.get(session, principal, connector_id, for_update=True)
    run = repository.run_by_id(session, run_id)
    if reading is None:
        counts, status = sync.SyncCounts(), SyncStatus.FAILED
        failures = {"sign-in": error or "unknown_error"}
    else:
        counts = sync.apply(session, principal=principal, target=target, reading=reading)
        failures = reading.failures
        status = SyncStatus.PARTIAL if failures or counts.incomplete else SyncStatus.OK
    _finish(session, principal, connector, run, status, counts, failures)
    return run


def _start_run(session: Session, principal: Principal, connector: Connector) -> uuid.UUID:
    now = clock_of(session).now()
    for running in repository.running_runs(session, connector.id):
        if running.started_at > now - STALE_RUN_AFTER:
            raise Conflict("A sync of this connector is already running; wait for it to end.")
        running.status, running.finished_at = SyncStatus.FAILED, now
        running.error = "abandoned: the sync never finished"
    run = SyncRun(
        connector_id=connector.id,
        mission_id=connector.mission_id,
        started_by=principal.id,
        started_at=now,
    )
    session.add(run)
    session.flush()
    return run.id


def _finish(
    session: Session,
    principal: Principal,
    connector: Connector,
    run: SyncRun,
    status: SyncStatus,
    counts: sync.SyncCounts,
    failures: dict[str, str],
) -> None:
    now = clock_of(session).now()
    run.status, run.finished_at, run.counts = status, now, counts.as_dict()
    run.error = "; ".join(f"{k}: {v}" for k, v in sorted(failures.items()))[:1000] or None
    connector.last_sync_at, connector.last_sync_status = now, status
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="connector.sync",
        object_type=OBJECT_TYPE,
        object_id=connector.id,
        mission_id=connector.mission_id,
        outcome=Outcome.FAILURE if status == SyncStatus.FAILED else Outcome.SUCCESS,
        details={
            "run_id": str(run.id),
            "status": str(status),
            "counts": run.counts,
            "errors": dict(sorted(failures.items())),
        },
    )
    log.info(
        "connector.synced",
        connector_id=str(connector.id),
        run_id=str(run.id),
        status=str(status),
        **run.counts,
    )
