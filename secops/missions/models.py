"""Tables for missions: the headquarters and the posts abroad, arranged as one tree."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from secops.core.db import UTCDateTime, new_id


class MissionKind(StrEnum):
    """What sort of post a mission is; exactly one is the headquarters."""

    HQ = "hq"
    EMBASSY = "embassy"
    CONSULATE = "consulate"
    PERMANENT_MISSION = "permanent_mission"
    OTHER = "other"


class Region(StrEnum):
    """The ministry's geographic desk for a mission, used to group reports.

    Geographic desks follow the usual foreign-ministry split; ``multilateral`` is for permanent
    missions and delegations to international organisations, whatever city they sit in. The
    headquarters takes the region of its own country.
    """

    AFRICA = "africa"
    AMERICAS = "americas"
    ASIA_PACIFIC = "asia_pacific"
    EUROPE = "europe"
    MIDDLE_EAST = "middle_east"
    MULTILATERAL = "multilateral"


class MissionStatus(StrEnum):
    """Whether the mission is open; closed missions keep their history and are read-only."""

    ACTIVE = "active"
    CLOSED = "closed"


class Mission(SQLModel, table=True):
    """A post of the ministry: headquarters, embassy, consulate or permanent mission."""

    __tablename__ = "mission"
    __table_args__ = (
        # The headquarters is the root of the tree; every other mission hangs under a parent.
        CheckConstraint(
            "(kind = 'hq' AND parent_id IS NULL) OR (kind <> 'hq' AND parent_id IS NOT NULL)",
            name="hq_is_the_only_root",
        ),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_its_own_parent"),
        # One headquarters per ministry, enforced by the database as well as by the service.
        Index(
            "uq_mission_single_hq",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'hq'"),
            postgresql_where=text("kind = 'hq'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: MissionKind = Field(sa_column=Column(String(20), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False, index=True))
    city: str = Field(sa_column=Column(String(100), nullable=False))
    region: Region = Field(sa_column=Column(String(20), nullable=False, index=True))
    parent_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("mission.id"), nullable=True, index=True),
    )
    status: MissionStatus = Field(
        default=MissionStatus.ACTIVE, sa_column=Column(String(10), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))

    @property
    def is_hq(self) -> bool:
        """True for the headquarters."""
        return self.kind == MissionKind.HQ

    @property
    def is_active(self) -> bool:
        """True until the mission is closed."""
        return self.status == MissionStatus.ACTIVE

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, in JSON form, for before/after diffs."""
        return {
            "code": self.code,
            "name": self.name,
            "kind": str(self.kind),
            "country": self.country,
            "city": self.city,
            "region": str(self.region),
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "status": str(self.status),
        }
