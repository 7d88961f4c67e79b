"""Write one fact group of one account and say what it was before and after.

Each writer takes the account (already checked writable), the group's payload and the
``Evidence``, and returns JSON snapshots (without timestamps of observation, so a re-read of
unchanged facts is not a change). With an ``ok`` status the payload replaces the group; with
``error`` or ``missing`` the recorded values are kept as the last known ones and every row of
the group is marked with the status and reason, so nothing reads as current or as a pass.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col

from secops.accounts import masking, repository
from secops.accounts.fact_schemas import (
    AdminIn,
    ConnectedAppIn,
    CredentialIn,
    MfaStateIn,
    RecoveryIn,
)
from secops.accounts.mfa import strength_of
from secops.accounts.models import (
    API_SOURCE_PREFIX,
    ATTESTED,
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountMfaMethod,
    ConnectedApp,
    CredentialFacts,
    FactGroup,
    FactProvenance,
    FactStatus,
    MfaFacts,
    Provenanced,
    RecoveryFacts,
)
from secops.core.crypto import decrypt_field, encrypt_field
from secops.core.errors import NotFound
from secops.core.principal import Principal

_API_SOURCE = re.compile(r"^api:[a-z0-9_]{1,40}$")
Snapshot = Any


@dataclass(frozen=True)
class Evidence:
    """Provenance stamped on every row a writer touches."""

    source: str
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    fact_status: FactStatus
    error_reason: str | None
    recorded_at: datetime

    @classmethod
    def of(
        cls,
        *,
        principal: Principal,
        source: str,
        now: datetime,
        observed_at: datetime | None,
        fact_status: FactStatus,
        error_reason: str | None,
    ) -> Evidence:
        """Check the source and status; attested facts are observed now, by the principal."""
        if source != ATTESTED and not _API_SOURCE.match(source):
            raise ValueError(f"source must be {ATTESTED!r} or '{API_SOURCE_PREFIX}<kind>'")
        if fact_status != FactStatus.OK and not error_reason:
            raise ValueError("a fact that is not ok needs an error_reason")
        if fact_status == FactStatus.OK:
            error_reason = None
        attested = source == ATTESTED
        return cls(
            source=source,
            observed_at=now if attested else (observed_at or now),
            attested_by=principal.id if attested else None,
            fact_status=FactStatus(fact_status),
            error_reason=error_reason[:500] if error_reason else None,
            recorded_at=now,
        )

    @property
    def ok(self) -> bool:
        """True when the facts were obtained."""
        return self.fact_status == FactStatus.OK

    def stamp(self, row: Provenanced) -> None:
        """Set the row's provenance; a failed read keeps the age of the last good evidence."""
        if self.ok or row.observed_at is None:
            row.observed_at = self.observed_at if self.ok else None
        row.source = self.source
        row.attested_by = self.attested_by
        row.fact_status = self.fact_status
        row.error_reason = self.error_reason
        row.recorded_at = self.recorded_at


