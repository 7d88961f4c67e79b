"""Turn rows into the API's read shapes: evidence age on every fact, recovery masked by default.

The recovery address and number are decrypted only for a caller holding
``accounts:secrets:read`` on the account's mission; everyone else sees the masks stored with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from secops.accounts import repository
from secops.accounts.fact_schemas import (
    AdminRead,
    ConnectedAppRead,
    CredentialRead,
    FactGroupRead,
    MfaMethodRead,
    MfaStateRead,
    RecoveryRead,
)
from secops.accounts.models import (
    Account,
    AccountFactSheet,
    AccountMfaMethod,
    CredentialFacts,
    MfaFacts,
    Provenanced,
    RecoveryFacts,
)
from secops.accounts.schemas import AccountDetail, AccountRead
from secops.core.crypto import decrypt_field
from secops.core.principal import Permission, Principal

SECONDS_PER_DAY = 86_400


def age_days(observed_at: datetime | None, now: datetime) -> int | None:
    """Whole days since the evidence was true; None when unknown, 0 for a future time."""
    if observed_at is None:
        return None
    return max(0, int((now - observed_at).total_seconds() // SECONDS_PER_DAY))


def provenance(row: Provenanced, now: datetime) -> dict[str, Any]:
    """The provenance fields of a fact row, with its age."""
    return {
        "source": row.source,
        "observed_at": row.observed_at,
        "attested_by": row.attested_by,
        "fact_status": row.fact_status,
        "error_reason": row.error_reason,
        "age_days": age_days(row.observed_at, now),
    }


def mfa_state_read(row: MfaFacts | None, now: datetime) -> MfaStateRead | None:
    """The MFA state, if recorded."""
    if row is None or not row.recorded:
        return None
    return MfaStateRead(
        mfa_enabled=row.mfa_enabled, mfa_enforced=row.mfa_enforced, **provenance(row, now)
    )


def account_read(
    account: Account,
    *,
    mission_code: str,
    owner_name: str | None,
    sheet: AccountFactSheet | None,
    methods: Sequence[AccountMfaMethod],
    now: datetime,
) -> AccountRead:
    """The summary shape of an account (lists and single reads)."""
    return AccountRead(
        **_account_fields(account),
        mission_code=mission_code,
        owner_name=owner_name,
        mfa=mfa_state_read(sheet.mfa() if sheet is not None else None, now),
        mfa_methods=[m.method for m in methods],
        age_days=age_days(account.evidence_at, now),
    )


def _account_fields(account: Account) -> dict[str, Any]:
    names = [
        *("id", "platform", "handle", "url", "display_name", "mission_id", "tier", "kind"),
        *("owner_id", "status", "last_activity_at", "verified_badge", "in_public_registry"),
        *("external_id", "mfa_strength", "evidence_at", "created_at", "updated_at", "version"),
    ]
    return {name: getattr(account, name) for name in names}


def account_detail(
    session: Session,
    principal: Principal,
    summary: AccountRead,
    *,
    methods: Sequence[AccountMfaMethod],
    now: datetime,
) -> AccountDetail:
    """Every fact group of one account, fetched with a handful of keyed look-ups."""
    account_id = summary.id
    _, recovery, credential = repository.one_to_one(session, account_id)
    reveal = principal.can(Permission.ACCOUNTS_SECRETS_READ, summary.mission_id)
    return AccountDetail(
        **summary.model_dump(),
        mfa_method_facts=[
            MfaMethodRead(method=m.method, strength=m.strength, **provenance(m, now))
            for m in methods
        ],
        recovery=recovery_read(session, recovery, reveal=reveal, now=now),
        credential=_credential_read(session, credential, now),
        admins=_admin_reads(session, account_id, now),
        apps=[
            ConnectedAppRead(
                **{name: getattr(app, name) for name in _APP_FIELDS}, **provenance(app, now)
            )
            for app in repository.apps_of(session, account_id)
        ],
        groups=[
            FactGroupRead(group=g.fact_group, **provenance(g, now))
            for g in repository.groups_of(session, account_id)
        ],
    )


_APP_FIELDS = [
    "id",
    "name",
    "publisher",
    "scopes",
    "granted_by",
    "granted_at",
    "last_reviewed_at",
    "allow_listed",
]
_ADMIN_FIELDS = [
    "id",
    "person_id",
    "external_identity",
    "platform_role",
    "affiliation",
    "email_domain",
    "last_sign_in_at",
]


def _credential_read(
    session: Session, row: CredentialFacts | None, now: datetime
) -> CredentialRead | None:
    if row is None:
        return None
    return CredentialRead(
        storage=row.storage,
        last_rotated_at=row.last_rotated_at,
        min_length=row.min_length,
        breach_checked_at=row.breach_checked_at,
        holder_ids=repository.holders_of(session, row.account_id),
        **provenance(row, now),
    )


def _admin_reads(session: Session, account_id: uuid.UUID, now: datetime) -> list[AdminRead]:
    return [
        AdminRead(
            person_name=name,
            **{field: getattr(admin, field) for field in _ADMIN_FIELDS},
            **provenance(admin, now),
        )
        for admin, name in repository.admins_of(session, account_id)
    ]


def recovery_read(
    session: Session, row: RecoveryFacts | None, *, reveal: bool, now: datetime
) -> RecoveryRead | None:
    """Recovery details: decrypted when ``reveal``, else the stored masks."""
    if row is None:
        return None
    email, phone = row.email_hint, row.phone_hint
    if reveal:
        email = _decrypt(session, row.account_id, "email", row.email)
        phone = _decrypt(session, row.account_id, "phone", row.phone)
    return RecoveryRead(
        masked=not reveal,
        email=email,
        email_domain=row.email_domain,
        email_account_id=row.email_account_id,
        phone=phone,
        phone_owner=row.phone_owner,
        carrier_lock=row.carrier_lock,
        backup_codes_escrowed=row.backup_codes_escrowed,
        last_verified_at=row.last_verified_at,
        **provenance(row, now),
    )


def _decrypt(session: Session, row_id: uuid.UUID, column: str, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    return decrypt_field(session, table="account_recovery", column=column, row_id=row_id, blob=blob)
