"""The demo inventory: it imports cleanly, covers every platform and tier, and holds its gaps."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from secops.accounts.io import demo
from secops.accounts.models import (
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountFactSheet,
    AccountMfaMethod,
    AccountStatus,
    AccountTier,
    ConnectedApp,
    CredentialStorage,
    MfaStrength,
    Person,
    PersonStatus,
    Platform,
)
from secops.cli.seed import DEMO_MISSIONS, _seed_missions
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import system_principal


@pytest.fixture
def seeded(sessions: SessionFactory) -> int:
    """The demo missions and inventory, as ``secops demo`` seeds them."""
    with sessions.begin() as session:
        principal = system_principal("demo-seed")
        codes = _seed_missions(session, principal)
        return demo.seed_demo_inventory(session, principal=principal, missions=codes)


def accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account)))


def methods_of(session: Session, account: Account) -> set[str]:
    query = select(AccountMfaMethod.method).where(col(AccountMfaMethod.account_id) == account.id)
    return set(session.exec(query))


def test_the_demo_inventory_imports_cleanly_at_a_believable_size(
    seeded: int, sessions: SessionFactory
) -> None:
    with sessions() as session:
        people = session.exec(select(Person)).all()
        stored = accounts(session)

    assert 150 <= seeded == len(stored) <= 250
    assert 75 <= len(people) <= 100
    assert {p.email.rpartition("@")[2] for p in people} == {"mfa.example"}
    assert {a.platform for a in stored} == set(Platform)
    assert {a.tier for a in stored} == set(AccountTier)
    missions = {a.mission_id for a in stored}
    assert len(missions) == len(DEMO_MISSIONS)


def test_most_demo_accounts_are_well_kept(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        strengths = Counter(a.mfa_strength for a in accounts(session))

    strong = strengths[MfaStrength.PHISHING_RESISTANT] + strengths[MfaStrength.APP_PUSH]
    assert strong > seeded / 2
    assert strengths[MfaStrength.PHONE_EMAIL] <= 5


def test_an_ambassadors_x_account_relies_on_sms_only(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        found = [
            a
            for a in accounts(session)
            if a.platform == Platform.X
            and a.tier == AccountTier.HEAD_OF_MISSION
            and methods_of(session, a) == {"sms"}
        ]
    assert [a.handle for a in found] == ["meridiaambnairobi"]
    assert found[0].mfa_strength == MfaStrength.PHONE_EMAIL


def test_a_recovery_address_sits_on_public_webmail(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        query = select(AccountFactSheet).where(
            col(AccountFactSheet.recovery_email_domain) == "gmail.com"
        )
        (sheet,) = session.exec(query).all()
        assert sheet.recovery().email_hint == "m•••@gmail.com"


def test_an_administrator_who_has_left_still_holds_admin_rights(
    seeded: int, sessions: SessionFactory
) -> None:
    with sessions() as session:
        query = (
            select(Account.handle)
            .join(AccountAdmin, col(AccountAdmin.account_id) == col(Account.id))
            .join(Person, col(Person.id) == col(AccountAdmin.person_id))
            .where(col(Person.status) == PersonStatus.LEFT)
        )
        handles = set(session.exec(query))
    assert "meridiaparis" in handles


def test_a_scheduling_app_went_unreviewed_for_400_days(
    seeded: int, sessions: SessionFactory, clock: FrozenClock
) -> None:
    with sessions() as session:
        query = select(ConnectedApp).where(col(ConnectedApp.allow_listed).is_(False))
        (app,) = session.exec(query).all()
    assert app.name == "Hootsuite"
    assert app.last_reviewed_at == clock.now() - timedelta(days=400)


def test_a_dormant_account_has_been_idle_for_months(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        query = select(Account).where(col(Account.status) == AccountStatus.DORMANT)
        (dormant,) = session.exec(query).all()
    assert dormant.last_activity_at is not None
    assert dormant.platform == Platform.WEIBO


def test_a_shared_password_is_kept_in_a_document(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        query = select(AccountFactSheet).where(
            col(AccountFactSheet.credential_storage) == CredentialStorage.DOCUMENT
        )
        (credential,) = session.exec(query).all()
        holders = session.exec(
            select(AccountCredentialHolder).where(
                col(AccountCredentialHolder.account_id) == credential.account_id
            )
        ).all()
    assert len(holders) >= 2


def test_the_ministers_account_signs_in_with_fido2(seeded: int, sessions: SessionFactory) -> None:
    with sessions() as session:
        query = select(Account).where(
            col(Account.tier) == AccountTier.MINISTER, col(Account.platform) == Platform.X
        )
        (minister,) = session.exec(query).all()
        assert "fido2" in methods_of(session, minister)
    assert minister.mfa_strength == MfaStrength.PHISHING_RESISTANT


def test_seeding_again_changes_nothing(seeded: int, sessions: SessionFactory) -> None:
    with sessions.begin() as session:
        codes = {code: uuid.uuid4() for code, *_ in DEMO_MISSIONS}
        again = demo.seed_demo_inventory(session, principal=system_principal(), missions=codes)

    assert again == 0


def test_a_missing_mission_stops_the_seed(sessions: SessionFactory) -> None:
    with sessions.begin() as session, pytest.raises(ValueError, match="EMB-PARIS"):
        demo.seed_demo_inventory(
            session, principal=system_principal(), missions={"HQ": uuid.uuid4()}
        )
