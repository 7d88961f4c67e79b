"""One account's facts as the evaluator sees them: values by field name, and their provenance.

The evaluator never touches the ORM: :func:`load_facts` reads the inventory for a scope in a few
bulk queries and returns plain :class:`AccountFacts`. Values are keyed by the names in
:mod:`secops.policy.fields`; a collection is a list of ``dict`` records keyed by its element names.
A group that was never recorded has no provenance (``groups[g] is None``) and every field in it is
unknown; a group whose source failed has ``status == "error"`` and its reason.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import DateTime, Select, Text, cast, select, type_coerce
from sqlmodel import Session, col

from secops.accounts.models import (
    Account,
    AccountAdmin,
    AccountCredentialHolder,
    AccountFactSheet,
    AccountMfaMethod,
    ConnectedApp,
    FactGroup,
    MfaStrength,
    Person,
)
from secops.core.principal import Permission, Principal
from secops.missions.scope import scope
from secops.policy.fields import EMAIL_METHODS, FIELDS, PHONE_METHODS, Group, method_key

ProvenanceStatus = Literal["ok", "error", "missing"]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a fact group came from and when it was true."""

    source: str  # "attested" or "api:<connector>"
    observed_at: datetime | None
    attested_by: uuid.UUID | None
    status: ProvenanceStatus = "ok"
    reason: str | None = None

    def age_days(self, now: datetime) -> int | None:
        """Whole days since the facts were observed; None when the date is unknown."""
        return None if self.observed_at is None else max(0, (now - self.observed_at).days)


@dataclass(slots=True)
class AccountFacts:
    """Everything a policy may ask about one account."""

    account_id: uuid.UUID
    mission_id: uuid.UUID
    values: dict[str, Any]
    groups: dict[Group, Provenance | None] = field(default_factory=dict)
    # The inventoried mailbox that receives this account's recovery mail, if any (rule 17).
    recovery_email_account_id: uuid.UUID | None = None


# -- loading ---------------------------------------------------------------------------------

_EMPTY_VALUES: Final[dict[str, Any]] = dict.fromkeys(FIELDS)
_EMPTY_GROUPS: Final[dict[Group, Provenance | None]] = dict.fromkeys(Group)
_LIST_GROUPS: Final = {
    FactGroup.MFA_METHODS.value: Group.MFA_METHODS,
    FactGroup.ADMINS.value: Group.ADMINS,
    FactGroup.APPS.value: Group.APPS,
}
# secops.accounts.mfa.best_strength's order, on the stored strings (no enum per method).
_RANK: Final[dict[str, int]] = {strength.value: strength.rank for strength in MfaStrength}
_NO_METHOD: Final = MfaStrength.NONE.value
# The inventory row and the staff directory speak for themselves: no attestation, no connector.
INVENTORY_SOURCE: Final = "inventory"
DIRECTORY_SOURCE: Final = "directory"


def load_facts(
    session: Session,
    principal: Principal,
    *,
    mission_ids: Collection[uuid.UUID] | None,
    account_ids: Collection[uuid.UUID] | None = None,
    permission: Permission = Permission.POLICY_RUN,
) -> list[AccountFacts]:
    """The facts of every account the principal may evaluate, in account-id order.

    One Core ``select`` per table, each joined to ``account`` and narrowed through
    :func:`secops.missions.scope.scope` (``permission`` on the account's mission), to
    ``mission_ids`` when given (the caller expands a mission to its children), and to
    ``account_ids`` when given (e.g. recovery mailboxes outside the evaluated missions). No ORM
    objects and no decryption: the recovery address and number are never read, only whether
    they exist, their domain and the linked mailbox.
    """
    session.flush()  # the statements below run on the connection, past the ORM's autoflush
    loader = _Loader(session, principal, permission, mission_ids, account_ids)
    with _cyclic_gc_paused():
        facts = loader.accounts()
        if facts:
            loader.sheets(facts)
            loader.people_lists(facts)
            loader.methods_and_apps(facts)
    return list(facts.values())


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a load builds its objects (restored after).

    Every full collection walks all the facts built so far, and a load of 50,000 accounts
    triggers many: pausing halves its time. Nothing built here forms a reference cycle, so
    reference counting still frees all of it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Ids and timestamps are read as the driver returns them and converted here, once per distinct
