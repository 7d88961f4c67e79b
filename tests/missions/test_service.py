"""The mission service called directly, as the CLI's server-local commands and the worker do."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from secops.core.db import SessionFactory
from secops.core.errors import Conflict
from secops.core.principal import Role, system_principal
from secops.missions import service as mission_service
from secops.missions.models import Mission, MissionKind
from secops.missions.schemas import MissionUpdate
from tests.factories.missions import acting, make_mission

ROOT = system_principal("tests")


def parents(session: Session) -> dict[uuid.UUID, uuid.UUID | None]:
    return {m.id: m.parent_id for m in session.exec(select(Mission))}


def reaches_root_without_loop(parent_of: dict[uuid.UUID, uuid.UUID | None]) -> bool:
    for start in parent_of:
        seen: set[uuid.UUID] = set()
        node: uuid.UUID | None = start
        while node is not None:
            if node in seen:
                return False
            seen.add(node)
            node = parent_of[node]
    return True


def subtree(parent_of: dict[uuid.UUID, uuid.UUID | None], root: uuid.UUID) -> set[uuid.UUID]:
    found = {root}
    while True:
        more = {m for m, p in parent_of.items() if p in found} - found
        if not more:
            return found
        found |= more


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(moves=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=12))
def test_random_moves_never_build_a_cycle(
    sessions: SessionFactory, moves: list[tuple[int, int]]
) -> None:
    session = sessions()
    try:
        hq = make_mission(session, "HQ", kind=MissionKind.HQ)
        nodes = [hq] + [make_mission(session, f"E{i}", parent=hq) for i in range(7)]
        for child, parent in moves:
            mission, new_parent = nodes[child], nodes[parent]
            before = parents(session)
            refused = mission.parent_id is None or new_parent.id in subtree(before, mission.id)
            changes = MissionUpdate(parent_id=new_parent.id)
            try:
                mission_service.update(
                    session=session,
                    principal=ROOT,
                    mission_id=mission.id,
                    changes=changes,
                    if_match="*",
                )
            except Conflict:
                assert refused
            else:
                assert not refused or before[mission.id] == new_parent.id
            assert reaches_root_without_loop(parents(session))
    finally:
        session.rollback()
        session.close()


def test_tree_makes_a_root_of_a_mission_whose_parent_is_hidden(
    sessions: SessionFactory,
) -> None:
    with sessions.begin() as session:
        hq = make_mission(session, "HQ", kind=MissionKind.HQ)
        paris = make_mission(session, "EMB-PARIS", parent=hq)
        lyon = make_mission(session, "CG-LYON", parent=paris)
        principal = acting({Role.OFFICER: frozenset({hq.id, lyon.id})})
        roots = mission_service.tree(session=session, principal=principal)

    assert [(r.code, [c.code for c in r.children]) for r in roots] == [("CG-LYON", []), ("HQ", [])]


def test_moving_the_hq_is_refused(sessions: SessionFactory) -> None:
    with sessions.begin() as session:
        hq = make_mission(session, "HQ", kind=MissionKind.HQ)
        paris = make_mission(session, "EMB-PARIS", parent=hq)

        with pytest.raises(Conflict):
            mission_service.update(
                session=session,
                principal=ROOT,
                mission_id=hq.id,
                changes=MissionUpdate(parent_id=paris.id),
                if_match="*",
            )
