"""Account inventory rules: the one entry point other domains and helpers call.

Every function takes the session first and the rest by keyword, flushes and never commits, checks
the caller's missions through ``scope`` (out of scope is the same 404 as missing) and records an
audit event with a before/after diff in the caller's transaction. Recovery e-mail and phone
appear in audit diffs only masked.

Accounts (this module)::

    create_account(session, *, principal, data: AccountCreate) -> Account
    update_account(session, *, principal, account_id, changes: AccountUpdate,
                   if_match: str | None) -> Account
    get_account(session, *, principal, account_id, for_write=False) -> Account
    find_account(session, *, principal, platform: Platform, handle: str) -> Account | None
    account_read(session, *, principal, account_id) -> AccountRead
    account_detail(session, *, principal, account_id) -> AccountDetail
    list_accounts(session, *, principal, filters: AccountFilters, sort: str = "handle",
                  cursor: str | None = None, limit: int | None = None) -> AccountPage
    upsert_account(session, *, principal, data: AccountCreate) -> UpsertResult
        # UpsertResult(id, outcome: created|updated|unchanged, changed: tuple[str, ...])
    bulk_upsert_accounts(session, *, principal, rows: Sequence[AccountCreate],
                         source: str = "import", dry_run: bool = False) -> BulkAccountsResult
        # all or nothing; ValidationFailed lists {"loc": ["rows", index, field], "msg"};
        # dry_run returns errors instead; one "account.import" audit event per mission

People (``people.py``, re-exported here)::

    create_person(session, *, principal, data: PersonCreate) -> Person
    update_person(session, *, principal, person_id, changes: PersonUpdate,
                  if_match: str | None) -> Person
    read_person(session, *, principal, person_id) -> PersonRead   (async, on the event loop)
    find_person_by_email(session, *, principal, email: str) -> Person | None
    list_people(session, *, principal, filters: PersonFilters, cursor=None,
                limit=None) -> PersonPage
    upsert_person(session, *, principal, data: PersonCreate) -> UpsertResult

Facts (``facts.py``, re-exported here). ``source`` is ``"attested"`` or ``"api:<kind>"``;
``observed_at`` defaults to now; ``fact_status=FactStatus.ERROR`` with ``error_reason`` records
that the source refused (the group's previous items are kept but the group reads as error, never
as a pass). Each returns True when the recorded content or status changed (then audited)::

    attest(session, *, principal, account_id, facts: AttestationIn) -> Account
    set_mfa_state(session, *, principal, account_id, state: MfaStateIn | None, source: str,
                  observed_at=None, fact_status=FactStatus.OK, error_reason=None) -> bool
    replace_mfa_methods(session, *, principal, account_id, methods: Sequence[str] | None,
                        source, observed_at=None, fact_status=OK, error_reason=None) -> bool
    set_recovery(session, *, principal, account_id, recovery: RecoveryIn | None, source, ...)
    set_credential(session, *, principal, account_id, credential: CredentialIn | None,
                   source, ...) -> bool
    replace_admins(session, *, principal, account_id, admins: Sequence[AdminIn] | None,
                   source, ...) -> bool
    replace_apps(session, *, principal, account_id, apps: Sequence[ConnectedAppIn] | None,
                 source, ...) -> bool
    refresh_summaries(session, account_ids: Iterable[UUID]) -> None  # after any bulk write
"""

from __future__ import annotations

from secops.accounts.accounts import (
    BulkAccountsResult,
    UpsertResult,
    account_detail,
    account_read,
    bulk_upsert_accounts,
    create_account,
    find_account,
    get_account,
    list_accounts,
    update_account,
    upsert_account,
)
from secops.accounts.facts import (
    attest,
    refresh_summaries,
    replace_admins,
    replace_apps,
    replace_mfa_methods,
    set_credential,
    set_mfa_state,
    set_recovery,
)
from secops.accounts.people import (
    create_person,
    find_person_by_email,
    list_people,
    read_person,
    update_person,
    upsert_person,
)

__all__ = [
    "BulkAccountsResult",
    "UpsertResult",
    "account_detail",
    "account_read",
    "attest",
    "bulk_upsert_accounts",
    "create_account",
    "create_person",
    "find_account",
    "find_person_by_email",
    "get_account",
    "list_accounts",
    "list_people",
    "read_person",
    "refresh_summaries",
    "replace_admins",
    "replace_apps",
    "replace_mfa_methods",
    "set_credential",
    "set_mfa_state",
    "set_recovery",
    "update_account",
    "update_person",
    "upsert_account",
    "upsert_person",
]
