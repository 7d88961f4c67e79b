"""Mission-set algebra with EVERYWHERE, and what a principal could hand on (properties)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from secops.auth.access.scopes import covers, intersect, reach_of_role
from secops.core.principal import (
    EVERYWHERE,
    ROLE_PERMISSIONS,
    Everywhere,
    MissionSet,
    Principal,
    PrincipalKind,
    Role,
)

POOL = [uuid.UUID(int=i) for i in range(1, 7)]
finite = st.frozensets(st.sampled_from(POOL))
mission_sets: st.SearchStrategy[MissionSet] = st.one_of(st.just(EVERYWHERE), finite)


def members(missions: MissionSet) -> frozenset[uuid.UUID]:
    """The pool missions in a set (EVERYWHERE: all of them)."""
    return frozenset(POOL) if isinstance(missions, Everywhere) else missions


@given(mission_sets, mission_sets)
def test_intersect_matches_plain_set_intersection(a: MissionSet, b: MissionSet) -> None:
    both = intersect(a, b)
    assert members(both) == members(a) & members(b)
    assert isinstance(both, Everywhere) == (isinstance(a, Everywhere) and isinstance(b, Everywhere))


@given(mission_sets, mission_sets)
def test_covers_is_subset_and_only_everywhere_covers_everywhere(
    reach: MissionSet, scope: MissionSet
) -> None:
    if isinstance(scope, Everywhere):
        assert covers(reach, scope) == isinstance(reach, Everywhere)
    else:
        assert covers(reach, scope) == (scope <= members(reach))


@given(
    st.dictionaries(st.sampled_from(list(Role)), mission_sets, max_size=5), st.sampled_from(Role)
)
def test_reach_of_role_is_where_every_permission_of_the_role_is_held(
    roles: dict[Role, MissionSet], role: Role
) -> None:
    principal = Principal(kind=PrincipalKind.USER, id=uuid.uuid4(), name="p", roles=roles)
    reach = reach_of_role(principal, role)
    for mission in POOL:
        holds_all = all(principal.can(p, mission) for p in ROLE_PERMISSIONS[role])
        assert (mission in members(reach)) == holds_all
    if role in roles:
        assert covers(reach, roles[role])
