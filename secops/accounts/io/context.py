"""What the planner needs to know about the database, read in a few batched queries.

Missions by code, the people and accounts the file names (by e-mail and by (platform, handle)),
and the stored facts of the accounts that already exist. Grants are checked per row by the
planner with ``principal.can``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from secops.accounts.io import repository, state
from secops.accounts.io.records import AccountRecord, Group, GroupRecord, ParsedFile
from secops.accounts.models import Account, Person, Platform, normalise_handle
from secops.core.principal import Permission, Principal
from secops.missions.models import Mission
from secops.missions.scope import descendants

READ, WRITE = Permission.ACCOUNTS_READ, Permission.ACCOUNTS_WRITE


@dataclass(frozen=True)
class PersonRef:
    """A person an account may point to: already stored, or created by this import."""

    id: uuid.UUID
    mission_id: uuid.UUID


@dataclass
class Context:
    """The database as the planner sees it, plus what the file adds as it is planned."""

    session: Session
    principal: Principal
    now: datetime
    missions: dict[str, Mission] = field(default_factory=dict)
    codes: dict[uuid.UUID, str] = field(default_factory=dict)
    stored_people: dict[str, Person] = field(default_factory=dict)
    stored_accounts: dict[tuple[Platform, str], Account] = field(default_factory=dict)
    stored_records: dict[uuid.UUID, AccountRecord] = field(default_factory=dict)
    # People the accounts may name: visible stored ones, and those the file creates or moves.
    people: dict[str, PersonRef] = field(default_factory=dict)
    people_by_id: dict[uuid.UUID, PersonRef] = field(default_factory=dict)
    _below: dict[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)

    def add_person(self, email: str, ref: PersonRef) -> None:
        """Make a person available to the accounts planned after it."""
        self.people[email] = ref
        self.people_by_id[ref.id] = ref

    def can_write(self, mission_id: uuid.UUID) -> bool:
        """True if the caller may change this mission's inventory."""
        return self.principal.can(WRITE, mission_id)

    def can_read(self, mission_id: uuid.UUID) -> bool:
        """True if the caller may see the inventory of this mission."""
        return self.principal.can(READ, mission_id)

    def mission_code(self, mission_id: uuid.UUID) -> str:
        """The code of a mission the caller may read."""
        return self.codes[mission_id]

    def may_own(self, owner_mission: uuid.UUID, account_mission: uuid.UUID) -> bool:
        """The core's rule: an owner belongs to the account's mission or one above it."""
        if owner_mission == account_mission:
            return True
        if owner_mission not in self._below:
            self._below[owner_mission] = descendants(self.session, owner_mission)
        return account_mission in self._below[owner_mission]

    def prefetch_hierarchy(self) -> None:
        """Read now, for ``may_own``, which missions lie below those of the people accounts
        may name (planning then reads nothing from the database)."""
        for mission_id in {ref.mission_id for ref in self.people_by_id.values()}:
            if mission_id not in self._below:
                self._below[mission_id] = descendants(self.session, mission_id)

    def stored_groups(self, account_id: uuid.UUID) -> dict[Group, GroupRecord]:
        """The recorded fact groups of a stored account, recovery in clear."""
        return self.stored_records[account_id].groups


def account_key(record: AccountRecord) -> tuple[Platform, str]:
    """The (platform, normalised handle) an account row is matched by."""
    if record.key is None:
        platform = Platform(record.values["platform"])
        record.key = platform, normalise_handle(platform, str(record.values["handle"]))
    return record.key


def _emails_named(parsed: ParsedFile) -> set[str]:
    emails = {person.email for person in parsed.people}
    for account in parsed.accounts:
        if account.values.get("owner"):
            emails.add(str(account.values["owner"]))
        credential = account.groups.get(Group.CREDENTIAL)
        if credential is not None:
            emails.update(credential.values.get("holders") or [])
        admins = account.groups.get(Group.ADMINS)
        if admins is not None:
            emails.update(a.identity for a in admins.values.get("items") or [] if "@" in a.identity)
    return emails


def load(session: Session, principal: Principal, parsed: ParsedFile, now: datetime) -> Context:
    """Read everything the file refers to, in batches."""
    context = Context(session=session, principal=principal, now=now)
    for mission in repository.visible_missions(session, principal):
        context.missions[mission.code] = mission
        context.codes[mission.id] = mission.code
    context.stored_people = repository.people_by_email(session, _emails_named(parsed))
    for email, person in context.stored_people.items():
        if principal.can(READ, person.mission_id):
            context.add_person(email, PersonRef(person.id, person.mission_id))
    keys = {account_key(a) for a in parsed.accounts}
    context.stored_accounts = repository.accounts_by_handle(session, keys)
    _load_records(context)
    return context


def _load_records(context: Context) -> None:
    session = context.session
    changeable = [a for a in context.stored_accounts.values() if context.can_read(a.mission_id)]
    if not changeable:
        return
    facts = repository.facts_of(session, [a.id for a in changeable])
    owners = repository.people_by_id(session, {a.owner_id for a in changeable if a.owner_id})
    owner_emails = {p.id: p.email for p in owners.values()}
    for account in changeable:
        context.stored_records[account.id] = state.account_record(
            session,
            account,
            facts,
            mission_codes=context.codes,
            owner_emails=owner_emails,
            reveal=True,
        )
