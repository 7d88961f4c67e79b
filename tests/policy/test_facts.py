"""load_facts: the inventory read in a few bulk queries into plain AccountFacts, within scope."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from secops.accounts import service
from secops.accounts.fact_schemas import (
    AdminIn,
    AttestationIn,
    ConnectedAppIn,
    CredentialIn,
    MfaStateIn,
    RecoveryIn,
)
from secops.accounts.models import (
    Account,
    AccountKind,
    AccountTier,
    Affiliation,
    FactStatus,
    PersonStatus,
    PhoneOwner,
    Platform,
)
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Permission, Role, system_principal
from secops.policy.facts import AccountFacts, load_facts
from secops.policy.fields import FIELDS, Group
from tests.factories.accounts import make_account, make_person
from tests.factories.missions import Ministry, acting, make_ministry

ROOT = system_principal("tests")
RECOVERY_EMAIL = "canary.recovery@ministry.example"
RECOVERY_PHONE = "+33 6 12 34 56 78"


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    with sessions.begin() as session:
        return make_ministry(session)


def _by_id(found: list[AccountFacts]) -> dict[uuid.UUID, AccountFacts]:
    return {facts.account_id: facts for facts in found}


@contextmanager
def counting_queries(session: Session) -> Iterator[list[str]]:
    """The SQL statements ``session`` sends while the block runs."""
    statements: list[str] = []
    engine = session.get_bind()

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_account_with_nothing_recorded_has_only_inventory_facts(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        account = make_account(s, ministry.paris, platform=Platform.X, tier=AccountTier.MISSION)
        [facts] = load_facts(s, ROOT, mission_ids=None)

    assert facts.account_id == account.id
    assert facts.mission_id == ministry.paris.id
    assert set(facts.values) == set(FIELDS)
    assert facts.values["account.platform"] == "x"
    assert facts.values["account.tier"] == "mission"
    assert facts.values["account.status"] == "active"
    assert facts.values["account.owner"] is None
    assert facts.groups[Group.ACCOUNT] is not None
    assert facts.groups[Group.ACCOUNT].source == "inventory"
    never = [g for g in Group if g is not Group.ACCOUNT]
    assert all(facts.groups[g] is None for g in never)
    assert facts.values["mfa.enabled"] is None
    assert facts.values["mfa.methods"] is None
    assert facts.values["admins"] is None
    assert facts.values["credential.holders"] is None


def test_attested_facts_load_with_values_and_provenance(
    sessions: SessionFactory, ministry: Ministry, clock: FrozenClock
) -> None:
    with sessions.begin() as s:
        owner = make_person(s, ministry.paris, full_name="Ada Owner")
        holder = make_person(s, ministry.paris, full_name="Ben Holder")
        leaver = make_person(s, ministry.paris, full_name="Cleo Leaver", status=PersonStatus.LEFT)
        mailbox = make_account(
            s, ministry.paris, platform=Platform.MICROSOFT365, handle=RECOVERY_EMAIL
        )
        account = make_account(s, ministry.paris, owner=owner, tier=AccountTier.HEAD_OF_MISSION)
        facts_in = AttestationIn(
            mfa=MfaStateIn(mfa_enabled=True, mfa_enforced=False),
            mfa_methods=["fido2", "sms", "email"],
            recovery=RecoveryIn(
                email=RECOVERY_EMAIL,
                phone=RECOVERY_PHONE,
                phone_owner=PhoneOwner.INSTITUTIONAL,
                carrier_lock=True,
            ),
            credential=CredentialIn(
                min_length=16,
                last_rotated_at=clock.now() - timedelta(days=30),
                holder_ids=[holder.id, leaver.id],
            ),
            admins=[
                AdminIn(person_id=leaver.id, platform_role="Admin"),
                AdminIn(
                    external_identity="agency@partner.example", affiliation=Affiliation.EXTERNAL
                ),
            ],
            apps=[ConnectedAppIn(name="Scheduler", publisher="Acme", allow_listed=True)],
        )
        service.attest(s, principal=ROOT, account_id=account.id, facts=facts_in)
    clock.advance(days=12)

    with sessions.begin() as s:
        found = _by_id(load_facts(s, ROOT, mission_ids=None))
    facts = found[account.id]
    values = facts.values

    assert values["account.owner"] == "Ada Owner"
    assert values["owner.status"] == "active"
    assert facts.groups[Group.OWNER] is not None
    assert values["mfa.enabled"] is True
    assert values["mfa.enforced"] is False
    assert values["mfa.methods"] == ["email", "fido2", "sms"]
    assert sorted(values["mfa.strengths"]) == ["phishing_resistant", "phone_email", "phone_email"]
    assert values["mfa.strongest"] == "phishing_resistant"
    assert values["mfa.phone_factor"] is True
    assert values["mfa.email_factor"] is True
    assert values["recovery.email_domain"] == "ministry.example"
    assert values["recovery.email_inventoried"] is True
    assert facts.recovery_email_account_id == mailbox.id
    assert values["recovery.phone_set"] is True
    assert values["recovery.phone_owner"] == "institutional"
    assert values["recovery.carrier_lock"] is True
    assert values["credential.min_length"] == 16
    holders = {h["label"]: h for h in values["credential.holders"]}
    assert holders["Ben Holder"]["person_status"] == "active"
    assert holders["Cleo Leaver"]["person_status"] == "left"
    assert holders["Cleo Leaver"]["left_at"] is not None
    admins = {a["label"]: a for a in values["admins"]}
    assert admins["Cleo Leaver"]["named"] is True
    assert admins["Cleo Leaver"]["person_status"] == "left"
    assert admins["agency@partner.example"]["named"] is False
    assert admins["agency@partner.example"]["affiliation"] == "external"
    assert admins["agency@partner.example"]["email_domain"] == "partner.example"
    assert values["apps"][0]["name"] == "Scheduler"
    assert values["apps"][0]["allow_listed"] is True
    for group in (Group.MFA, Group.MFA_METHODS, Group.RECOVERY, Group.CREDENTIAL):
        prov = facts.groups[group]
        assert prov is not None
        assert prov.source == "attested"
        assert prov.attested_by == ROOT.id
        assert prov.status == "ok"
        assert prov.age_days(clock.now()) == 12


def test_no_secret_reaches_the_facts(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as s:
        account = make_account(s, ministry.paris)
        recovery = RecoveryIn(email=RECOVERY_EMAIL, phone=RECOVERY_PHONE)
        service.attest(
            s, principal=ROOT, account_id=account.id, facts=AttestationIn(recovery=recovery)
        )
        [facts] = load_facts(s, ROOT, mission_ids=None)

    text = repr(facts)
    assert "canary" not in text
    assert "12 34 56" not in text
    assert facts.values["recovery.email_inventoried"] is False
    assert facts.recovery_email_account_id is None


def test_connector_error_is_an_error_group_with_its_reason(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        account = make_account(s, ministry.paris, platform=Platform.MICROSOFT365)
        service.set_mfa_state(
            s,
            principal=ROOT,
            account_id=account.id,
            state=None,
            source="api:microsoft_graph",
            fact_status=FactStatus.ERROR,
            error_reason="Authorization_RequestDenied",
        )
        service.replace_admins(
            s,
            principal=ROOT,
            account_id=account.id,
            admins=None,
            source="api:microsoft_graph",
            fact_status=FactStatus.ERROR,
            error_reason="Forbidden",
        )
        [facts] = load_facts(s, ROOT, mission_ids=None)

    mfa = facts.groups[Group.MFA]
    assert mfa is not None
    assert (mfa.status, mfa.reason, mfa.source) == (
        "error",
        "Authorization_RequestDenied",
        "api:microsoft_graph",
    )
    admins = facts.groups[Group.ADMINS]
    assert admins is not None
    assert (admins.status, admins.reason) == ("error", "Forbidden")


def test_list_group_seen_empty_is_an_empty_list_not_unknown(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        account = make_account(s, ministry.paris)
        empty = AttestationIn(mfa_methods=[], admins=[], apps=[])
        service.attest(s, principal=ROOT, account_id=account.id, facts=empty)
        [facts] = load_facts(s, ROOT, mission_ids=None)

    assert facts.values["mfa.methods"] == []
    assert facts.values["mfa.strongest"] == "none"
    assert facts.values["mfa.phone_factor"] is False
    assert facts.values["admins"] == []
    assert facts.values["apps"] == []
    assert all(facts.groups[g] is not None for g in (Group.MFA_METHODS, Group.ADMINS, Group.APPS))


def test_officer_loads_only_accounts_of_missions_in_reach(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        paris = make_account(s, ministry.paris)
        lyon = make_account(s, ministry.lyon)
        make_account(s, ministry.nairobi)
    officer = acting({Role.OFFICER: frozenset({ministry.paris.id, ministry.lyon.id})})
    manager = acting({Role.MANAGER: EVERYWHERE})  # reads policy, may not run it

    with sessions.begin() as s:
        seen = {f.account_id for f in load_facts(s, officer, mission_ids=None)}
        only_lyon = {f.account_id for f in load_facts(s, officer, mission_ids=[ministry.lyon.id])}
        outside = load_facts(s, officer, mission_ids=[ministry.nairobi.id])
        as_manager = load_facts(s, manager, mission_ids=None)
        read_as_manager = load_facts(
            s, manager, mission_ids=None, permission=Permission.POLICY_READ
        )

    assert seen == {paris.id, lyon.id}
    assert only_lyon == {lyon.id}
    assert outside == []
    assert as_manager == []
    assert len(read_as_manager) == 3


def test_account_ids_narrow_the_load(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as s:
        wanted = make_account(s, ministry.hq, platform=Platform.MICROSOFT365)
        make_account(s, ministry.hq)
        found = load_facts(s, ROOT, mission_ids=None, account_ids=[wanted.id])

    assert [f.account_id for f in found] == [wanted.id]


def _populate(session: Session, ministry: Ministry, count: int) -> list[Account]:
    people = [make_person(session, ministry.paris) for _ in range(3)]
    accounts = []
    for n in range(count):
        account = make_account(
            session, ministry.paris, owner=people[n % 3], kind=AccountKind.INSTITUTIONAL
        )
        facts_in = AttestationIn(
            mfa=MfaStateIn(mfa_enabled=True),
            mfa_methods=["fido2"],
            recovery=RecoveryIn(carrier_lock=False),
            credential=CredentialIn(holder_ids=[people[0].id]),
            admins=[AdminIn(person_id=people[1].id)],
            apps=[ConnectedAppIn(name=f"App {n}")],
        )
        service.attest(session, principal=ROOT, account_id=account.id, facts=facts_in)
        accounts.append(account)
    return accounts


def test_query_count_does_not_grow_with_the_number_of_accounts(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as s:
        _populate(s, ministry, 2)
        with counting_queries(s) as few:
            small = load_facts(s, ROOT, mission_ids=None)
        _populate(s, ministry, 20)
        with counting_queries(s) as many:
            large = load_facts(s, ROOT, mission_ids=None)

    assert (len(small), len(large)) == (2, 22)
    assert len(few) == len(many) <= 10
    assert all(len(f.values["admins"]) == 1 for f in large)
    assert all(len(f.values["credential.holders"]) == 1 for f in large)


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_garbage_collection_as_it_found_it(
    sessions: SessionFactory, ministry: Ministry, enabled: bool
) -> None:
    with sessions.begin() as s:
        make_account(s, ministry.paris)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with sessions.begin() as s:
            assert len(load_facts(s, ROOT, mission_ids=None)) == 1
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