# value: SQLAlchemy's per-value processors cost more than the rest of a load of 50,000 accounts.
def _raw(column: Any) -> Any:
    # As text on both databases: psycopg would build a UUID object per id otherwise, and
    # text hashes in C where a UUID hashes in Python (each row is looked up by its account).
    return cast(col(column), Text)


def _raw_time(column: Any) -> Any:
    return type_coerce(col(column), DateTime())


def _utc(value: datetime | None) -> datetime | None:
    """What :class:`secops.core.db.UTCDateTime` reads back: aware, in UTC."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The provenance columns read, in the order ``_Loader.provenance`` takes them.
PROVENANCE: Final = ("source", "observed_at", "attested_by", "fact_status", "error_reason")


def _provenance_columns(model: Any, prefix: str | None = None) -> list[Any]:
    def column(name: str) -> Any:
        return getattr(model, f"{prefix}_{name}" if prefix else name)

    return [
        col(column("source")),
        _raw_time(column("observed_at")),
        _raw(column("attested_by")),
        col(column("fact_status")),
        col(column("error_reason")),
    ]


class _Loader:
    """The queries of one ``load_facts`` call, sharing its scope and its conversions."""

    def __init__(
        self,
        session: Session,
        principal: Principal,
        permission: Permission,
        mission_ids: Collection[uuid.UUID] | None,
        account_ids: Collection[uuid.UUID] | None,
    ) -> None:
        self.session = session
        self.principal = principal
        self.permission = permission
        self.mission_ids = None if mission_ids is None else sorted(set(mission_ids))
        self.account_ids = None if account_ids is None else sorted(set(account_ids))
        self.ids: dict[Any, uuid.UUID] = {}
        # Facts recorded together (an import, a sync) share one provenance object.
        self.provenances: dict[tuple[Any, ...], Provenance] = {}

    def rows(self, statement: Any) -> Sequence[Any]:
        """``statement`` (already joined to ``account``) run within the scope."""
        scoped: Select[Any] = scope(statement, self.principal, self.permission, Account.mission_id)
        if self.mission_ids is not None:
            scoped = scoped.where(col(Account.mission_id).in_(self.mission_ids))
        if self.account_ids is not None:
            scoped = scoped.where(col(Account.id).in_(self.account_ids))
        return self.session.connection().execute(scoped).all()

    def uuid(self, raw: Any) -> uuid.UUID:
        """An id as the driver returned it (hex text on SQLite, a UUID on PostgreSQL)."""
        found = self.ids.get(raw)
        if found is None:
            found = self.ids[raw] = raw if isinstance(raw, uuid.UUID) else uuid.UUID(raw)
        return found

    def provenance(
        self, source: str, observed: Any, by: Any, status: str, reason: Any
    ) -> Provenance:
        """The provenance of a fact row, shared with identical rows."""
        key = (source, observed, by, status, reason)
        found = self.provenances.get(key)
        if found is None:
            state: ProvenanceStatus = status  # type: ignore[assignment]  # a FactStatus value
            by_id = None if by is None else self.uuid(by)
            found = Provenance(source, _utc(observed), by_id, state, reason)
            self.provenances[key] = found
        return found

    def accounts(self) -> dict[Any, AccountFacts]:
        """The account rows with their owner's directory entry, by raw account id."""
        columns = (
            _raw(Account.id), _raw(Account.mission_id), col(Account.platform), col(Account.tier),
            col(Account.kind), col(Account.status), col(Account.handle),
            _raw_time(Account.last_activity_at), col(Account.verified_badge),
            col(Account.in_public_registry), _raw_time(Account.updated_at),
            _raw(Account.owner_id), col(Person.full_name), col(Person.status),
            _raw_time(Person.updated_at),
        )  # fmt: skip
        query = (
            select(*columns)
            .select_from(Account)
            .outerjoin(Person, col(Person.id) == col(Account.owner_id))
            .order_by(col(Account.id))
        )
        found: dict[Any, AccountFacts] = {}
        for (raw_id, mission, platform, tier, kind, status, handle, last_activity, badge,
             registry, updated, owner, owner_name, owner_status,
             owner_updated) in self.rows(query):  # fmt: skip
            values = dict(_EMPTY_VALUES)
            values["account.platform"], values["account.tier"] = platform, tier
            values["account.kind"], values["account.status"] = kind, status
            values["account.handle"], values["account.owner"] = handle, owner_name
            values["account.last_activity_at"] = _utc(last_activity)
            values["account.verified_badge"] = badge
            values["account.in_public_registry"] = registry
            values["owner.status"] = owner_status
            groups = dict(_EMPTY_GROUPS)
            groups[Group.ACCOUNT] = self.provenance(INVENTORY_SOURCE, updated, None, "ok", None)
            if owner is not None:
                groups[Group.OWNER] = self.provenance(
                    DIRECTORY_SOURCE, owner_updated, None, "ok", None
                )
            account_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else raw_id
            found[raw_id] = AccountFacts(account_id, self.uuid(mission), values, groups)
        return found

    def sheets(self, facts: dict[Any, AccountFacts]) -> None:
        """The fact sheets: MFA state, recovery and credential, and when each list group was
        seen as a whole. A group never recorded keeps no provenance."""
        sheet = AccountFactSheet
        query = select(
            _raw(sheet.account_id), col(sheet.mfa_enabled), col(sheet.mfa_enforced),
            *_provenance_columns(sheet, "mfa"),
            col(sheet.recovery_email_domain), _raw(sheet.recovery_email_account_id),
            col(sheet.recovery_phone).is_not(None).label("phone_set"),
            col(sheet.recovery_phone_owner), col(sheet.recovery_carrier_lock),
            col(sheet.recovery_backup_codes_escrowed),
            _raw_time(sheet.recovery_last_verified_at), *_provenance_columns(sheet, "recovery"),
            col(sheet.credential_storage), _raw_time(sheet.credential_last_rotated_at),
            col(sheet.credential_min_length), _raw_time(sheet.credential_breach_checked_at),
            *_provenance_columns(sheet, "credential"),
            *(c for g in _LIST_GROUPS for c in _provenance_columns(sheet, g)),
        ).join(Account, col(Account.id) == col(sheet.account_id))  # fmt: skip
        width = len(PROVENANCE)
        for account, enabled, enforced, *rest in self.rows(query):
            target = facts[account]
            values = target.values
            mfa, rest = rest[:width], rest[width:]
            if mfa[0] is not None:
                values["mfa.enabled"], values["mfa.enforced"] = enabled, enforced
                target.groups[Group.MFA] = self.provenance(*mfa)
            (domain, mailbox, phone, owner, lock, codes, verified), rest = rest[:7], rest[7:]
            recovery, rest = rest[:width], rest[width:]
            if recovery[0] is not None:
                values["recovery.email_domain"] = domain
                values["recovery.email_inventoried"] = mailbox is not None
                values["recovery.phone_set"] = bool(phone)
                values["recovery.phone_owner"], values["recovery.carrier_lock"] = owner, lock
                values["recovery.backup_codes_escrowed"] = codes
                values["recovery.last_verified_at"] = _utc(verified)
                target.recovery_email_account_id = None if mailbox is None else self.uuid(mailbox)
                target.groups[Group.RECOVERY] = self.provenance(*recovery)
            (storage, rotated, length, breach), rest = rest[:4], rest[4:]
            credential, rest = rest[:width], rest[width:]
            if credential[0] is not None:
                values["credential.storage"] = storage
                values["credential.last_rotated_at"] = _utc(rotated)
                values["credential.min_length"] = length
                values["credential.breach_checked_at"] = _utc(breach)
                values["credential.holders"] = []
                target.groups[Group.CREDENTIAL] = self.provenance(*credential)
            for group in _LIST_GROUPS.values():
                prov, rest = rest[:width], rest[width:]
                if prov[0] is not None:
                    target.groups[group] = self.provenance(*prov)
                    values["mfa.methods" if group is Group.MFA_METHODS else group.value] = []

    def people_lists(self, facts: dict[Any, AccountFacts]) -> None:
        """Credential holders and admins, with their directory status and leaving date."""
        columns = (
            _raw(AccountCredentialHolder.account_id), col(Person.full_name),
            col(Person.status), _raw_time(Person.left_at),
        )  # fmt: skip
        holders = (
            select(*columns)
            .join(Account, col(Account.id) == col(AccountCredentialHolder.account_id))
            .join(Person, col(Person.id) == col(AccountCredentialHolder.person_id))
        )
        for account, name, status, left_at in self.rows(holders):
            records = facts[account].values["credential.holders"]
            if records is not None:
                records.append({"label": name, "person_status": status, "left_at": _utc(left_at)})
        admin_columns = (
            _raw(AccountAdmin.account_id), _raw(AccountAdmin.person_id), col(Person.full_name),
            col(Person.status), _raw_time(Person.left_at), col(AccountAdmin.external_identity),
            col(AccountAdmin.platform_role), col(AccountAdmin.affiliation),
            col(AccountAdmin.email_domain), _raw_time(AccountAdmin.last_sign_in_at),
        )  # fmt: skip
        admins = (
            select(*admin_columns)
            .join(Account, col(Account.id) == col(AccountAdmin.account_id))
            .outerjoin(Person, col(Person.id) == col(AccountAdmin.person_id))
        )
        for (account, person, name, status, left_at, identity, role, affiliation, domain,
             signed_in) in self.rows(admins):  # fmt: skip
            records = facts[account].values["admins"]
            if records is not None:
                records.append(
                    {
                        "label": name or identity or role,
                        "named": person is not None,
                        "person_status": status,
                        "left_at": _utc(left_at),
                        "affiliation": affiliation,
                        "email_domain": domain,
                        "last_sign_in_at": _utc(signed_in),
                        "platform_role": role,
                    }
                )
        for target in facts.values():
            for name in ("credential.holders", "admins"):
                if target.values[name]:
                    target.values[name].sort(key=_by_label)

    def methods_and_apps(self, facts: dict[Any, AccountFacts]) -> None:
        """Registered MFA methods (and what they imply) and connected apps."""
        methods = select(
            _raw(AccountMfaMethod.account_id), col(AccountMfaMethod.method),
            col(AccountMfaMethod.strength),
        ).join(Account, col(Account.id) == col(AccountMfaMethod.account_id))  # fmt: skip
        registered: dict[Any, list[tuple[str, str]]] = {}
        for account, method, strength in self.rows(methods):
            registered.setdefault(account, []).append((method, strength))
        for account, target in facts.items():
            if target.values["mfa.methods"] is not None:
                _mfa_derived(target.values, sorted(registered.get(account, ())))
        apps = select(
            _raw(ConnectedApp.account_id), col(ConnectedApp.name), col(ConnectedApp.publisher),
            col(ConnectedApp.allow_listed), _raw_time(ConnectedApp.granted_at),
            _raw_time(ConnectedApp.last_reviewed_at),
        ).join(Account, col(Account.id) == col(ConnectedApp.account_id))  # fmt: skip
        for account, name, publisher, allow_listed, granted, reviewed in self.rows(apps):
            records = facts[account].values["apps"]
            if records is not None:
                records.append(
                    {
                        "label": name,
                        "name": name,
                        "publisher": publisher,
                        "allow_listed": allow_listed,
                        "granted_at": _utc(granted),
                        "last_reviewed_at": _utc(reviewed),
                    }
                )
        for target in facts.values():
            if target.values["apps"]:
                target.values["apps"].sort(key=_by_label)


def _by_label(record: dict[str, Any]) -> str:
    return str(record.get("label") or "")


def _mfa_derived(values: dict[str, Any], methods: list[tuple[str, str]]) -> None:
    """The methods as reported, their tiers, the strongest, and phone or e-mail factors."""
    keys = [method_key(method) for method, _ in methods]
    values["mfa.methods"] = [method for method, _ in methods]
    values["mfa.strengths"] = [strength for _, strength in methods]
    values["mfa.strongest"] = max(
        (strength for _, strength in methods), key=_RANK.__getitem__, default=_NO_METHOD
    )
    values["mfa.phone_factor"] = any(key in PHONE_METHODS for key in keys)
    values["mfa.email_factor"] = any(key in EMAIL_METHODS for key in keys)
