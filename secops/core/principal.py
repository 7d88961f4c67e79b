"""Who is asking: roles, permissions and the missions each permission reaches."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What a grant lets a user do on its missions."""

    ADMIN = "admin"
    OFFICER = "officer"
    RESPONDER = "responder"
    MANAGER = "manager"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """One thing a route or service may require; the table below says which roles hold it."""

    MISSIONS_READ = "missions:read"
    MISSIONS_WRITE = "missions:write"
    USERS_READ = "users:read"
    USERS_ADMIN = "users:admin"
    AUDIT_READ = "audit:read"
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    ACCOUNTS_SECRETS_READ = "accounts:secrets:read"
    CONNECTORS_ADMIN = "connectors:admin"
    POLICY_READ = "policy:read"
    POLICY_RUN = "policy:run"
    WAIVERS_REQUEST = "waivers:request"
    WAIVERS_APPROVE = "waivers:approve"
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    PLAYBOOKS_RUN = "playbooks:run"
    REPORTS_READ = "reports:read"


_READ_ALL: Final = frozenset(p for p in Permission if p.value.endswith(":read")) - {
    Permission.ACCOUNTS_SECRETS_READ
}

ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OFFICER: frozenset(
        {
            Permission.MISSIONS_READ,
            Permission.ACCOUNTS_READ,
            Permission.ACCOUNTS_WRITE,
            Permission.ACCOUNTS_SECRETS_READ,
            Permission.CONNECTORS_ADMIN,
            Permission.POLICY_READ,
            Permission.POLICY_RUN,
            Permission.WAIVERS_REQUEST,
            Permission.WAIVERS_APPROVE,
            Permission.INCIDENTS_READ,
            Permission.INCIDENTS_WRITE,
            Permission.REPORTS_READ,
        }
    ),
    Role.RESPONDER: frozenset(
        {
            Permission.MISSIONS_READ,
            Permission.ACCOUNTS_READ,
            Permission.ACCOUNTS_SECRETS_READ,
            Permission.POLICY_READ,
            Permission.INCIDENTS_READ,
            Permission.INCIDENTS_WRITE,
            Permission.PLAYBOOKS_RUN,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.MISSIONS_READ,
            Permission.ACCOUNTS_READ,
            Permission.POLICY_READ,
            Permission.WAIVERS_APPROVE,
            Permission.INCIDENTS_READ,
            Permission.REPORTS_READ,
        }
    ),
    Role.AUDITOR: _READ_ALL,
}


class PrincipalKind(StrEnum):
    """How the caller authenticated."""

    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


class Everywhere:
    """The whole ministry: every mission, present and future."""

    _instance: Everywhere | None = None

    def __new__(cls) -> Everywhere:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EVERYWHERE"


EVERYWHERE: Final = Everywhere()
MissionSet = frozenset[uuid.UUID] | Everywhere


def union(a: MissionSet, b: MissionSet) -> MissionSet:
    """Missions reachable through either set."""
    if isinstance(a, Everywhere) or isinstance(b, Everywhere):
        return EVERYWHERE
    return a | b


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and, per role, the missions its grants reach (children expanded)."""

    kind: PrincipalKind
    id: uuid.UUID
    name: str
    roles: Mapping[Role, MissionSet] = field(default_factory=dict)
    session_id: uuid.UUID | None = None
    authenticated_at: datetime | None = None
    # An API key's own permission scope, intersected with its owner's roles; None for users.
    allowed: frozenset[Permission] | None = None

    def missions_with(self, permission: Permission) -> MissionSet:
        """Every mission on which this principal holds ``permission``."""
        if self.allowed is not None and permission not in self.allowed:
            return frozenset()
        reach: MissionSet = frozenset()
        for role, missions in self.roles.items():
            if permission in ROLE_PERMISSIONS[role]:
                reach = union(reach, missions)
        return reach

    def has(self, permission: Permission) -> bool:
        """True if the permission is held on at least one mission."""
        reach = self.missions_with(permission)
        return isinstance(reach, Everywhere) or bool(reach)

    def has_everywhere(self, permission: Permission) -> bool:
        """True if the permission is held ministry-wide."""
        return isinstance(self.missions_with(permission), Everywhere)

    def can(self, permission: Permission, mission_id: uuid.UUID | None) -> bool:
        """True if the permission is held on ``mission_id`` (None: a ministry-wide object)."""
        reach = self.missions_with(permission)
        if isinstance(reach, Everywhere):
            return True
        return mission_id is not None and mission_id in reach

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"{self.kind.value}:{self.name}"


SYSTEM_ID: Final = uuid.UUID(int=0)


def system_principal(name: str = "cli") -> Principal:
    """Server-local administration (demo seeding, migrations, key rotation) on the host itself."""
    return Principal(
        kind=PrincipalKind.SYSTEM,
        id=SYSTEM_ID,
        name=name,
        roles={Role.ADMIN: EVERYWHERE},
    )
