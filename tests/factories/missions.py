"""Builders for missions: one mission, or a small ministry (HQ, embassies, a consulate)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from secops.core.db import clock_of
from secops.core.principal import MissionSet, Principal, PrincipalKind, Role
from secops.missions.models import Mission, MissionKind, MissionStatus, Region

_seq = itertools.count(1)


def _hq(session: Session) -> Mission:
    existing = session.exec(select(Mission).where(Mission.kind == MissionKind.HQ)).one_or_none()
    return existing or make_mission(session, "HQ", kind=MissionKind.HQ, name="Headquarters")


def make_mission(
    session: Session,
    code: str | None = None,
    *,
    parent: Mission | None = None,
    kind: MissionKind | None = None,
    name: str | None = None,
    country: str = "FR",
    city: str = "Paris",
    region: Region = Region.EUROPE,
    status: MissionStatus = MissionStatus.ACTIVE,
) -> Mission:
    """A mission row written directly (no audit). Without a parent: the HQ for ``kind=HQ``,
    else an embassy under the HQ (made on first use)."""
    code = code or f"M{next(_seq):04d}"
    kind = kind or MissionKind.EMBASSY
    if kind != MissionKind.HQ and parent is None:
        parent = _hq(session)
    now = clock_of(session).now()
    mission = Mission(
        code=code,
        name=name or f"Mission {code}",
        kind=kind,
        country=country,
        city=city,
        region=region,
        parent_id=parent.id if parent else None,
        status=status,
        closed_at=now if status == MissionStatus.CLOSED else None,
        created_at=now,
        updated_at=now,
    )
    session.add(mission)
    session.flush()
    return mission


@dataclass(frozen=True)
class Ministry:
    """A small ministry: HQ; embassies in Paris and Nairobi; a consulate under Paris; a mission
    to the UN in Geneva."""

    hq: Mission
    paris: Mission
    lyon: Mission
    nairobi: Mission
    geneva: Mission

    @property
    def all(self) -> list[Mission]:
        """Every mission, HQ first."""
        return [self.hq, self.paris, self.lyon, self.nairobi, self.geneva]

    @property
    def embassies(self) -> list[Mission]:
        """The posts abroad directly under the HQ."""
        return [self.paris, self.nairobi, self.geneva]


def make_ministry(session: Session) -> Ministry:
    """The standard test ministry (codes HQ, EMB-PARIS, CG-LYON, EMB-NAIROBI, PM-GENEVA-UN)."""
    hq = make_mission(
        session, "HQ", kind=MissionKind.HQ, name="Headquarters", country="BE", city="Brussels"
    )
    paris = make_mission(session, "EMB-PARIS", parent=hq, name="Embassy in Paris")
    lyon = make_mission(
        session,
        "CG-LYON",
        parent=paris,
        kind=MissionKind.CONSULATE,
        name="Consulate General in Lyon",
        city="Lyon",
    )
    nairobi = make_mission(
        session,
        "EMB-NAIROBI",
        parent=hq,
        name="Embassy in Nairobi",
        country="KE",
        city="Nairobi",
        region=Region.AFRICA,
    )
    geneva = make_mission(
        session,
        "PM-GENEVA-UN",
        parent=hq,
        kind=MissionKind.PERMANENT_MISSION,
        name="Permanent Mission to the UN in Geneva",
        country="CH",
        city="Geneva",
        region=Region.MULTILATERAL,
    )
    return Ministry(hq=hq, paris=paris, lyon=lyon, nairobi=nairobi, geneva=geneva)


def acting(roles: dict[Role, MissionSet], *, name: str = "tester") -> Principal:
    """A user principal holding ``roles`` (mission sets already expanded), for ``act_as``."""
    return Principal(kind=PrincipalKind.USER, id=uuid.uuid4(), name=name, roles=roles)
