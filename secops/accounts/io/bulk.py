"""Insert the people and accounts an import creates, a few bulk writes per table.

The rows are exactly those the core's fact writers would store for the same cells (hints,
domains, mailbox links, method strengths, whole-list records, administrators and apps matched
by the writers' keys, a recovery attested now being verified now), and the derived
``mfa_strength`` and ``evidence_at`` are computed with the core's own functions, so a created
account reads the same whichever path made it. ``tests/accounts/io/test_created_like_updated``
compares the two paths row by row.

Rows are built as tuples already encoded for the driver (``fastinsert.Encoder``): an account's
id is encoded once for its nine or so rows, the provenance columns once per evidence date, and
the data key is looked up once per import. New ids come in increasing order (``ids``), so the
rows reach every primary-key and ``account_id`` index in key order. Accounts are built
``CHUNK`` at a time; a chunk goes into its tables on a second thread while the next one is
built (``fastinsert.pipelined``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table
from sqlmodel import Session, SQLModel

from secops.accounts import masking
from secops.accounts.facts import mfa_summary, oldest_evidence
from secops.accounts.io import repository
from secops.accounts.io.context import Context, account_key
from secops.accounts.io.factplan import GroupChange
from secops.accounts.io.plan import AccountPlan, PersonPlan
from secops.accounts.io.records import ITEMS, AdminItem, AppItem, Group, ParsedFile
from secops.accounts.io.tables import COLUMNS, INVENTORY_TABLES, PROVENANCE
from secops.accounts.mfa import strength_of
from secops.accounts.models import ATTESTED, FactGroup, FactStatus, MfaStrength, Platform
from secops.core import fastinsert
from secops.core.crypto import associated_data, seal
from secops.core.errors import DecryptionFailed
from secops.core.keyring import KeyUnavailable, keyring_of
from secops.core.logging import get_logger

OK = FactStatus.OK
# The core's name for each group in evidence summaries and whole-list records.
CORE_GROUP: Final = {
    Group.MFA: "mfa",
    Group.MFA_METHODS: FactGroup.MFA_METHODS.value,
    Group.RECOVERY: "recovery",
    Group.CREDENTIAL: "credential",
    Group.ADMINS: FactGroup.ADMINS.value,
    Group.CONNECTED_APPS: FactGroup.APPS.value,
}
RECOVERY: Final = "account_recovery"  # the recovery values' bound place (their AAD)
SHEET: Final = "account_fact_sheet"
# The columns of a group the row does not give: all NULL (see tables.COLUMNS).
NO_PROVENANCE: Final[Row] = (None,) * len(PROVENANCE)
NO_MFA: Final[Row] = (None,) * (2 + len(PROVENANCE))
NO_RECOVERY: Final[Row] = (None,) * (10 + len(PROVENANCE))
NO_CREDENTIAL: Final[Row] = (None,) * (4 + len(PROVENANCE))
# Accounts built per batch; one batch is written while the next is built.
CHUNK: Final = 10_000
log = get_logger("secops.accounts.io")
MAILBOXES: Final = frozenset({Platform.MICROSOFT365, Platform.GOOGLE_WORKSPACE})
Row = tuple[Any, ...]


def table(name: str) -> Table:
    """A table of the metadata, for Core statements."""
    return SQLModel.metadata.tables[name]


def write(session: Session, name: str, rows: Sequence[Row]) -> None:
    """Insert encoded rows (tuples in ``COLUMNS[name]`` order) into one table."""
    if rows:
        fastinsert.insert_encoded(session, table(name), COLUMNS[name], rows)


def insert_people(session: Session, people: Sequence[PersonPlan], now: datetime) -> None:
    """Create the planned people."""
    enc = fastinsert.encoder_for(session)
    stamp = enc.time(now)
    rows = []
    for person in people:
        fields = person.fields
        rows.append(
            (
                enc.uuid(person.person_id),
                fields["full_name"],
                fields["email"],
                enc.uuid(fields["mission_id"]),
                fields["position"],
                str(fields["status"]),
                enc.time(fields["left_at"]),
                stamp,
                stamp,
                1,
            )
        )
    write(session, "person", rows)


def _primary_key(session: Session) -> tuple[uuid.UUID, AESGCM]:
    """The primary data key, found (or created) once for the whole import.

    It cannot change before the transaction ends (writers hold the keyring's shared lock), so
    every value of the import is sealed under it, each with its own nonce and associated data.
    """
    try:
        return keyring_of(session).primary_for_writes(session)
    except KeyUnavailable as exc:
        log.error("crypto.encrypt_failed", table=RECOVERY, reason=exc.reason)
        raise DecryptionFailed("The data key could not be unwrapped; nothing was stored.") from None


class Builder:
    """Turns planned accounts into encoded rows, with the evidence of the importing principal."""

    def __init__(
        self,
        session: Session,
        context: Context,
        mailboxes: dict[str, uuid.UUID],
        needs_key: bool,
    ) -> None:
        self.context = context
        self.mailboxes = mailboxes
        self.enc = enc = fastinsert.encoder_for(session)
        self.now = enc.time(context.now)
        self.attested_by = enc.uuid(context.principal.id)
        self.rows: dict[str, list[Row]] = {name: [] for name in INVENTORY_TABLES[1:]}
        self._provenance: dict[datetime, Row] = {}
        self._strengths: dict[str, MfaStrength] = {}
        self._ids = enc.new_ids()
        # Looked up once, here, so that building rows never touches the session.
        self._key = _primary_key(session) if needs_key else None
        self._people = {email: enc.uuid(ref.id) for email, ref in context.people.items()}

    def take(self) -> dict[str, list[Row]]:
        """The rows built so far, by table, parents first; the builder starts empty again."""
        taken, self.rows = self.rows, {name: [] for name in INVENTORY_TABLES[1:]}
        return taken

    def provenance(self, observed_at: datetime) -> Row:
        """The provenance columns of every row of a group observed then."""
        found = self._provenance.get(observed_at)
        if found is None:
            found = (
                ATTESTED,
                self.enc.time(observed_at),
                self.attested_by,
                OK.value,
                None,
                self.now,
            )
            self._provenance[observed_at] = found
        return found

    def account(self, plan: AccountPlan) -> None:
        """The account's row, its fact sheet and the rows of every list it was given."""
        enc, rows = self.enc, self.rows
        account_id = enc.uuid(plan.account_id)
        strengths: list[MfaStrength] = []
        facts: dict[str, tuple[FactStatus, datetime | None, Any]] = {}
        mfa = methods = recovery = credential = admins = apps = None
        for change in plan.groups:
            group, values = change.group, change.values
            prov = self.provenance(change.observed_at)
            facts[CORE_GROUP[group]] = (OK, change.observed_at, values.get("enabled"))
            if group is Group.MFA:
                mfa = (values["enabled"], values["enforced"], *prov)
            elif group is Group.RECOVERY:
                recovery = self._recovery(plan, change, prov)
            elif group is Group.CREDENTIAL:
                credential = self._credential(account_id, values, prov)
            elif group is Group.MFA_METHODS:
                methods = prov
                strengths += self._methods(account_id, values[ITEMS], prov)
            elif group is Group.ADMINS:
                admins = prov
                self._admins(account_id, values[ITEMS], prov)
            else:
                apps = prov
                self._apps(account_id, values[ITEMS], prov)
        if plan.groups:
            # The sheet's columns in table order; a group not given leaves its columns NULL.
            rows[SHEET].append(
                (account_id,)
                + (mfa or NO_MFA)
                + (methods or NO_PROVENANCE)
                + (recovery or NO_RECOVERY)
                + (credential or NO_CREDENTIAL)
                + (admins or NO_PROVENANCE)
                + (apps or NO_PROVENANCE)
            )
        fields = plan.fields
        strength = mfa_summary(facts, strengths)
        rows["account"].append(
            (
                account_id,
                plan.platform.value,
                plan.handle,
                fields["url"],
                fields["display_name"],
                enc.uuid(fields["mission_id"]),
                str(fields["tier"]),
                str(fields["kind"]),
                enc.uuid(fields["owner_id"]),
                str(fields["status"]),
                enc.time(fields["last_activity_at"]),
                fields["verified_badge"],
                fields["in_public_registry"],
                None,
                None if strength is None else strength.value,
                enc.time(oldest_evidence(facts)),
                self.now,
                self.now,
                1,
            )
        )

    def _methods(self, account_id: Any, methods: list[str], prov: Row) -> list[MfaStrength]:
        # The parser already removed repeats, as the core's writer does.
        known, ids, rows = self._strengths, self._ids, self.rows["account_mfa_method"]
        strengths = []
        for method in methods:
            strength = known.get(method)
            if strength is None:
                strength = known[method] = strength_of(method)
            strengths.append(strength)
            rows.append((next(ids), account_id, method, strength.value, *prov))
        return strengths

    def _recovery(self, plan: AccountPlan, change: GroupChange, prov: Row) -> Row:
        values = change.values
        email, phone = values["email"], values["phone"]
        # As the core's writer: an officer attesting recovery details has just checked them.
        verified = values["last_verified_at"] or change.observed_at
        return (
            self._seal(plan.account_id, "email", email),
            masking.email_domain(email) if email else None,
            masking.mask_email(email) if email else None,
            self.enc.uuid(self.mailboxes.get(email)) if email else None,
            self._seal(plan.account_id, "phone", phone),
            masking.mask_phone(phone) if phone else None,
            str(values["phone_owner"]),
            values["carrier_lock"],
            values["backup_codes_escrowed"],
            self.enc.time(verified),
            *prov,
        )

    def _seal(self, account_id: uuid.UUID, column: str, value: str | None) -> bytes | None:
        """AES-GCM under the primary data key, bound to this row and column (fresh nonce)."""
        if not value:
            return None
        if self._key is None:
            raise RuntimeError("the builder was made without the data key")
        key_id, aead = self._key
        aad = associated_data(RECOVERY, column, account_id)
        return seal(aead, key_id=key_id, aad=aad, plaintext=value.encode())

    def _credential(self, account_id: Any, values: dict[str, Any], prov: Row) -> Row:
        enc = self.enc
        holders = {self._people[email] for email in values["holders"]}
        self.rows["account_credential_holder"].extend(
            (account_id, person_id) for person_id in sorted(holders)
        )
        return (
            str(values["storage"]),
            enc.time(values["last_rotated_at"]),
            values["min_length"],
            enc.time(values["breach_checked_at"]),
            *prov,
        )

    def _admins(self, account_id: Any, admins: list[AdminItem], prov: Row) -> None:
        # The core's writer keeps one row per person or outside identity (the last one named).
        wanted: dict[tuple[str, str], Row] = {}
        enc = self.enc
        for admin in admins:
            person = self._people.get(admin.identity)
            identity = admin.identity
            key = ("person", identity) if person else ("identity", identity.lower())
            wanted[key] = (
                next(self._ids),
                account_id,
                person,
                None if person else identity,
                None,
                admin.role,
                str(admin.affiliation),
                masking.email_domain(identity) if "@" in identity else None,
                enc.time(admin.last_sign_in_at),
                *prov,
            )
        self.rows["account_admin"].extend(wanted.values())

    def _apps(self, account_id: Any, apps: list[AppItem], prov: Row) -> None:
        # Matched as the core's writer matches them: by name and publisher, any case.
        wanted: dict[tuple[str, str], Row] = {}
        enc = self.enc
        for app in apps:
            wanted[app.name.lower(), (app.publisher or "").lower()] = (
                next(self._ids),
                account_id,
                app.name,
                app.publisher,
                enc.json(list(app.scopes)),
                app.granted_by,
                enc.time(app.granted_at),
                enc.time(app.last_reviewed_at),
                app.allow_listed,
                None,
                *prov,
            )
        self.rows["connected_app"].extend(wanted.values())


def _first_mailboxes(
    session: Session,
    addresses: set[str],
    created: Sequence[tuple[Platform, str, uuid.UUID]],
) -> dict[str, uuid.UUID]:
    if not addresses:
        return {}
    candidates = repository.mailboxes_by_address(session, addresses)
    for platform, handle, account_id in created:
        if platform in MAILBOXES and handle in addresses:
            candidates.setdefault(handle, []).append((str(platform), account_id))
    # As the core's look-up does: the first platform in name order wins.
    return {address: min(found)[1] for address, found in candidates.items()}


class AccountWriter:
    """Writes new accounts batch by batch, each while the caller prepares the next.

    A recovery address may be a mailbox this import creates further down the file, in a later
    batch: a fact sheet linking to an account not written yet waits until every batch is.
    """

    def __init__(self, builder: Builder, linked: Iterable[uuid.UUID]) -> None:
        self.builder = builder
        # New accounts that recovery addresses link to, until their batch is written.
        self._unwritten = {builder.enc.uuid(account_id) for account_id in linked}
        self._waiting: list[Row] = []

    @classmethod
    def for_file(
        cls,
        session: Session,
        context: Context,
        parsed: ParsedFile,
        new_ids: dict[tuple[Platform, str], uuid.UUID],
    ) -> AccountWriter:
        """A writer for the accounts a file creates (``new_ids``: by key, as drawn by
        ``plan.new_account_ids``), ready before they are planned: which recovery addresses are
        mailboxes, stored or created here, and whether any value needs the data key are known
        from the file itself."""
        addresses: set[str] = set()
        created: list[tuple[Platform, str, uuid.UUID]] = []
        needs_key = False
        for record in parsed.accounts:
            key = account_key(record)
            account_id = new_ids.get(key)
            if account_id is None:
                continue
            created.append((*key, account_id))
            recovery = record.groups.get(Group.RECOVERY)
            if recovery is not None:
                email, phone = recovery.values.get("email"), recovery.values.get("phone")
                needs_key = needs_key or bool(email or phone)
                if isinstance(email, str) and email:
                    addresses.add(email)
        mailboxes = _first_mailboxes(session, addresses, created)
        new = set(new_ids.values())
        linked = [account_id for account_id in mailboxes.values() if account_id in new]
        return cls(Builder(session, context, mailboxes, needs_key), linked)

    def batch(self, accounts: Sequence[AccountPlan], write: fastinsert.Pipeline) -> None:
        """Build and hand to ``write`` the rows of these new accounts, as one batch."""
        builder = self.builder
        for plan in accounts:
            builder.account(plan)
        unwritten = self._unwritten
        if unwritten:
            unwritten.difference_update(builder.enc.uuid(plan.account_id) for plan in accounts)
        built = builder.take()
        if unwritten:
            built[SHEET] = _now_or_later(built[SHEET], unwritten, self._waiting)
        for name, rows in built.items():
            if rows:
                write(table(name), COLUMNS[name], rows)
        write.flush()

    def finish(self, write: fastinsert.Pipeline) -> None:
        """Hand over the fact sheets that waited for a later batch."""
        if self._waiting:
            write(table(SHEET), COLUMNS[SHEET], self._waiting)
            self._waiting = []


def insert_accounts(
    session: Session, context: Context, parsed: ParsedFile, accounts: Sequence[AccountPlan]
) -> None:
    """Create the planned accounts of ``parsed`` and their facts, a batch at a time."""
    new_ids = {(a.platform, a.handle): a.account_id for a in accounts}
    writer = AccountWriter.for_file(session, context, parsed, new_ids)
    # Nothing below reads the session: a batch is written while the next is built.
    with fastinsert.pipelined(session) as pipeline:
        for start in range(0, len(accounts), CHUNK):
            writer.batch(accounts[start : start + CHUNK], pipeline)
        writer.finish(pipeline)


_MAILBOX_LINK: Final = COLUMNS[SHEET].index("recovery_email_account_id")


def _now_or_later(sheets: list[Row], unwritten: set[Any], waiting: list[Row]) -> list[Row]:
    """The sheets that can be written now; those linking to an unwritten account wait."""
    now: list[Row] = []
    for row in sheets:
        link = row[_MAILBOX_LINK]
        (waiting if link is not None and link in unwritten else now).append(row)
    return now
