"""Tables for connectors: a configured tenant per mission, and the record of each sync.

A connector's secret (a Graph client secret, or a Google service-account key file) is stored
only encrypted, bound to its row. The vendor endpoints are fixed per kind in code and never
read from a user; ``tenant_key`` names the tenant so two connectors never feed the same one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy import UniqueConstraint as Unique
from sqlmodel import Field, SQLModel

from secops.core.crypto import register_encrypted_column
from secops.core.db import UTCDateTime, new_id


class ConnectorKind(StrEnum):
    """Which vendor API a connector reads."""

    MICROSOFT_GRAPH = "microsoft_graph"
    GOOGLE_WORKSPACE = "google_workspace"

    @property
    def source(self) -> str:
        """The provenance its facts carry: ``api:<kind>``."""
        return f"api:{self.value}"


class SyncStatus(StrEnum):
    """How a sync ended: every read worked, some facts are errors, or nothing could be read."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class Connector(SQLModel, table=True):
    """A Microsoft 365 tenant or Google Workspace whose accounts feed one mission's inventory."""

    __tablename__ = "connector"
    __table_args__ = (Unique("kind", "tenant_key", name="uq_connector_kind_tenant_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: ConnectorKind = Field(sa_column=Column(String(32), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # New accounts land here; existing ones are updated only within this mission's subtree.
    mission_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("mission.id"), nullable=False, index=True)
    )
    # Graph: the directory (tenant) id or its domain.
    tenant_id: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    # Google: the customer id (or ``my_customer``) and the admin the service account acts for.
    customer_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    admin_subject: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    # The tenant, lower-cased: Graph tenant id, or the Workspace domain of the admin subject.
    tenant_key: str = Field(sa_column=Column(String(255), nullable=False))
    # Graph: the application (client) id. Google: the service account's e-mail.
    client_id: str = Field(sa_column=Column(String(320), nullable=False))
    # encrypt_field(table="connector", column="secret", row_id=id); never returned.
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_by: uuid.UUID = Field(nullable=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_sync_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_sync_status: SyncStatus | None = Field(
        default=None, sa_column=Column(String(16), nullable=True)
    )
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form (the secret never appears)."""
        return {
            "kind": str(self.kind),
            "name": self.name,
            "mission_id": str(self.mission_id),
            "tenant_id": self.tenant_id,
            "customer_id": self.customer_id,
            "admin_subject": self.admin_subject,
            "client_id": self.client_id,
        }


register_encrypted_column("connector", "secret")


class SyncRun(SQLModel, table=True):
    """One sync of a connector: when, how it ended, what changed, and why it failed if it did."""

    __tablename__ = "sync_run"
    __table_args__ = (Index("ix_sync_run_connector_started", "connector_id", "started_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    connector_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("connector.id", ondelete="CASCADE"), nullable=False)
    )
    # The connector's mission, copied so runs are scoped like everything else.
    mission_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("mission.id"), nullable=False, index=True)
    )
    started_by: uuid.UUID = Field(nullable=False)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    status: SyncStatus = Field(
        default=SyncStatus.RUNNING, sa_column=Column(String(16), nullable=False)
    )
    # accounts_created/updated/unchanged/skipped, facts_errored, rows_unreadable.
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Vendor error codes per read ("users: Authorization_RequestDenied (HTTP 403)"); no secrets.
    error: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
