"""Queries for grants and API keys.

Grants are listed and fetched through ``missions.scope`` on the grant's mission (ministry-wide
grants only for holders of the permission everywhere). The unscoped look-ups below serve
authentication, integrity checks and per-owner keys; each says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from secops.auth.access.models import ApiKey, ApiKeyToken, Grant
from secops.core.principal import Permission, Principal, Role
from secops.missions.scope import scope


def live_grants_of(session: Session, *, user_id: uuid.UUID) -> Sequence[Grant]:
    """Every unrevoked grant of one user (read on every request)."""
    # unscoped: this builds the principal's roles; there is no principal to scope by yet.
    query = select(Grant).where(Grant.user_id == user_id, col(Grant.revoked_at).is_(None))
    return session.exec(query).all()


def grants_of(
    session: Session,
    principal: Principal,
    *,
    user_id: uuid.UUID,
    include_revoked: bool,
) -> Sequence[Grant]:
    """One user's grants on missions the principal administers, oldest first."""
    query = scope(
        select(Grant).where(Grant.user_id == user_id),
        principal,
        Permission.USERS_ADMIN,
        Grant.mission_id,
    )
    if not include_revoked:
        query = query.where(col(Grant.revoked_at).is_(None))
    return session.exec(query.order_by(col(Grant.created_at), col(Grant.id))).all()


def get_grant(session: Session, principal: Principal, grant_id: uuid.UUID) -> Grant | None:
    """One grant on a mission the principal administers, whatever its state; else None."""
    query = scope(
        select(Grant).where(Grant.id == grant_id),
        principal,
        Permission.USERS_ADMIN,
        Grant.mission_id,
    )
    return session.exec(query).one_or_none()


def find_live_grant(
    session: Session,
    *,
    user_id: uuid.UUID,
    role: Role,
    mission_id: uuid.UUID | None,
    include_children: bool,
) -> Grant | None:
    """The unrevoked grant identical to the one described, if any."""
    # unscoped: an integrity check (no duplicate grants), whoever may see them.
    mission = (
        col(Grant.mission_id).is_(None) if mission_id is None else Grant.mission_id == mission_id
    )
    query = select(Grant).where(
        Grant.user_id == user_id,
        Grant.role == role,
        mission,
        Grant.include_children == include_children,
        col(Grant.revoked_at).is_(None),
    )
    return session.exec(query).first()


def live_ministry_admin_grants(session: Session) -> Sequence[Grant]:
    """Unrevoked ministry-wide admin grants (the last one may not be revoked)."""
    # unscoped: an integrity check (the ministry never loses its last administrator).
    query = select(Grant).where(
        Grant.role == Role.ADMIN,
        col(Grant.mission_id).is_(None),
        col(Grant.revoked_at).is_(None),
    )
    return session.exec(query).all()


def key_by_public_id(session: Session, public_id: str) -> ApiKey | None:
    """The key a token names, whatever its state."""
    # unscoped: authentication; the token is the credential, no principal exists yet.
    return session.exec(select(ApiKey).where(ApiKey.public_id == public_id)).first()


def touch_key(session: Session, *, key_id: uuid.UUID, at: datetime) -> None:
    """Move a key's ``last_used_at`` forward to ``at`` (never back)."""
    session.execute(
        update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            (col(ApiKey.last_used_at).is_(None)) | (col(ApiKey.last_used_at) < at),
        )
        .values(last_used_at=at)
        .execution_options(synchronize_session=False)
    )


def get_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    """One key by id, whatever its state."""
    return session.get(ApiKey, key_id)


def keys_owned_by(
    session: Session, *, owner_id: uuid.UUID, include_revoked: bool
) -> Sequence[ApiKey]:
    """One user's keys, newest first."""
    # unscoped: keys belong to their owner, not to a mission; callers pass their own id.
    query = select(ApiKey).where(ApiKey.owner_id == owner_id)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return session.exec(query.order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))).all()


def all_keys(session: Session, *, include_revoked: bool) -> Sequence[ApiKey]:
    """Every key, newest first; the service keeps those the caller administers."""
    # unscoped: a key's missions are a list; the service checks the caller covers all of them.
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return session.exec(query.order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))).all()


def delete_expired_key_tokens(session: Session, *, key_id: uuid.UUID, now: datetime) -> None:
    """Forget a key's tokens that have expired (they no longer authenticate anyone)."""
    session.execute(
        delete(ApiKeyToken)
        .where(col(ApiKeyToken.key_id) == key_id, col(ApiKeyToken.expires_at) <= now)
        .execution_options(synchronize_session=False)
    )


def live_key_tokens(session: Session, *, key_id: uuid.UUID, now: datetime) -> Sequence[ApiKeyToken]:
    """A key's tokens that have not expired, soonest expiry first."""
    # unscoped: a key's own tokens; the caller is that key.
    query = select(ApiKeyToken).where(
        ApiKeyToken.key_id == key_id, col(ApiKeyToken.expires_at) > now
    )
    return session.exec(query.order_by(col(ApiKeyToken.expires_at))).all()
