"""What a bearer credential stands for, read in one statement: no ORM, no thread hop.

Every authenticated request reads its session (or API key, or the key behind an exchanged
token), the user behind it and that user's live grants. Here that is a single indexed SELECT
with the grants joined in, built once and compiled once per database (``inline``). Nothing is
cached across requests: each request reads the rows as they are now, so a revoked grant, an
ended session, a revoked key or a disabled user applies at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, bindparam, select
from sqlmodel import Session, col

from secops.auth.access.models import ApiKey, ApiKeyToken, Grant
from secops.auth.models import User, UserSession, UserStatus
from secops.core.inline import InlineReader
from secops.core.principal import EVERYWHERE, MissionSet, Role, union
from secops.missions.models import Mission

# Runs one statement and returns its rows (attribute access by column key), blocking:
# ``in_session(session)`` inside a transaction, or an inline reader's ``rows``. The event loop
# uses the ``fetch_…`` functions instead, which await ``InlineReader.fetch``.
Rows = Callable[[Any, Mapping[str, Any]], Sequence[Any]]


def in_session(session: Session) -> Rows:
    """Read inside ``session``'s transaction, seeing its own uncommitted changes."""

    def rows(statement: Any, params: Mapping[str, Any]) -> Sequence[Any]:
        return session.execute(statement, params).all()

    return rows


@dataclass(frozen=True, slots=True)
class LiveGrant:
    """One unrevoked grant, as far as building a principal needs it."""

    id: uuid.UUID
    role: Role
    mission_id: uuid.UUID | None
    include_children: bool


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session row, its user and the user's live grants, as read at the start of a request."""

    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    user_active: bool
    enrolment_only: bool
    auth_time: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended: bool
    grants: tuple[LiveGrant, ...]


@dataclass(frozen=True, slots=True)
class KeyView:
    """An API key row, its owner and the owner's live grants."""

    id: uuid.UUID
    public_id: str
    secret_hash: bytes
    owner_id: uuid.UUID
    owner_name: str
    owner_active: bool
    permissions: tuple[str, ...]
    mission_ids: tuple[str, ...] | None
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool
    grants: tuple[LiveGrant, ...]
    # Set when the caller sent a token the key was exchanged for, not the key itself.
    token_expires_at: datetime | None = None


def _live_grants_of(owner: Any) -> Any:
    return and_(col(Grant.user_id) == owner, col(Grant.revoked_at).is_(None))


_GRANT_COLUMNS: Final[tuple[Any, ...]] = (
    col(Grant.id).label("grant_id"),
    col(Grant.role),
    col(Grant.mission_id),
    col(Grant.include_children),
)

# unscoped: resolves the caller itself; there is no principal to scope by yet.
SESSION_VIEW: Final = (
    select(
        col(UserSession.id),
        col(UserSession.user_id),
        col(User.username),
        col(User.status),
        col(UserSession.enrolment_only),
        col(UserSession.auth_time),
        col(UserSession.last_seen_at),
        col(UserSession.expires_at),
        col(UserSession.ended_at),
        *_GRANT_COLUMNS,
    )
    .select_from(UserSession)
    .join(User, col(User.id) == col(UserSession.user_id))
    .outerjoin(Grant, _live_grants_of(col(UserSession.user_id)))
    .where(col(UserSession.token_hash) == bindparam("token_hash"))
)

_KEY_COLUMNS: Final[tuple[Any, ...]] = (
    col(ApiKey.id),
    col(ApiKey.public_id),
    col(ApiKey.secret_hash),
    col(ApiKey.owner_id),
    col(User.username),
    col(User.status),
    col(ApiKey.permissions),
    col(ApiKey.mission_ids),
    col(ApiKey.expires_at),
    col(ApiKey.last_used_at),
    col(ApiKey.revoked_at),
)

# unscoped: resolves the caller itself; there is no principal to scope by yet.
KEY_VIEW: Final = (
    select(*_KEY_COLUMNS, *_GRANT_COLUMNS)
    .select_from(ApiKey)
    .join(User, col(User.id) == col(ApiKey.owner_id))
    .outerjoin(Grant, _live_grants_of(col(ApiKey.owner_id)))
    .where(col(ApiKey.public_id) == bindparam("public_id"))
)

# unscoped: resolves the caller itself; there is no principal to scope by yet.
KEY_TOKEN_VIEW: Final = (
    select(*_KEY_COLUMNS, col(ApiKeyToken.expires_at).label("token_expires_at"), *_GRANT_COLUMNS)
    .select_from(ApiKeyToken)
    .join(ApiKey, col(ApiKey.id) == col(ApiKeyToken.key_id))
    .join(User, col(User.id) == col(ApiKey.owner_id))
    .outerjoin(Grant, _live_grants_of(col(ApiKey.owner_id)))
    .where(col(ApiKeyToken.token_hash) == bindparam("token_hash"))
)


def _subtree_statement() -> Any:
    # The same walk as ``missions.hierarchy.expand``: UNION stops on a hand-made cycle.
    tree = (
        select(col(Mission.id).label("id"))
        .where(col(Mission.id) == bindparam("seed"))
        .cte("subtree", recursive=True)
    )
    tree = tree.union(select(col(Mission.id)).join(tree, col(Mission.parent_id) == tree.c.id))
    return select(tree.c.id)


