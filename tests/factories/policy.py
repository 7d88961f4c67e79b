"""Builders for policy-run tests: a policies directory, attested facts, and evaluations."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlmodel import Session

from secops.accounts import service as accounts_service
from secops.accounts.fact_schemas import AdminIn, AttestationIn, MfaStateIn, RecoveryIn
from secops.accounts.models import Account, AccountTier, FactStatus, Person, Platform
from secops.core.db import SessionFactory
from secops.core.principal import Principal, system_principal
from secops.policy import service as policy_service
from secops.policy.models import PolicyRun
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry

RUNS_DATA: Final = Path(__file__).resolve().parents[1] / "policy" / "runs_data"
RUNS_POLICY: Final = "runs-test"


def policies_dir(tmp_path: Path, *names: str) -> Path:
    """A fresh policies directory holding copies of ``tests/policy/runs_data/<name>``."""
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    for name in names or ("runs-policy.yaml",):
        shutil.copy(RUNS_DATA / name, directory / name)
    return directory


def attest(
    session: Session,
    account: Account,
    *,
    mfa: bool | None = None,
    methods: list[str] | None = None,
    recovery_email: str | None = None,
    admins: list[Person] | None = None,
) -> None:
    """Attest the given fact groups for ``account`` as the server, now."""
    facts: dict[str, Any] = {}
    if mfa is not None:
        facts["mfa"] = MfaStateIn(mfa_enabled=mfa, mfa_enforced=True)
    if methods is not None:
        facts["mfa_methods"] = methods
    if recovery_email is not None:
        facts["recovery"] = RecoveryIn(email=recovery_email)
    if admins is not None:
        facts["admins"] = [AdminIn(person_id=p.id) for p in admins]
    accounts_service.attest(
        session,
        principal=system_principal("tests"),
        account_id=account.id,
        facts=AttestationIn(**facts),
    )


def mfa_refused(session: Session, account: Account, reason: str) -> None:
    """Record that the MFA source refused for ``account`` (the group reads as error)."""
    accounts_service.set_mfa_state(
        session,
        principal=system_principal("tests"),
        account_id=account.id,
        state=None,
        source="api:microsoft_graph",
        fact_status=FactStatus.ERROR,
        error_reason=reason,
    )


def evaluate(
    sessions: SessionFactory,
    principal: Principal | None = None,
    *,
    mission_id: uuid.UUID | None = None,
    policy_id: str | None = None,
) -> PolicyRun:
    """Run ``secops.policy.service.evaluate`` in its own committed transaction."""
    with sessions.begin() as session:
        return policy_service.evaluate(
            session,
            principal=principal or system_principal("tests"),
            policy_id=policy_id,
            mission_id=mission_id,
        )


@dataclass(frozen=True)
class Inventory:
    """Four accounts across the test ministry, each failing the runs policy differently."""

    ada: Person
    ben: Person
    paris_x: Account  # compliant with every rule that applies
    paris_fb: Account  # MFA off, recovery on gmail.com, one admin, no owner
    lyon_x: Account  # the MFA source refused; nothing else recorded
    nairobi_x: Account  # a head of mission's account; no facts recorded at all


def make_inventory(session: Session, ministry: Ministry) -> Inventory:
    """The standard accounts of the policy-run tests (facts attested now)."""
    ada = make_person(session, ministry.paris, full_name="Ada Lovelace")
    ben = make_person(session, ministry.paris, full_name="Ben Jonson")
    cy = make_person(session, ministry.nairobi, full_name="Cy Twombly")
    paris_x = make_account(session, ministry.paris, handle="emb_paris", owner=ada)
    paris_x.in_public_registry = True
    paris_fb = make_account(session, ministry.paris, platform=Platform.FACEBOOK, handle="embparis")
    lyon_x = make_account(session, ministry.lyon, handle="cg_lyon", owner=ben)
    nairobi_x = make_account(
        session, ministry.nairobi, handle="amb_nairobi", tier=AccountTier.HEAD_OF_MISSION, owner=cy
    )
    session.flush()
    attest(session, paris_x, mfa=True, methods=["softwareOneTimePasscode"],
           recovery_email="press.paris@mfa.example", admins=[ada, ben])  # fmt: skip
    attest(session, paris_fb, mfa=False, methods=[], recovery_email="embparis@gmail.com",
           admins=[ada])  # fmt: skip
    mfa_refused(session, lyon_x, "Authorization_RequestDenied")
    return Inventory(ada, ben, paris_x, paris_fb, lyon_x, nairobi_x)
