"""Write what a connector read into the inventory, through the accounts service only.

Each account is matched by its vendor id, else by its handle; it is created in the connector's
mission, or updated when it sits in that mission's subtree on a mission the caller may write.
Anything else is left alone and counted. Every fact group is written with its evidence time, or
as ``error`` with the reason: a refused or incomplete read never records a value. Each account
is written in its own savepoint, so one account the rules refuse does not undo the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import Session

from secops.accounts import service as accounts
from secops.accounts.connectors import repository
from secops.accounts.connectors.models import ConnectorKind
from secops.accounts.connectors.readings import (
    AccountReading,
    AdminReading,
    AppReading,
    MfaReading,
    Reading,
    RecoveryReading,
    TenantReading,
)
from secops.accounts.fact_schemas import AdminIn, ConnectedAppIn, MfaStateIn, RecoveryIn
from secops.accounts.models import (
    Account,
    AccountKind,
    AccountStatus,
    AccountTier,
    Affiliation,
    FactStatus,
    Platform,
    normalise_handle,
)
from secops.accounts.schemas import AccountCreate, AccountUpdate
from secops.core.errors import SecopsError, ServiceUnavailable
from secops.core.etag import etag_for
from secops.core.logging import get_logger
from secops.core.principal import Permission, Principal

log = get_logger("secops.connectors")
T = TypeVar("T")

PLATFORMS = {
    ConnectorKind.MICROSOFT_GRAPH: Platform.MICROSOFT365,
    ConnectorKind.GOOGLE_WORKSPACE: Platform.GOOGLE_WORKSPACE,
}
MAX_TEXT = 200
MAX_SCOPES = 200


@dataclass
class SyncCounts:
    """What one sync did, stored on the run and in its audit event."""

    accounts_created: int = 0
    accounts_updated: int = 0
    accounts_unchanged: int = 0
    # Guests and other identities that are not the ministry's accounts.
    accounts_skipped: int = 0
    # Matching accounts outside the connector's mission subtree or the caller's write reach.
    accounts_out_of_reach: int = 0
    # Accounts the inventory rules refused (e.g. a renamed handle already taken).
    accounts_refused: int = 0
    facts_errored: int = 0
    rows_unreadable: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as stored."""
        return asdict(self)

    @property
    def incomplete(self) -> bool:
        """True when something could not be recorded as read."""
        return any(
            (
                self.accounts_out_of_reach,
                self.accounts_refused,
                self.facts_errored,
                self.rows_unreadable,
            )
        )


@dataclass(frozen=True)
class Target:
    """Where a connector's accounts go, and who is writing them."""

    kind: ConnectorKind
    mission_id: uuid.UUID
    # The connector's mission and every mission under it.
    reach: frozenset[uuid.UUID]

    @property
    def platform(self) -> Platform:
        """The inventory platform of this connector's accounts."""
        return PLATFORMS[self.kind]

    @property
    def source(self) -> str:
        """The provenance of the facts it writes."""
        return self.kind.source


def apply(
    session: Session, *, principal: Principal, target: Target, reading: TenantReading
) -> SyncCounts:
    """Write every account of ``reading``; returns the counts."""
    counts = SyncCounts(accounts_skipped=reading.skipped, rows_unreadable=reading.unreadable)
    for account in reading.accounts:
        try:
            with session.begin_nested():
                _apply_one(session, principal, target, account, counts)
        except ServiceUnavailable:
            raise  # a key or the database failed: stop, never carry on around it
        except (SecopsError, ValidationError) as exc:
            counts.accounts_refused += 1
            log.warning(
                "connector.account_refused", kind=str(target.kind), problem=type(exc).__name__
            )
    return counts