# unscoped: expands the caller's own grants; the missions are ids only, never shown.
SUBTREE: Final = _subtree_statement()


def _grants(rows: Sequence[Any]) -> tuple[LiveGrant, ...]:
    return tuple(
        LiveGrant(
            id=row.grant_id,
            role=Role(row.role),
            mission_id=row.mission_id,
            include_children=bool(row.include_children),
        )
        for row in rows
        if row.grant_id is not None
    )


def session_view(rows: Sequence[Any]) -> SessionView | None:
    """The view ``SESSION_VIEW``'s rows describe; None when there are none."""
    if not rows:
        return None
    first = rows[0]
    return SessionView(
        id=first.id,
        user_id=first.user_id,
        username=first.username,
        user_active=first.status == UserStatus.ACTIVE,
        enrolment_only=bool(first.enrolment_only),
        auth_time=first.auth_time,
        last_seen_at=first.last_seen_at,
        expires_at=first.expires_at,
        ended=first.ended_at is not None,
        grants=_grants(rows),
    )


def read_session(rows_of: Rows, token_hash: bytes) -> SessionView | None:
    """The session a token hash names, with its user and live grants; None if there is none."""
    return session_view(rows_of(SESSION_VIEW, {"token_hash": token_hash}))


async def fetch_session(reader: InlineReader, token_hash: bytes) -> SessionView | None:
    """``read_session`` through the event loop's inline reader."""
    return session_view(await reader.fetch(SESSION_VIEW, {"token_hash": token_hash}))


def read_key(rows_of: Rows, public_id: str) -> KeyView | None:
    """The API key a public id names, with its owner and the owner's live grants."""
    return key_view(rows_of(KEY_VIEW, {"public_id": public_id}))


def read_key_token(rows_of: Rows, token_hash: bytes) -> KeyView | None:
    """The API key a token was exchanged for (with the token's expiry), owner and grants."""
    return key_view(rows_of(KEY_TOKEN_VIEW, {"token_hash": token_hash}))


async def fetch_key(reader: InlineReader, public_id: str) -> KeyView | None:
    """``read_key`` through the event loop's inline reader."""
    return key_view(await reader.fetch(KEY_VIEW, {"public_id": public_id}))


async def fetch_key_token(reader: InlineReader, token_hash: bytes) -> KeyView | None:
    """``read_key_token`` through the event loop's inline reader."""
    return key_view(await reader.fetch(KEY_TOKEN_VIEW, {"token_hash": token_hash}))


def key_view(rows: Sequence[Any]) -> KeyView | None:
    """The view ``KEY_VIEW`` or ``KEY_TOKEN_VIEW`` rows describe; None when there are none."""
    if not rows:
        return None
    first = rows[0]
    return KeyView(
        id=first.id,
        public_id=first.public_id,
        secret_hash=first.secret_hash,
        owner_id=first.owner_id,
        owner_name=first.username,
        owner_active=first.status == UserStatus.ACTIVE,
        permissions=tuple(first.permissions),
        mission_ids=None if first.mission_ids is None else tuple(first.mission_ids),
        expires_at=first.expires_at,
        last_used_at=first.last_used_at,
        revoked=first.revoked_at is not None,
        grants=_grants(rows),
        token_expires_at=getattr(first, "token_expires_at", None),
    )


def _subtree_seeds(grants: Sequence[LiveGrant]) -> list[uuid.UUID]:
    return sorted({g.mission_id for g in grants if g.include_children and g.mission_id})


def _roles(
    grants: Sequence[LiveGrant], subtrees: Mapping[uuid.UUID, frozenset[uuid.UUID]]
) -> dict[Role, MissionSet]:
    roles: dict[Role, MissionSet] = {}
    for grant in grants:
        reach: MissionSet
        if grant.mission_id is None:
            reach = EVERYWHERE
        elif grant.include_children:
            reach = subtrees.get(grant.mission_id, frozenset()) | {grant.mission_id}
        else:
            reach = frozenset({grant.mission_id})
        roles[grant.role] = union(roles.get(grant.role, frozenset()), reach)
    return roles


def roles_of(rows_of: Rows, grants: Iterable[LiveGrant]) -> dict[Role, MissionSet]:
    """Per role, the missions the grants reach now; each subtree a grant covers is one query."""
    grants = tuple(grants)
    subtrees = {
        seed: frozenset(row[0] for row in rows_of(SUBTREE, {"seed": seed}))
        for seed in _subtree_seeds(grants)
    }
    return _roles(grants, subtrees)


async def fetch_roles(reader: InlineReader, grants: Iterable[LiveGrant]) -> dict[Role, MissionSet]:
    """``roles_of`` through the event loop's inline reader."""
    grants = tuple(grants)
    subtrees = {
        seed: frozenset(row[0] for row in await reader.fetch(SUBTREE, {"seed": seed}))
        for seed in _subtree_seeds(grants)
    }
    return _roles(grants, subtrees)
