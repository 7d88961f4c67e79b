"""API key → 15-minute bearer token (ASVS 13.2.1 discourages long-lived static credentials).

A script sends its API key once to ``POST /api/v1/tokens`` and then uses the token it
gets back. The token acts exactly as the key does (same permissions, missions and owner's live
grants) and only while the key does: revoking or expiring the key, or disabling its owner, ends
it on its next request. It never outlives the key. Only its SHA-256 is stored; a key holds at
most ``MAX_LIVE_TOKENS`` at a time.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from secops.audit import service as audit_service
from secops.auth import tokens
from secops.auth.access import repository
from secops.auth.access.apikeys import log
from secops.auth.access.models import ApiKeyToken
from secops.auth.callers import KeyView
from secops.core.db import clock_of
from secops.core.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated
from secops.core.principal import Principal, PrincipalKind

TOKEN_LIFETIME: Final = timedelta(minutes=15)
MAX_LIVE_TOKENS: Final = 20
_REFUSED: Final = "The token is not valid or has expired, or its API key was revoked."


def exchange_api_key(session: Session, *, principal: Principal) -> tuple[ApiKeyToken, str]:
    """A new token for the key the caller authenticated with, and its value (shown once)."""
    if principal.kind is not PrincipalKind.API_KEY or principal.session_id is None:
        raise Forbidden("Only an API key can be exchanged for a token.")
    key = repository.get_key(session, principal.session_id)
    if key is None:
        raise NotFound("No such API key.")
    now = clock_of(session).now()
    repository.delete_expired_key_tokens(session, key_id=key.id, now=now)
    live = repository.live_key_tokens(session, key_id=key.id, now=now)
    if len(live) >= MAX_LIVE_TOKENS:
        wait = math.ceil((live[0].expires_at - now).total_seconds())
        raise TooManyRequests(
            f"This key already holds {MAX_LIVE_TOKENS} live tokens; use one of them.",
            retry_after=wait,
        )
    token = tokens.new_key_token()
    issued = ApiKeyToken(
        key_id=key.id,
        token_hash=tokens.digest(token),
        created_at=now,
        expires_at=min(now + TOKEN_LIFETIME, key.expires_at),
    )
    session.add(issued)
    session.flush()
    audit_service.record(
        session,
        principal=principal,
        action="apikey_token_issued",
        object_type="api_key",
        object_id=key.id,
        details={
            "public_id": key.public_id,
            "exchange_id": str(issued.id),
            "expires_at": issued.expires_at.isoformat(),
        },
    )
    return issued, token


def screen_token(view: KeyView | None, *, now: datetime) -> KeyView:
    """The key behind a token, if the token and the key both work now; else 401."""
    if view is None or view.token_expires_at is None:
        raise Unauthenticated(_REFUSED)
    if (
        now >= view.token_expires_at
        or view.revoked
        or now >= view.expires_at
        or not view.owner_active
    ):
        log.info("authn.key_token_refused", key_id=view.public_id)
        raise Unauthenticated(_REFUSED)
    return view
