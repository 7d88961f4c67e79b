"""API keys: created by a person, scoped to permissions and missions, never stronger than the
owner's current roles, expiring within ``api_key_max_days``, revocable, shown once.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.auth import callers
from secops.auth.access import repository, tokens
from secops.auth.access.models import ApiKey
from secops.auth.access.rules import mission_scope, require_person, require_step_up
from secops.auth.access.scopes import covers, intersect
from secops.auth.callers import KeyView
from secops.core.config import Settings
from secops.core.db import clock_of, info_of
from secops.core.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from secops.core.logging import get_logger
from secops.core.principal import (
    EVERYWHERE,
    MissionSet,
    Permission,
    Principal,
    PrincipalKind,
    Role,
)

log = get_logger("secops.access")

MAX_LIVE_KEYS_PER_USER: Final = 25
# last_used_at is refreshed at most this often, so a busy script does not write on every call.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
# Keys never administer users, grants or keys: those routes are for people who signed in.
NEVER_DELEGATED: Final = frozenset({Permission.USERS_ADMIN})
_BAD_KEY: Final = "The API key is not valid, has expired or was revoked."


def _key_scope(
    session: Session, principal: Principal, mission_ids: Iterable[uuid.UUID] | None
) -> frozenset[uuid.UUID] | None:
    if mission_ids is None:
        return None
    scope = frozenset(mission_ids)
    if not scope:
        raise ValidationFailed(
            "Name at least one mission, or none for all.",
            errors=[{"loc": ["body", "missions"], "msg": "empty", "type": "value_error"}],
        )
    for mission_id in scope:
        mission_scope(session, principal, mission_id, False)
    return scope


def _check_delegation(
    principal: Principal, permissions: frozenset[Permission], scope: frozenset[uuid.UUID] | None
) -> None:
    if permissions & NEVER_DELEGATED:
        raise Forbidden("API keys cannot administer users, grants or keys.")
    for permission in sorted(permissions):
        reach = principal.missions_with(permission)
        held = principal.has(permission) if scope is None else covers(reach, scope)
        if not held:
            raise Forbidden(f"You cannot delegate {permission.value} on those missions.")


def create_api_key(
    session: Session,
    *,
    principal: Principal,
    name: str,
    permissions: Iterable[Permission],
    mission_ids: Iterable[uuid.UUID] | None,
    days: int,
) -> tuple[ApiKey, str]:
    """A new key for the caller, and its token (returned here once, never stored)."""
    require_person(principal)
    settings: Settings = info_of(session, "settings")
    if not 1 <= days <= settings.api_key_max_days:
        raise ValidationFailed(
            f"A key lives between 1 and {settings.api_key_max_days} days.",
            errors=[{"loc": ["body", "days"], "msg": "out of range", "type": "value_error"}],
        )
    wanted = frozenset(permissions)
    scope = _key_scope(session, principal, mission_ids)
    _check_delegation(principal, wanted, scope)
    require_step_up(session, principal)
    live = repository.keys_owned_by(session, owner_id=principal.id, include_revoked=False)
    if len(live) >= MAX_LIVE_KEYS_PER_USER:
        raise Conflict(f"You already have {MAX_LIVE_KEYS_PER_USER} live keys; revoke one first.")
    token, parts = tokens.new_token()
    now = clock_of(session).now()
    key = ApiKey(
        public_id=parts.public_id,
        secret_hash=tokens.hash_secret(parts.secret),
        owner_id=principal.id,
        name=name,
        permissions=sorted(p.value for p in wanted),
        mission_ids=None if scope is None else sorted(str(m) for m in scope),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="apikey_created",
        object_type="api_key",
        object_id=key.id,
        details={
            "public_id": key.public_id,
            "name": name,
            "permissions": key.permissions,
            "missions": key.mission_ids,
            "expires_at": key.expires_at.isoformat(),
        },
    )
    return key, token


def _named_missions(mission_ids: Sequence[str] | None) -> MissionSet:
    if mission_ids is None:
        return EVERYWHERE
    return frozenset(uuid.UUID(m) for m in mission_ids)


def key_missions(key: ApiKey) -> MissionSet:
    """The missions a key names (EVERYWHERE: whatever its owner holds)."""
    return _named_missions(key.mission_ids)


def _administers_key(principal: Principal, key: ApiKey) -> bool:
    return covers(principal.missions_with(Permission.USERS_ADMIN), key_missions(key))


def list_api_keys(
    session: Session, *, principal: Principal, everyone: bool = False, include_revoked: bool = False
) -> list[ApiKey]:
    """The caller's keys; with ``everyone``, also the keys of others that the caller administers."""
    require_person(principal)
    if not everyone:
        own = repository.keys_owned_by(
            session, owner_id=principal.id, include_revoked=include_revoked
        )
        return list(own)
    keys = repository.all_keys(session, include_revoked=include_revoked)
    return [k for k in keys if k.owner_id == principal.id or _administers_key(principal, k)]


