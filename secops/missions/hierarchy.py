"""Unscoped walks of the mission tree and integrity look-ups.

These answer structural questions (which missions sit under this one, is this code taken) for
grant expansion and for the service's rules. They return ids and counts, never rows to a caller:
anything shown to a user goes through ``repository`` and ``scope``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel import Session, col

from secops.core.db import lock_key
from secops.missions.models import Mission, MissionKind, MissionStatus


def expand(session: Session, ids: Iterable[uuid.UUID]) -> frozenset[uuid.UUID]:
    """The given missions and every mission under them, at any depth; unknown ids drop out."""
    seeds = sorted(set(ids))
    if not seeds:
        return frozenset()
    # A recursive CTE runs the same on SQLite and PostgreSQL; UNION (not UNION ALL) also stops
    # on a cycle, which the service refuses but a hand-edited database might still hold.
    tree = (
        select(col(Mission.id).label("id"))
        .where(col(Mission.id).in_(seeds))
        .cte("subtree", recursive=True)
    )
    step = select(col(Mission.id)).join(tree, col(Mission.parent_id) == tree.c.id)
    tree = tree.union(step)
    return frozenset(session.execute(select(tree.c.id)).scalars())


def descendants(session: Session, mission_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The mission and all its children, recursively; empty if the mission does not exist."""
    return expand(session, [mission_id])


def code_taken(session: Session, code: str) -> bool:
    """True if any mission, in any scope, already uses ``code``."""
    query = select(func.count()).select_from(Mission).where(col(Mission.code) == code)
    return bool(session.execute(query).scalar_one())


def hq_exists(session: Session) -> bool:
    """True once the ministry has its headquarters."""
    query = select(func.count()).select_from(Mission).where(col(Mission.kind) == MissionKind.HQ)
    return bool(session.execute(query).scalar_one())


def active_children(session: Session, mission_id: uuid.UUID) -> int:
    """How many open missions hang directly under ``mission_id``, visible or not."""
    query = (
        select(func.count())
        .select_from(Mission)
        .where(col(Mission.parent_id) == mission_id)
        .where(col(Mission.status) == MissionStatus.ACTIVE)
    )
    return int(session.execute(query).scalar_one())


# Any constant works; it only has to be the same for every writer of this database.
MISSION_TREE_LOCK_KEY = 0x5EC0_7EE5


def lock_tree(session: Session) -> None:
    """Serialise changes to missions for the rest of the transaction.

    Cycle checks and "no active children" checks read other rows than the one they change, so
    row locks alone would let two moves build a cycle together. Mission changes are rare, so
    one lock for the whole tree costs nothing. On SQLite it is the database's only write lock.
    """
    lock_key(session, MISSION_TREE_LOCK_KEY)