def _apply_one(
    session: Session,
    principal: Principal,
    target: Target,
    reading: AccountReading,
    counts: SyncCounts,
) -> None:
    handle = normalise_handle(target.platform, reading.handle)
    match = repository.account_match(session, target.platform, reading.external_id, handle)
    if match is not None and not _within_reach(principal, target, match, reading):
        counts.accounts_out_of_reach += 1
        return
    if match is None:
        account = accounts.create_account(
            session, principal=principal, data=_new_account(target, reading, handle)
        )
        changed = True
    else:
        account = accounts.get_account(
            session, principal=principal, account_id=match.id, for_write=True
        )
        changed = _update_account(session, principal, account, reading, handle)
    changed = _write_facts(session, principal, target, account, reading, counts) or changed
    if match is None:
        counts.accounts_created += 1
    elif changed:
        counts.accounts_updated += 1
    else:
        counts.accounts_unchanged += 1


def _within_reach(
    principal: Principal,
    target: Target,
    match: repository.AccountMatch,
    reading: AccountReading,
) -> bool:
    if match.external_id not in (None, reading.external_id):
        # The handle now names another vendor identity: an officer must sort that out.
        return False
    return match.mission_id in target.reach and principal.can(
        Permission.ACCOUNTS_WRITE, match.mission_id
    )


def _text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()[:limit]
    return cleaned or None


def _new_account(target: Target, reading: AccountReading, handle: str) -> AccountCreate:
    signed_in = reading.last_sign_in.value if reading.last_sign_in else None
    return AccountCreate(
        platform=target.platform,
        handle=handle,
        mission_id=target.mission_id,
        tier=AccountTier.SERVICE if reading.is_tenant else AccountTier.STAFF,
        kind=AccountKind.INSTITUTIONAL,
        display_name=_text(reading.display_name),
        status=AccountStatus.CLOSED if reading.enabled is False else AccountStatus.ACTIVE,
        last_activity_at=signed_in,
        external_id=reading.external_id,
    )


def _update_account(
    session: Session, principal: Principal, account: Account, reading: AccountReading, handle: str
) -> bool:
    wanted: dict[str, Any] = {"handle": handle}
    if reading.display_name:
        wanted["display_name"] = _text(reading.display_name)
    if account.external_id is None:
        wanted["external_id"] = reading.external_id
    if reading.enabled is False:
        wanted["status"] = AccountStatus.CLOSED
    elif reading.enabled and account.status == AccountStatus.CLOSED:
        wanted["status"] = AccountStatus.ACTIVE
    signed_in = reading.last_sign_in.value if reading.last_sign_in else None
    if signed_in is not None:
        wanted["last_activity_at"] = signed_in
    changes = {k: v for k, v in wanted.items() if getattr(account, k) != v}
    if not changes:
        return False
    accounts.update_account(
        session,
        principal=principal,
        account_id=account.id,
        changes=AccountUpdate(**changes),
        if_match=etag_for(account.version),
    )
    return True


Writer = Callable[..., bool]


def _write_facts(
    session: Session,
    principal: Principal,
    target: Target,
    account: Account,
    reading: AccountReading,
    counts: SyncCounts,
) -> bool:
    common = {"principal": principal, "account_id": account.id, "source": target.source}

    def record(reading_: Reading[T] | None, write: Writer, convert: Callable[[T], Any]) -> bool:
        if reading_ is None:
            return False
        payload, problem = _convert(reading_, convert)
        if problem is None:
            return write(session, payload, observed_at=reading_.observed_at, **common)
        counts.facts_errored += 1
        return write(session, None, fact_status=FactStatus.ERROR, error_reason=problem, **common)

    if reading.last_sign_in is not None and not reading.last_sign_in.ok:
        counts.facts_errored += 1
    recovery = _recovery_converter(session, account.id)
    changes = [
        record(reading.mfa, _mfa_writer, _mfa_in),
        record(reading.methods, _methods_writer, _methods_in),
        record(reading.recovery, _recovery_writer, recovery),
        record(
            reading.admins, _admins_writer, lambda admins: _admins_in(session, principal, admins)
        ),
        record(reading.apps, _apps_writer, _apps_converter(session, account.id)),
    ]
    return any(changes)


