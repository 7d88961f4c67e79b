"""The read-time index: which (rule, account) results an active waiver covers at a moment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from secops.accounts.models import Account
from secops.core.clock import FrozenClock
from secops.core.db import SessionFactory
from secops.policy.waivers import service
from secops.policy.waivers.index import WaiverIndex
from secops.policy.waivers.models import PolicyWaiver, WaiverState, WaiverStatus
from secops.policy.waivers.rules import PolicyLimits, expiry_errors
from tests.factories.accounts import make_account
from tests.factories.missions import Ministry
from tests.factories.waivers import POLICY_ID, RULE_ID, make_waiver


@pytest.fixture
def accounts(sessions: SessionFactory, ministry: Ministry) -> dict[str, Account]:
    with sessions.begin() as s:
        return {
            name: make_account(s, mission, handle=name)
            for name, mission in (
                ("paris", ministry.paris),
                ("paris_two", ministry.paris),
                ("lyon", ministry.lyon),
                ("nairobi", ministry.nairobi),
            )
        }


def index_now(sessions: SessionFactory, clock: FrozenClock) -> WaiverIndex:
    with sessions.begin() as s:
        return service.active_index(s, policy_id=POLICY_ID, now=clock.now())


def covered(index: WaiverIndex, accounts: dict[str, Account], rule: str = RULE_ID) -> set[str]:
    return {n for n, a in accounts.items() if index.waiver_for(rule, a.id, a.mission_id)}


def test_a_mission_waiver_covers_its_own_mission_only(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris)

    assert covered(index_now(sessions, clock), accounts) == {"paris", "paris_two"}


def test_a_mission_waiver_with_children_covers_the_missions_below(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, include_children=True)

    assert covered(index_now(sessions, clock), accounts) == {"paris", "paris_two", "lyon"}


def test_an_account_waiver_covers_the_listed_accounts_only(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, accounts=[accounts["paris"], accounts["lyon"]])

    assert covered(index_now(sessions, clock), accounts) == {"paris", "lyon"}


def test_an_account_that_left_the_waivers_mission_is_no_longer_covered(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, accounts=[accounts["paris"]])
    index = index_now(sessions, clock)
    moved = accounts["paris"]

    assert index.waiver_for(RULE_ID, moved.id, ministry.paris.id) is not None
    assert index.waiver_for(RULE_ID, moved.id, ministry.nairobi.id) is None


@pytest.mark.parametrize(
    "status",
    [
        WaiverStatus.REQUESTED,
        WaiverStatus.REJECTED,
        WaiverStatus.REVOKED,
        WaiverStatus.SUPERSEDED,
    ],
)
def test_only_approved_waivers_cover(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
    status: WaiverStatus,
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, status=status)

    index = index_now(sessions, clock)

    assert covered(index, accounts) == set()
    assert len(index) == 0


def test_other_rules_and_policies_are_not_covered(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, rule_id="OWNER.SET.1v1")
        make_waiver(s, ministry.paris, policy_id="another-policy")
    index = index_now(sessions, clock)

    assert covered(index, accounts) == set()
    assert covered(index, accounts, rule="OWNER.SET.1v1") == {"paris", "paris_two"}


def test_when_two_waivers_cover_a_result_the_longest_lasting_is_shown(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        make_waiver(s, ministry.paris, expires_in=timedelta(days=10))
        longest = make_waiver(
            s, ministry.paris, accounts=[accounts["paris"]], expires_in=timedelta(days=40)
        )
        make_waiver(s, ministry.hq, include_children=True, expires_in=timedelta(days=20))
    index = index_now(sessions, clock)
    paris = accounts["paris"]

    found = index.waiver_for(RULE_ID, paris.id, paris.mission_id)

    assert found is not None
    assert (found.id, found.expires_at) == (longest.id, longest.expires_at)


def test_the_index_is_computed_for_the_moment_asked(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        waiver = make_waiver(s, ministry.paris, expires_in=timedelta(hours=1))
    paris = accounts["paris"]

    with sessions.begin() as s:
        before = service.active_index(
            s, policy_id=POLICY_ID, now=waiver.expires_at - timedelta(microseconds=1)
        )
        at = service.active_index(s, policy_id=POLICY_ID, now=waiver.expires_at)

    assert before.waiver_for(RULE_ID, paris.id, paris.mission_id) is not None
    assert at.waiver_for(RULE_ID, paris.id, paris.mission_id) is None


def test_building_the_index_writes_nothing(
    sessions: SessionFactory,
    clock: FrozenClock,
    ministry: Ministry,
    accounts: dict[str, Account],
) -> None:
    with sessions.begin() as s:
        waiver = make_waiver(s, ministry.paris)
    with sessions.begin() as s:
        service.active_index(s, policy_id=POLICY_ID, now=clock.now())
        assert not s.dirty
        assert not s.new
    with sessions.begin() as s:
        assert _reload(s, waiver).version == 1


def _reload(session: Session, waiver: PolicyWaiver) -> PolicyWaiver:
    found = session.get(PolicyWaiver, waiver.id)
    assert found is not None
    return found


# -- expiry arithmetic, for any moment -----------------------------------------------------

START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
LIMITS = PolicyLimits(policy_id="p", rule_ids=frozenset({RULE_ID}), max_days=180, warning_days=14)
SOMEONE = uuid.UUID(int=1)
seconds = st.integers(min_value=-400 * 86400, max_value=400 * 86400)


@given(offset=seconds)
def test_an_expiry_is_accepted_exactly_when_in_the_future_and_within_the_cap(offset: int) -> None:
    expires_at = START + timedelta(seconds=offset)

    accepted = expiry_errors(expires_at, now=START, limits=LIMITS) == []

    assert accepted == (0 < offset <= 180 * 86400)


@given(lifetime=seconds, elapsed=seconds)
def test_an_approved_waiver_is_active_exactly_until_its_expiry(lifetime: int, elapsed: int) -> None:
    waiver = PolicyWaiver(
        policy_id="p",
        rule_id=RULE_ID,
        mission_id=SOMEONE,
        reason="x" * 10,
        requested_by=SOMEONE,
        requested_by_name="r",
        requested_at=START,
        status=WaiverStatus.APPROVED,
        expires_at=START + timedelta(seconds=lifetime),
        updated_at=START,
    )

    state = waiver.state_at(START + timedelta(seconds=elapsed))

    assert state == (WaiverState.ACTIVE if elapsed < lifetime else WaiverState.EXPIRED)