def revoke_api_key(session: Session, *, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    """Revoke one's own key, or any key whose missions the caller administers."""
    require_person(principal)
    key = repository.get_key(session, key_id)
    if key is None or (key.owner_id != principal.id and not _administers_key(principal, key)):
        raise NotFound("No such API key.")
    if key.revoked_at is not None:
        raise Conflict("The key is already revoked.")
    key.revoked_at = clock_of(session).now()
    key.revoked_by = principal.id
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="apikey_revoked",
        object_type="api_key",
        object_id=key.id,
        details={"public_id": key.public_id, "owner_id": str(key.owner_id)},
    )
    return key


def _restricted(roles: Mapping[Role, MissionSet], missions: MissionSet) -> dict[Role, MissionSet]:
    kept = {role: intersect(reach, missions) for role, reach in roles.items()}
    return {role: reach for role, reach in kept.items() if reach is EVERYWHERE or reach}


def screen_key(view: KeyView | None, parts: tokens.KeyToken | None, *, now: datetime) -> KeyView:
    """The key if it works now: right secret, not revoked or expired, owner active; else 401."""
    if parts is None or view is None:
        raise Unauthenticated(_BAD_KEY)
    if not hmac.compare_digest(view.secret_hash, tokens.hash_secret(parts.secret)):
        raise Unauthenticated(_BAD_KEY)
    if view.revoked or now >= view.expires_at or not view.owner_active:
        log.info("authn.api_key_refused", key_id=view.public_id)
        raise Unauthenticated(_BAD_KEY)
    return view


def key_needs_touch(view: KeyView, now: datetime) -> bool:
    """True when the key's ``last_used_at`` is due to be refreshed."""
    return view.last_used_at is None or now - view.last_used_at >= LAST_USED_RESOLUTION


def touch_key(session: Session, *, key_id: uuid.UUID, now: datetime) -> None:
    """Record that the key was used now (callers check ``key_needs_touch`` first)."""
    repository.touch_key(session, key_id=key_id, at=now)


def key_principal(view: KeyView, owner_roles: Mapping[Role, MissionSet]) -> Principal:
    """The principal a key acts as: its scope intersected with its owner's current roles."""
    allowed = frozenset(Permission(p) for p in view.permissions) - NEVER_DELEGATED
    return Principal(
        kind=PrincipalKind.API_KEY,
        id=view.owner_id,
        name=f"{view.owner_name}/{view.public_id}",
        roles=_restricted(owner_roles, _named_missions(view.mission_ids)),
        session_id=view.id,
        allowed=allowed,
    )


def authenticate_api_key(session: Session, *, token: str) -> Principal:
    """The principal a key acts as, read inside ``session``'s transaction; 401 for a dead key."""
    parts = tokens.parse_token(token)
    rows = callers.in_session(session)
    view = callers.read_key(rows, parts.public_id) if parts else None
    now = clock_of(session).now()
    view = screen_key(view, parts, now=now)
    if key_needs_touch(view, now):
        touch_key(session, key_id=view.id, now=now)
    return key_principal(view, callers.roles_of(rows, view.grants))
