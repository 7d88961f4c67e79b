"""The demo ministry: missions across regions and users for every role, seeded once."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from sqlmodel import Session, select

from secops.accounts.io.demo import seed_demo_inventory
from secops.accounts.models import Account
from secops.auth import service as auth_service
from secops.auth.access import service as access_service
from secops.core.principal import Principal, Role, system_principal
from secops.core.runtime import Runtime
from secops.missions import service as missions_service
from secops.missions.models import Mission, MissionKind, Region
from secops.missions.schemas import MissionCreate
from secops.policy import service as policy_service
from secops.policy.models import RunTrigger

# code, name, kind, country, city, region, parent code
DEMO_MISSIONS: tuple[tuple[str, str, MissionKind, str, str, Region, str | None], ...] = (
    ("HQ", "Ministry headquarters", MissionKind.HQ, "MT", "Valletta", Region.EUROPE, None),
    ("EMB-PARIS", "Embassy in Paris", MissionKind.EMBASSY, "FR", "Paris", Region.EUROPE, "HQ"),
    ("EMB-BERLIN", "Embassy in Berlin", MissionKind.EMBASSY, "DE", "Berlin", Region.EUROPE, "HQ"),
    (
        "EMB-WASHINGTON",
        "Embassy in Washington",
        MissionKind.EMBASSY,
        "US",
        "Washington",
        Region.AMERICAS,
        "HQ",
    ),
    (
        "CG-NEWYORK",
        "Consulate General in New York",
        MissionKind.CONSULATE,
        "US",
        "New York",
        Region.AMERICAS,
        "EMB-WASHINGTON",
    ),
    (
        "EMB-BRASILIA",
        "Embassy in Brasília",
        MissionKind.EMBASSY,
        "BR",
        "Brasília",
        Region.AMERICAS,
        "HQ",
    ),
    (
        "EMB-NAIROBI",
        "Embassy in Nairobi",
        MissionKind.EMBASSY,
        "KE",
        "Nairobi",
        Region.AFRICA,
        "HQ",
    ),
    ("EMB-ABUJA", "Embassy in Abuja", MissionKind.EMBASSY, "NG", "Abuja", Region.AFRICA, "HQ"),
    ("EMB-CAIRO", "Embassy in Cairo", MissionKind.EMBASSY, "EG", "Cairo", Region.MIDDLE_EAST, "HQ"),
    (
        "EMB-RIYADH",
        "Embassy in Riyadh",
        MissionKind.EMBASSY,
        "SA",
        "Riyadh",
        Region.MIDDLE_EAST,
        "HQ",
    ),
    (
        "EMB-TOKYO",
        "Embassy in Tokyo",
        MissionKind.EMBASSY,
        "JP",
        "Tokyo",
        Region.ASIA_PACIFIC,
        "HQ",
    ),
    (
        "EMB-BEIJING",
        "Embassy in Beijing",
        MissionKind.EMBASSY,
        "CN",
        "Beijing",
        Region.ASIA_PACIFIC,
        "HQ",
    ),
    (
        "CG-SHANGHAI",
        "Consulate General in Shanghai",
        MissionKind.CONSULATE,
        "CN",
        "Shanghai",
        Region.ASIA_PACIFIC,
        "EMB-BEIJING",
    ),
    (
        "EMB-NEWDELHI",
        "Embassy in New Delhi",
        MissionKind.EMBASSY,
        "IN",
        "New Delhi",
        Region.ASIA_PACIFIC,
        "HQ",
    ),
    (
        "EMB-CANBERRA",
        "Embassy in Canberra",
        MissionKind.EMBASSY,
        "AU",
        "Canberra",
        Region.ASIA_PACIFIC,
        "HQ",
    ),
    (
        "PM-GENEVA",
        "Permanent Mission to the UN in Geneva",
        MissionKind.PERMANENT_MISSION,
        "CH",
        "Geneva",
        Region.MULTILATERAL,
        "HQ",
    ),
    (
        "PM-NEWYORK",
        "Permanent Mission to the UN in New York",
        MissionKind.PERMANENT_MISSION,
        "US",
        "New York",
        Region.MULTILATERAL,
        "HQ",
    ),
    (
        "PM-BRUSSELS",
        "Permanent Representation to the EU",
        MissionKind.PERMANENT_MISSION,
        "BE",
        "Brussels",
        Region.MULTILATERAL,
        "HQ",
    ),
)

# username, display name, role, mission code (None: whole ministry), include children
DEMO_USERS: tuple[tuple[str, str, Role, str | None, bool], ...] = (
    ("admin", "Amira Haddad (administrator)", Role.ADMIN, None, False),
    ("officer", "Tomas Varga (security officer, ministry)", Role.OFFICER, None, False),
    ("officer.paris", "Claire Dubois (security officer, Paris)", Role.OFFICER, "EMB-PARIS", False),
    ("responder", "Kwame Mensah (CERT duty officer)", Role.RESPONDER, None, False),
    ("manager", "Ingrid Larsen (director)", Role.MANAGER, None, False),
    (
        "manager.washington",
        "Daniel Ortiz (head of mission, Washington)",
        Role.MANAGER,
        "EMB-WASHINGTON",
        True,
    ),
    ("auditor", "Mei Chen (internal audit)", Role.AUDITOR, None, False),
)


@dataclass
class DemoUser:
    """A demo sign-in: shown to the newcomer, kept in the data directory (mode 0600)."""

    username: str
    role: str
    scope: str
    password: str
    totp_secret: str


@dataclass
class DemoSummary:
    """What the demo seeded, and how to sign in."""

    missions: int = 0
    accounts: int = 0
    # The first evaluation of the shipped baseline policy: "run N: F open findings".
    evaluation: str | None = None
    users: list[DemoUser] = field(default_factory=list)
    credentials_file: Path | None = None
    newly_seeded: bool = False

    def render(self, url: str) -> str:
        """The text printed for the newcomer."""
        lines = [
            "",
            f"secops demo ministry: {self.missions} missions, {self.accounts} accounts, "
            f"{len(self.users)} demo users" + ("" if self.newly_seeded else " (already seeded)"),
            f"  API       {url}/api/v1   (OpenAPI: {url}/openapi.json)",
            f"  Health    {url}/healthz  {url}/readyz",
            *([f"  Policy    {self.evaluation}"] if self.evaluation else []),
            "",
            "Sign in from another terminal (every user has TOTP; get the current code with",
            "`.venv/bin/secops demo-code USER`, or add the secret to an authenticator app):",
            f"  .venv/bin/secops login --url {url} --username officer",
            "  .venv/bin/secops missions list",
            "  .venv/bin/secops accounts list --mfa phone_email",
            "  .venv/bin/secops policy findings --severity critical",
            "  .venv/bin/secops policy scores",
            "",
            "Demo users (password, TOTP secret):",
        ]
        width = max((len(u.username) for u in self.users), default=8)
        for user in self.users:
            lines.append(
                f"  {user.username.ljust(width)}  {user.role:<9} {user.scope:<26} "
                f"{user.password}  {user.totp_secret}"
            )
        if self.credentials_file:
            lines.append(f"(kept in {self.credentials_file}, readable by you only)")
        lines.append("Press Ctrl+C to stop the server.")
        return "\n".join(lines)


def _seed_missions(session: Session, principal: Principal) -> dict[str, uuid.UUID]:
    codes: dict[str, uuid.UUID] = {}
    for code, name, kind, country, city, region, parent in DEMO_MISSIONS:
        mission = missions_service.create(
            session=session,
            principal=principal,
            data=MissionCreate(
                code=code,
                name=name,
                kind=kind,
                country=country,
                city=city,
                region=region,
                parent_id=codes[parent] if parent else None,
            ),
        )
        codes[code] = mission.id
    return codes


def _seed_users(
    session: Session, principal: Principal, codes: dict[str, uuid.UUID]
) -> list[DemoUser]:
    users: list[DemoUser] = []
    for username, display, role, mission_code, children in DEMO_USERS:
        # Digits only: a random word could collide with a mission's name, which the rules refuse.
        password = "-".join(f"{secrets.randbelow(10_000):04d}" for _ in range(5))
        user = auth_service.create_user(
            session,
            principal=principal,
            username=username,
            display_name=display,
            email=f"{username}@mfa.example",
            password=password,
        )
        secret = pyotp.random_base32(32)
        auth_service.enrol_totp_for_demo(session, user_id=user.id, secret=secret)
        access_service.grant_role(
            session,
            principal=principal,
            user_id=user.id,
            role=role,
            mission_id=codes[mission_code] if mission_code else None,
            include_children=children,
        )
        scope = (mission_code or "whole ministry") + (" + children" if children else "")
        users.append(DemoUser(username, role.value, scope, password, secret))
    return users


def _credentials_file(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "demo-users.txt"


def _write_credentials(path: Path, users: list[DemoUser]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{u.username}\t{u.role}\t{u.scope}\t{u.password}\t{u.totp_secret}" for u in users]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


def _read_credentials(path: Path) -> list[DemoUser]:
    if not path.exists():
        return []
    users = []
    for line in path.read_text().splitlines():
        username, role, scope, password, secret = line.split("\t")
        users.append(DemoUser(username, role, scope, password, secret))
    return users


def seed_demo(runtime: Runtime) -> DemoSummary:
    """Seed the demo ministry once; run again, it only reports what is there."""
    principal = system_principal("demo-seed")
    path = _credentials_file(runtime)
    with runtime.sessions.begin() as session:
        seeded = session.exec(select(Mission).where(Mission.code == "HQ")).first() is not None
        if seeded:
            return DemoSummary(
                missions=len(session.exec(select(Mission.id)).all()),
                accounts=len(session.exec(select(Account.id)).all()),
                users=_read_credentials(path),
                credentials_file=path if path.exists() else None,
            )
        codes = _seed_missions(session, principal)
        users = _seed_users(session, principal, codes)
        accounts = seed_demo_inventory(session, principal=principal, missions=codes)
    with runtime.sessions.begin() as session:
        run = policy_service.evaluate(session, principal=principal, trigger=RunTrigger.SCHEDULED)
        evaluation = (
            f"{run.policy_id} {run.policy_version}: run {run.seq} over {run.account_count} accounts"
        )
    _write_credentials(path, users)
    return DemoSummary(
        missions=len(codes),
        accounts=accounts,
        evaluation=evaluation,
        users=users,
        credentials_file=path,
        newly_seeded=True,
    )


def demo_user_secret(runtime: Runtime, username: str) -> str | None:
    """The demo TOTP secret of ``username`` (demo data directory only)."""
    for user in _read_credentials(_credentials_file(runtime)):
        if user.username == username:
            return user.totp_secret
    return None


__all__ = ["DEMO_MISSIONS", "DEMO_USERS", "DemoSummary", "demo_user_secret", "seed_demo"]
