"""Users: creation, listing, disablement and session revocation by ministry administrators.

Administering users needs the admin role ministry-wide (mission-level admins manage grants on
their missions, not people). Reading users needs ``users:read`` on some mission. Creating a user
never sets a password through the API: the administrator receives a one-time invitation token
that the user redeems to choose their own (see ``resets``).
"""

from __future__ import annotations

import uuid
from typing import Final

from sqlmodel import Session

from secops.auth import enrolment, passwords, repository, sessions
from secops.auth.events import AuthEvent, emit
from secops.auth.models import SessionEndReason, User, UserStatus
from secops.auth.signin import password_context
from secops.auth.usernames import checked_username
from secops.core.db import clock_of
from secops.core.errors import Conflict, Forbidden, NotFound
from secops.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from secops.core.principal import Permission, Principal, PrincipalKind

_NOT_ADMIN: Final = "Administering users needs the admin role for the whole ministry."


def require_ministry_admin(principal: Principal) -> None:
    """Refuse unless the caller administers users ministry-wide, in person or server-locally."""
    if principal.kind is PrincipalKind.API_KEY:
        raise Forbidden("API keys cannot administer users; sign in as a person.")
    if not principal.has_everywhere(Permission.USERS_ADMIN):
        raise Forbidden(_NOT_ADMIN)


def create_user(
    session: Session,
    *,
    principal: Principal,
    username: str,
    display_name: str,
    email: str | None = None,
    password: str | None = None,
) -> User:
    """Create an active user; ``password`` only from server-side callers (seeder, bootstrap)."""
    require_ministry_admin(principal)
    sessions.require_recent_sign_in(session, principal)
    shown, key = checked_username(username)
    if repository.user_by_key(session, key) is not None:
        raise Conflict("That username is taken.")
    now = clock_of(session).now()
    user = User(
        username=shown,
        username_key=key,
        display_name=display_name.strip() or shown,
        email=email,
        created_at=now,
        updated_at=now,
    )
    if password is not None:
        passwords.check_new_password(password, context=password_context(session, user))
        user.password_hash = passwords.hash_password(sessions.settings_of(session), password)
        user.password_changed_at = now
    session.add(user)
    session.flush()
    emit(
        session, AuthEvent.USER_CREATED, principal=principal, user_id=user.id, after=user.snapshot()
    )
    return user


def enrol_totp_for_demo(session: Session, *, user_id: uuid.UUID, secret: str) -> None:
    """Give a user a known, confirmed TOTP secret: for the demo seeder and tests only."""
    if sessions.settings_of(session).is_production:
        raise Forbidden("Preset TOTP secrets are refused in production.")
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    enrolment.enrol_with_secret(session, user=user, secret=secret)


def get_user(session: Session, *, principal: Principal, user_id: uuid.UUID) -> User:
    """One user, for callers who may read users."""
    if not principal.has(Permission.USERS_READ):
        raise Forbidden("Reading users needs the users:read permission.")
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def list_users(
    session: Session, *, principal: Principal, cursor: str | None, limit: int | None
) -> Page[User]:
    """Users by username, one page at a time."""
    if not principal.has(Permission.USERS_READ):
        raise Forbidden("Reading users needs the users:read permission.")
    size = clamp_limit(limit)
    after = None
    if cursor:
        key, last_id = decode_cursor(cursor, arity=2)
        after = (str(key), str(last_id))
    rows = list(repository.list_users(session, after=after, limit=size + 1))
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor([rows[-1].username_key, str(rows[-1].id)])
    return Page[User](items=rows, next_cursor=next_cursor)


def _administered_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    require_ministry_admin(principal)
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def disable_user(session: Session, *, principal: Principal, user_id: uuid.UUID) -> User:
    """Stop a user signing in; their sessions end now and their open tokens are voided."""
    user = _administered_user(session, principal, user_id)
    if user.id == principal.id:
        raise Conflict("You cannot disable yourself; ask another administrator.")
    if user.status == UserStatus.DISABLED:
        return user
    before = user.snapshot()
    now = clock_of(session).now()
    user.status = UserStatus.DISABLED
    user.disabled_at = now
    user.updated_at = now
    user.version += 1
    session.add(user)
    for token in repository.open_account_tokens(session, user_id=user.id):
        token.voided_at = now
        session.add(token)
    session.flush()
    sessions.end_all(
        session, principal=principal, user_id=user.id, reason=SessionEndReason.DISABLED
    )
    emit(
        session,
        AuthEvent.USER_DISABLED,
        principal=principal,
        user_id=user.id,
        before=before,
        after=user.snapshot(),
    )
    return user


def enable_user(session: Session, *, principal: Principal, user_id: uuid.UUID) -> User:
    """Let a disabled user sign in again (their old sessions stay ended)."""
    user = _administered_user(session, principal, user_id)
    sessions.require_recent_sign_in(session, principal)
    if user.status == UserStatus.ACTIVE:
        return user
    before = user.snapshot()
    now = clock_of(session).now()
    user.status = UserStatus.ACTIVE
    user.disabled_at = None
    user.updated_at = now
    user.version += 1
    session.add(user)
    session.flush()
    emit(
        session,
        AuthEvent.USER_ENABLED,
        principal=principal,
        user_id=user.id,
        before=before,
        after=user.snapshot(),
    )
    return user


def revoke_sessions(session: Session, *, principal: Principal, user_id: uuid.UUID) -> int:
    """End every session of a user now; returns how many ended."""
    user = _administered_user(session, principal, user_id)
    return sessions.end_all(
        session, principal=principal, user_id=user.id, reason=SessionEndReason.REVOKED
    )


def recovery_codes_left(session: Session, *, user_id: uuid.UUID) -> int:
    """How many unused recovery codes a user holds."""
    return repository.unused_recovery_codes(session, user_id=user_id)


def get_own_user(session: Session, *, principal: Principal) -> User:
    """The caller's own user row."""
    user = repository.get_user(session, principal.id)
    if user is None:
        raise NotFound("No such user.")
    return user
