"""Who is calling: a session, an API key or a token a key was exchanged for, with live roles.

A read (GET, HEAD, OPTIONS) resolves its caller in one statement on the event loop (``callers``
through the ``inline`` reader): no thread hop, no transaction, nothing cached from an earlier
request. A request that may write resolves it again inside its own transaction, after locking
the rows the caller's access rests on (``atomic``), so the check and the write commit together.
The threadpool is used only then, when a session or key is due a ``last seen`` refresh (once a
minute at most; a read commits it at once, so the rest of the read holds no lock), or when a
session has just timed out and its ending must be recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from secops.auth import atomic, callers, sessions, tokens
from secops.auth.access import apikeys, exchange
from secops.auth.access import tokens as key_tokens
from secops.auth.callers import KeyView, Rows, SessionView
from secops.auth.outcomes import settle
from secops.core import inline
from secops.core.db import clock_of, try_write_lock
from secops.core.inline import InlineReader
from secops.core.principal import MissionSet, Principal, PrincipalKind, Role

Roles = dict[Role, MissionSet]
# Reads a key's view (by the key, or by a token it was exchanged for) inside a transaction.
KeyReader = Callable[[Rows], KeyView | None]
# Refuses the view unless the key (and the token, if one was sent) works at the given time.
KeyScreen = Callable[[KeyView | None, datetime], KeyView]


def _commit_bookkeeping(session: Session) -> None:
    # A read's "last seen" refresh is committed on its own at once: the read that follows holds
    # no lock while it runs (on SQLite that would be the database's only write lock).
    session.commit()


def _session_in_transaction(
    session: Session, token: str, seen: SessionView, *, lock: bool, timed_out: bool
) -> tuple[SessionView, Roles]:
    """The session read (and, for a write, locked) inside the request's transaction."""
    now = clock_of(session).now()
    idle = sessions.idle_timeout(session)
    touch = not timed_out and sessions.needs_touch(seen.last_seen_at, now)
    if lock:
        atomic.hold_session(
            session, user_id=seen.user_id, session_id=seen.id, touch_at=now if touch else None
        )
    elif touch and (now - seen.last_seen_at > idle / 2 or try_write_lock(session)):
        # A read skips the refresh while a long write holds SQLite's lock (the next request
        # tries again), unless half the idle timeout has gone by: then it waits its turn.
        sessions.touch(session, session_id=seen.id, now=now)
        _commit_bookkeeping(session)
    rows = callers.in_session(session)
    digest = tokens.digest(token)
    try:
        view = sessions.screen(callers.read_session(rows, digest), now=now, idle=idle)
    except sessions.SessionTimedOut:
        # Ends the session and records it (committed), then refuses; it returns only when a
        # concurrent request kept the session alive, and has then refreshed it itself.
        settle(session, sessions.authenticate(session, token=token))
        view = sessions.screen(callers.read_session(rows, digest), now=now, idle=idle)
    return view, ({} if view.enrolment_only else callers.roles_of(rows, view.grants))


async def session_principal(
    session: Session, token: str, *, writes: bool
) -> tuple[Principal, bool]:
    """The person behind a session token, and whether the session is enrolment-only."""
    now = clock_of(session).now()
    reader = inline.reader_for(session)
    seen = await callers.fetch_session(reader, tokens.digest(token))
    try:
        view = sessions.screen(seen, now=now, idle=sessions.idle_timeout(session))
    except sessions.SessionTimedOut as timed_out:
        view, roles = await run_in_threadpool(
            _session_in_transaction, session, token, timed_out.view, lock=writes, timed_out=True
        )
    else:
        if writes or sessions.needs_touch(view.last_seen_at, now):
            view, roles = await run_in_threadpool(
                _session_in_transaction, session, token, view, lock=writes, timed_out=False
            )
        else:
            roles = {} if view.enrolment_only else await callers.fetch_roles(reader, view.grants)
    principal = Principal(
        kind=PrincipalKind.USER,
        id=view.user_id,
        name=view.username,
        roles=roles,
        session_id=view.id,
        authenticated_at=view.auth_time,
    )
    return principal, view.enrolment_only


def _key_in_transaction(
    session: Session, read: KeyReader, screen: KeyScreen, seen: KeyView, *, lock: bool
) -> tuple[KeyView, Roles]:
    """The key read (and, for a write, locked) inside the request's transaction."""
    now = clock_of(session).now()
    touch_at = now if apikeys.key_needs_touch(seen, now) else None
    if lock:
        atomic.hold_key(session, owner_id=seen.owner_id, key_id=seen.id, touch_at=touch_at)
    elif touch_at is not None and try_write_lock(session):
        # A key's last use is informational: a read skips it while a long write runs.
        apikeys.touch_key(session, key_id=seen.id, now=now)
        _commit_bookkeeping(session)
    rows = callers.in_session(session)
    view = screen(read(rows), now)
    return view, callers.roles_of(rows, view.grants)


async def _acting_key(
    session: Session,
    fetch: Callable[[InlineReader], Awaitable[KeyView | None]],
    read: KeyReader,
    screen: KeyScreen,
    *,
    writes: bool,
) -> Principal:
    now = clock_of(session).now()
    reader = inline.reader_for(session)
    view = screen(await fetch(reader), now)
    if writes or apikeys.key_needs_touch(view, now):
        view, roles = await run_in_threadpool(
            _key_in_transaction, session, read, screen, view, lock=writes
        )
    else:
        roles = await callers.fetch_roles(reader, view.grants)
    return apikeys.key_principal(view, roles)


async def key_principal(session: Session, token: str, *, writes: bool) -> Principal:
    """The principal an API key (``secops_k_…``) acts as."""
    parts = key_tokens.parse_token(token)

    async def fetch(reader: InlineReader) -> KeyView | None:
        return await callers.fetch_key(reader, parts.public_id) if parts else None

    def read(rows: Rows) -> KeyView | None:
        return callers.read_key(rows, parts.public_id) if parts else None

    def screen(view: KeyView | None, now: datetime) -> KeyView:
        return apikeys.screen_key(view, parts, now=now)

    return await _acting_key(session, fetch, read, screen, writes=writes)


async def key_token_principal(session: Session, token: str, *, writes: bool) -> Principal:
    """The principal a token an API key was exchanged for (``secops_t_…``) acts as: its key's."""
    digest = tokens.digest(token)

    async def fetch(reader: InlineReader) -> KeyView | None:
        return await callers.fetch_key_token(reader, digest)

    def read(rows: Rows) -> KeyView | None:
        return callers.read_key_token(rows, digest)

    def screen(view: KeyView | None, now: datetime) -> KeyView:
        return exchange.screen_token(view, now=now)

    return await _acting_key(session, fetch, read, screen, writes=writes)