def _convert(reading: Reading[T], convert: Callable[[T], Any]) -> tuple[Any, str | None]:
    """The service payload for a reading, or why there is none (never a default value)."""
    if reading.error is not None:
        return None, reading.error
    if reading.value is None:
        return None, "no value was read"
    try:
        return convert(reading.value), None
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return None, f"value not valid for the inventory: {', '.join(fields)}"[:500]


def _mfa_writer(session: Session, payload: Any, **kwargs: Any) -> bool:
    return accounts.set_mfa_state(session, state=payload, **kwargs)


def _methods_writer(session: Session, payload: Any, **kwargs: Any) -> bool:
    return accounts.replace_mfa_methods(session, methods=payload, **kwargs)


def _recovery_writer(session: Session, payload: Any, **kwargs: Any) -> bool:
    return accounts.set_recovery(session, recovery=payload, **kwargs)


def _admins_writer(session: Session, payload: Any, **kwargs: Any) -> bool:
    return accounts.replace_admins(session, admins=payload, **kwargs)


def _apps_writer(session: Session, payload: Any, **kwargs: Any) -> bool:
    return accounts.replace_apps(session, apps=payload, **kwargs)


def _mfa_in(value: MfaReading) -> MfaStateIn:
    return MfaStateIn(mfa_enabled=value.enabled, mfa_enforced=value.enforced)


def _methods_in(value: tuple[str, ...]) -> list[str]:
    # Stored as reported (the strength table maps them); an unprintable or huge string is cut,
    # and still maps to ``unknown``.
    return [m for m in (_text(v, 100) for v in value) if m]


def _recovery_converter(
    session: Session, account_id: uuid.UUID
) -> Callable[[RecoveryReading], RecoveryIn]:
    """Vendor address and phone, keeping what officers attested (owner, lock, codes, check)."""
    existing = repository.recovery_row(session, account_id)

    def convert(value: RecoveryReading) -> RecoveryIn:
        kept: dict[str, Any] = {}
        if existing is not None:
            kept = {
                "phone_owner": existing.phone_owner,
                "carrier_lock": existing.carrier_lock,
                "backup_codes_escrowed": existing.backup_codes_escrowed,
                "last_verified_at": existing.last_verified_at,
            }
        return RecoveryIn(email=value.email, phone=value.phone, **kept)

    return convert


def _admins_in(
    session: Session, principal: Principal, admins: tuple[AdminReading, ...]
) -> list[AdminIn]:
    result = []
    for admin in admins:
        identity = _text(admin.identity, 320) or admin.external_id
        person = (
            accounts.find_person_by_email(session, principal=principal, email=identity)
            if "@" in identity
            else None
        )
        external = "#EXT#" in identity.upper()
        result.append(
            AdminIn(
                person_id=person.id if person else None,
                external_identity=identity,
                external_id=admin.external_id,
                platform_role=_text(admin.role),
                affiliation=Affiliation.EXTERNAL if external else Affiliation.MINISTRY,
                last_sign_in_at=admin.last_sign_in_at,
            )
        )
    return result


def _apps_converter(
    session: Session, account_id: uuid.UUID
) -> Callable[[tuple[AppReading, ...]], list[ConnectedAppIn]]:
    """Vendor grants, keeping each app's review marks (allow-listed, last reviewed)."""
    reviews = repository.app_reviews(session, account_id)

    def convert(apps: tuple[AppReading, ...]) -> list[ConnectedAppIn]:
        result = []
        for app in apps:
            allow_listed, reviewed = reviews.get(app.external_id, (False, None))
            result.append(
                ConnectedAppIn(
                    name=_text(app.name) or app.external_id[:MAX_TEXT],
                    publisher=_text(app.publisher),
                    scopes=[s for s in (_text(x, 500) for x in app.scopes[:MAX_SCOPES]) if s],
                    granted_by=_text(app.granted_by, 320),
                    allow_listed=allow_listed,
                    last_reviewed_at=reviewed,
                    external_id=_text(app.external_id),
                )
            )
        return result

    return convert
