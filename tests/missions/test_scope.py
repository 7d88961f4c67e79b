"""``scope``, ``descendants`` and ``expand``: the filters every domain relies on."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from secops.core import inline
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, MissionSet, Permission, Role
from secops.missions import repository
from secops.missions import service as mission_service
from secops.missions.models import Mission, MissionKind
from secops.missions.schemas import MissionRead
from secops.missions.scope import expand, scope, visible
from tests.factories.missions import Ministry, acting, make_mission


def visible_codes(session: Session, roles: dict[Role, MissionSet]) -> list[str]:
    principal = acting(roles)
    query = scope(select(Mission), principal, Permission.MISSIONS_READ, Mission.id)
    return [m.code for m in session.exec(query.order_by(col(Mission.code)))]


def test_everywhere_sees_every_mission(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as session:
        assert len(visible_codes(session, {Role.AUDITOR: EVERYWHERE})) == 5


def test_an_empty_mission_set_sees_nothing(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as session:
        assert visible_codes(session, {Role.OFFICER: frozenset()}) == []
        assert visible_codes(session, {}) == []


def test_a_permission_the_role_lacks_sees_nothing(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    principal = acting({Role.MANAGER: EVERYWHERE})
    with sessions.begin() as session:
        query = scope(select(Mission), principal, Permission.MISSIONS_WRITE, Mission.id)
        assert session.exec(query).all() == []


def test_roles_add_up_per_permission(sessions: SessionFactory, ministry: Ministry) -> None:
    roles: dict[Role, MissionSet] = {
        Role.OFFICER: frozenset({ministry.paris.id}),
        Role.MANAGER: frozenset({ministry.geneva.id}),
    }
    with sessions.begin() as session:
        assert visible_codes(session, roles) == ["EMB-PARIS", "PM-GENEVA-UN"]


def test_scope_narrows_updates_and_deletes_too(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    principal = acting({Role.ADMIN: frozenset({ministry.geneva.id})})
    with sessions.begin() as session:
        renamed = session.execute(
            scope(
                update(Mission).values(city="Genève"),
                principal,
                Permission.MISSIONS_WRITE,
                Mission.id,
            )
        )
        deleted = session.execute(
            scope(
                delete(Mission).where(col(Mission.code) == "CG-LYON"),
                principal,
                Permission.MISSIONS_WRITE,
                Mission.id,
            )
        )
        assert (renamed.rowcount, deleted.rowcount) == (1, 0)
        session.rollback()


def test_scope_refuses_something_that_is_not_a_column(ministry: Ministry) -> None:
    principal = acting({Role.ADMIN: frozenset({ministry.geneva.id})})

    with pytest.raises(RuntimeError):
        scope(select(Mission), principal, Permission.MISSIONS_READ, "mission_id")


def test_descendants_are_the_mission_and_everything_under_it(
    sessions: SessionFactory, ministry: Ministry
) -> None:
    with sessions.begin() as session:
        assert mission_service.descendants(session, ministry.paris.id) == {
            ministry.paris.id,
            ministry.lyon.id,
        }
        assert mission_service.descendants(session, ministry.lyon.id) == {ministry.lyon.id}
        assert mission_service.descendants(session, ministry.hq.id) == {m.id for m in ministry.all}
        assert mission_service.descendants(session, uuid.uuid4()) == frozenset()


def test_expand_unions_several_subtrees(sessions: SessionFactory, ministry: Ministry) -> None:
    with sessions.begin() as session:
        expanded = mission_service.expand(session, [ministry.paris.id, ministry.geneva.id])

    assert expanded == {ministry.paris.id, ministry.lyon.id, ministry.geneva.id}
    assert isinstance(expanded, frozenset)


# Each tree: node i > 0 hangs under a node with a smaller index, so every draw is a valid tree.
trees = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.integers(min_value=0), min_size=n - 1, max_size=n - 1)
    )
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tree=trees, picks=st.lists(st.integers(min_value=0), min_size=1, max_size=4))
def test_expand_matches_a_walk_of_the_tree(
    sessions: SessionFactory, tree: tuple[int, list[int]], picks: list[int]
) -> None:
    size, parents = tree
    parent_of = [None] + [p % (i + 1) for i, p in enumerate(parents)]
    session = sessions()
    try:
        nodes: list[Mission] = []
        for i, parent in enumerate(parent_of):
            kind = MissionKind.HQ if parent is None else MissionKind.EMBASSY
            nodes.append(
                make_mission(
                    session,
                    f"N{i}",
                    kind=kind,
                    parent=nodes[parent] if parent is not None else None,
                )
            )
        seeds = {picks_i % size for picks_i in picks}
        expected = set(seeds)
        grew = True
        while grew:
            before = len(expected)
            expected |= {i for i, p in enumerate(parent_of) if p in expected}
            grew = len(expected) != before

        got = expand(session, [nodes[i].id for i in seeds])

        assert got == {nodes[i].id for i in expected}
    finally:
        session.rollback()
        session.close()


_ROLES = st.sampled_from(list(Role))
_REACH = st.one_of(st.just("everywhere"), st.sets(st.integers(min_value=0, max_value=6)))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    grants=st.dictionaries(_ROLES, _REACH, max_size=3),
    permission=st.sampled_from([Permission.MISSIONS_READ, Permission.MISSIONS_WRITE]),
)
def test_a_read_by_id_on_the_event_loop_sees_what_the_scoped_query_sees(
    sessions: SessionFactory,
    ministry: Ministry,
    grants: dict[Role, str | set[int]],
    permission: Permission,
) -> None:
    # Indexes 5 and 6 name missions that do not exist: a grant may outlive its mission.
    ids = [m.id for m in ministry.all] + [uuid.uuid4(), uuid.uuid4()]
    roles: dict[Role, MissionSet] = {
        role: EVERYWHERE if reach == "everywhere" else frozenset(ids[i] for i in reach)
        for role, reach in grants.items()
    }
    principal = acting(roles)
    session = sessions()
    try:
        reader = inline.reader_for(session)
        for mission_id in ids:
            scoped = repository.find(session, principal, mission_id, permission=permission)
            row = asyncio.run(repository.read(reader, principal, mission_id, permission=permission))

            assert (row is None) == (scoped is None)
            if scoped is not None:
                assert MissionRead.model_validate(row) == MissionRead.model_validate(scoped)
    finally:
        session.close()


def test_visible_lets_a_ministry_wide_caller_see_a_row_of_no_mission() -> None:
    row = SimpleNamespace(mission_id=None)

    everywhere = acting({Role.AUDITOR: EVERYWHERE})
    somewhere = acting({Role.AUDITOR: frozenset({uuid.uuid4()})})

    assert visible(row, everywhere, Permission.MISSIONS_READ, "mission_id") is row
    assert visible(row, somewhere, Permission.MISSIONS_READ, "mission_id") is None
    assert visible(None, everywhere, Permission.MISSIONS_READ, "mission_id") is None