def _status(row: Provenanced | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {"source": row.source, "fact_status": str(row.fact_status), "reason": row.error_reason}


# -- one-to-one groups ----------------------------------------------------------------------


def write_mfa_state(
    session: Session, principal: Principal, account: Account, state: MfaStateIn | None, ev: Evidence
) -> tuple[Snapshot, Snapshot]:
    """MFA on/enforced."""
    row = repository.fact_sheet(session, account.id).mfa()
    before = _mfa_snapshot(row)
    if ev.ok:
        state = state or MfaStateIn()
        row.mfa_enabled, row.mfa_enforced = state.mfa_enabled, state.mfa_enforced
    ev.stamp(row)
    return before, _mfa_snapshot(row)


def _mfa_snapshot(row: MfaFacts) -> Snapshot:
    if not row.recorded:
        return None
    return {"mfa_enabled": row.mfa_enabled, "mfa_enforced": row.mfa_enforced, **_status(row)}


def write_recovery(
    session: Session, principal: Principal, account: Account, data: RecoveryIn | None, ev: Evidence
) -> tuple[Snapshot, Snapshot]:
    """Recovery address and phone (encrypted), phone owner, carrier lock, codes, verification."""
    row = repository.fact_sheet(session, account.id).recovery()
    before = _recovery_snapshot(row)
    replaced: dict[str, bool] = {}
    if ev.ok:
        data = data or RecoveryIn()
        replaced["email_replaced"] = _set_email(session, row, data.email)
        replaced["phone_replaced"] = _set_phone(session, row, data.phone)
        row.phone_owner = data.phone_owner
        row.carrier_lock = data.carrier_lock
        row.backup_codes_escrowed = data.backup_codes_escrowed
        # An officer attesting recovery details has just checked them.
        attested_now = ev.source == ATTESTED and data.last_verified_at is None
        row.last_verified_at = ev.observed_at if attested_now else data.last_verified_at
    ev.stamp(row)
    after = _recovery_snapshot(row)
    # Two addresses can share a mask; say so when the stored value changed behind the same mask.
    after.update({k: True for k, v in replaced.items() if v})
    return before, after


def _recovery_snapshot(row: RecoveryFacts) -> Snapshot:
    if not row.recorded:
        return None
    snapshot = row.snapshot()
    for key in ("observed_at", "attested_by", "error_reason"):
        snapshot.pop(key, None)
    return snapshot


def _same_secret(session: Session, row: RecoveryFacts, column: str, new: str | None) -> bool:
    blob: bytes | None = getattr(row, column)
    if blob is None or new is None:
        return blob is None and new is None
    old = decrypt_field(
        session, table="account_recovery", column=column, row_id=row.account_id, blob=blob
    )
    return old == new


def _encrypt(session: Session, row: RecoveryFacts, column: str, value: str) -> bytes:
    return encrypt_field(
        session, table="account_recovery", column=column, row_id=row.account_id, plaintext=value
    )


def _set_email(session: Session, row: RecoveryFacts, email: str | None) -> bool:
    if _same_secret(session, row, "email", email):
        return False
    row.email = _encrypt(session, row, "email", email) if email else None
    row.email_hint = masking.mask_email(email) if email else None
    row.email_domain = masking.email_domain(email) if email else None
    row.email_account_id = repository.mailbox_for_address(session, email) if email else None
    return True


def _set_phone(session: Session, row: RecoveryFacts, phone: str | None) -> bool:
    if _same_secret(session, row, "phone", phone):
        return False
    row.phone = _encrypt(session, row, "phone", phone) if phone else None
    row.phone_hint = masking.mask_phone(phone) if phone else None
    return True


def write_credential(
    session: Session,
    principal: Principal,
    account: Account,
    data: CredentialIn | None,
    ev: Evidence,
) -> tuple[Snapshot, Snapshot]:
    """Password storage, rotation, length policy, breach check, and the shared holders."""
    row = repository.fact_sheet(session, account.id).credential()
    before = _credential_snapshot(session, row)
    if ev.ok:
        data = data or CredentialIn()
        row.storage = data.storage
        row.last_rotated_at = data.last_rotated_at
        row.min_length = data.min_length
        row.breach_checked_at = data.breach_checked_at
        if data.holder_ids is not None:
            _replace_holders(session, principal, account.id, data.holder_ids)
    ev.stamp(row)
    session.flush()
    return before, _credential_snapshot(session, row)


def _credential_snapshot(session: Session, row: CredentialFacts) -> Snapshot:
    if not row.recorded:
        return None
    snapshot = {k: v for k, v in row.snapshot().items() if k in {"storage", "min_length"}}
    snapshot["last_rotated_at"] = _iso(row.last_rotated_at)
    snapshot["breach_checked_at"] = _iso(row.breach_checked_at)
    snapshot["holders"] = [str(h) for h in repository.holders_of(session, row.account_id)]
    return {**snapshot, **_status(row)}


def _replace_holders(
    session: Session, principal: Principal, account_id: uuid.UUID, holder_ids: list[uuid.UUID]
) -> None:
    wanted = set(holder_ids)
    if len(repository.people_visible(session, principal, wanted)) != len(wanted):
        raise NotFound("A credential holder was not found (field: credential.holder_ids).")
    session.execute(
        delete(AccountCredentialHolder).where(col(AccountCredentialHolder.account_id) == account_id)
    )
    session.add_all(AccountCredentialHolder(account_id=account_id, person_id=p) for p in wanted)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- list groups ----------------------------------------------------------------------------


def _replace_items(
    session: Session,
    group: FactGroup,
    account_id: uuid.UUID,
    existing: Sequence[Any],
    wanted: dict[Any, dict[str, Any]],
    make: Callable[[dict[str, Any]], FactProvenance],
    key: Callable[[Any], Any],
    ev: Evidence,
) -> None:
    """Make the group's rows match ``wanted`` (by key), or mark them all when not ok."""
    if ev.ok:
        current = {key(row): row for row in existing}
        for item_key, row in current.items():
            if item_key not in wanted:
                session.delete(row)
        for item_key, values in wanted.items():
            row = current.get(item_key) or make(values)
            for name, value in values.items():
                setattr(row, name, value)
            ev.stamp(row)
            session.add(row)
    else:
        for row in existing:
            ev.stamp(row)
    ev.stamp(repository.fact_sheet(session, account_id).group(group))
    session.flush()


def write_mfa_methods(
    session: Session,
    principal: Principal,
    account: Account,
    methods: Sequence[str] | None,
    ev: Evidence,
) -> tuple[Snapshot, Snapshot]:
    """The registered second factors, each mapped to its strength tier."""
    existing = repository.methods_of(session, [account.id])[account.id]
    before = _list_snapshot(session, account.id, FactGroup.MFA_METHODS, existing, _method_view)
    wanted = {m: {"method": m, "strength": strength_of(m)} for m in dict.fromkeys(methods or [])}
    _replace_items(
        session,
        FactGroup.MFA_METHODS,
        account.id,
        existing,
        wanted,
        lambda v: AccountMfaMethod(account_id=account.id, **v),
        lambda row: row.method,
        ev,
    )
    current = repository.methods_of(session, [account.id])[account.id]
    return before, _list_snapshot(session, account.id, FactGroup.MFA_METHODS, current, _method_view)


def _method_view(row: AccountMfaMethod) -> Any:
    return {"method": row.method, "strength": str(row.strength), **_status(row)}


def _list_snapshot(
    session: Session,
    account_id: uuid.UUID,
    group: FactGroup,
    rows: Sequence[Any],
    view: Callable[[Any], Any],
) -> Snapshot:
    sheet = repository.sheet_of(session, account_id)
    recorded = sheet.group(group).if_recorded() if sheet is not None else None
    if recorded is None and not rows:
        return None
    items = sorted((view(r) for r in rows), key=repr)
    return {"items": items, **_status(recorded)}


def write_admins(
    session: Session,
    principal: Principal,
    account: Account,
    admins: Sequence[AdminIn] | None,
    ev: Evidence,
) -> tuple[Snapshot, Snapshot]:
    """The account's administrators, matched by person, external id or identity."""
    existing = [admin for admin, _ in repository.admins_of(session, account.id)]
    before = _list_snapshot(session, account.id, FactGroup.ADMINS, existing, _admin_view)
    wanted = _wanted_admins(session, principal, admins or []) if ev.ok else {}
    _replace_items(
        session,
        FactGroup.ADMINS,
        account.id,
        existing,
        wanted,
        lambda v: AccountAdmin(account_id=account.id, **v),
        _admin_key,
        ev,
    )
    current = [admin for admin, _ in repository.admins_of(session, account.id)]
    return before, _list_snapshot(session, account.id, FactGroup.ADMINS, current, _admin_view)


def _admin_key(row: AccountAdmin | AdminIn) -> tuple[str, str]:
    if row.person_id is not None:
        return ("person", str(row.person_id))
    if row.external_id is not None:
        return ("external_id", row.external_id)
    return ("identity", (row.external_identity or "").lower())


def _wanted_admins(
    session: Session, principal: Principal, admins: Sequence[AdminIn]
) -> dict[Any, dict[str, Any]]:
    people = repository.people_visible(
        session, principal, {a.person_id for a in admins if a.person_id}
    )
    wanted: dict[Any, dict[str, Any]] = {}
    for admin in admins:
        person = people.get(admin.person_id) if admin.person_id else None
        if admin.person_id and person is None:
            raise NotFound("An admin's person was not found (field: admins.person_id).")
        address = person.email if person else admin.external_identity or ""
        domain = admin.email_domain or (masking.email_domain(address) if "@" in address else None)
        values = admin.model_dump(exclude={"email_domain"})
        wanted[_admin_key(admin)] = {**values, "email_domain": domain}
    return wanted


def _admin_view(row: AccountAdmin) -> Any:
    # The last sign-in moves with every sync; it is stored, but is not a change worth an event.
    view = row.snapshot()
    for key in ("last_sign_in_at", "observed_at", "attested_by", "error_reason"):
        view.pop(key, None)
    return view


def write_apps(
    session: Session,
    principal: Principal,
    account: Account,
    apps: Sequence[ConnectedAppIn] | None,
    ev: Evidence,
) -> tuple[Snapshot, Snapshot]:
    """The account's connected apps, matched by external id or by name and publisher."""
    existing = repository.apps_of(session, account.id)
    before = _list_snapshot(session, account.id, FactGroup.APPS, existing, _app_view)
    wanted = {_app_key(app): app.model_dump() for app in apps or []} if ev.ok else {}
    _replace_items(
        session,
        FactGroup.APPS,
        account.id,
        existing,
        wanted,
        lambda v: ConnectedApp(account_id=account.id, **v),
        _app_key,
        ev,
    )
    current = repository.apps_of(session, account.id)
    return before, _list_snapshot(session, account.id, FactGroup.APPS, current, _app_view)


def _app_key(row: ConnectedApp | ConnectedAppIn) -> tuple[str, ...]:
    if row.external_id is not None:
        return ("external_id", row.external_id)
    return ("name", row.name.lower(), (row.publisher or "").lower())


def _app_view(row: ConnectedApp) -> Any:
    view = row.snapshot()
    for key in ("observed_at", "attested_by", "error_reason"):
        view.pop(key, None)
    return view
