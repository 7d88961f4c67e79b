"""Set algebra on mission sets, where EVERYWHERE stands for every mission, present and future."""

from __future__ import annotations

from secops.core.principal import (
    EVERYWHERE,
    ROLE_PERMISSIONS,
    Everywhere,
    MissionSet,
    Principal,
    Role,
)


def covers(reach: MissionSet, scope: MissionSet) -> bool:
    """True if every mission in ``scope`` is within ``reach``."""
    if isinstance(reach, Everywhere):
        return True
    if isinstance(scope, Everywhere):
        return False
    return scope <= reach


def intersect(a: MissionSet, b: MissionSet) -> MissionSet:
    """The missions in both sets."""
    if isinstance(a, Everywhere):
        return b
    if isinstance(b, Everywhere):
        return a
    return a & b


def reach_of_role(principal: Principal, role: Role) -> MissionSet:
    """Where the principal holds every permission of ``role`` (what it could hand on)."""
    reach: MissionSet = EVERYWHERE
    for permission in ROLE_PERMISSIONS[role]:
        reach = intersect(reach, principal.missions_with(permission))
    return reach
