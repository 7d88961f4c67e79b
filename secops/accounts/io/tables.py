"""The tables an import writes, and the columns of each in the order its rows are built."""

from __future__ import annotations

from typing import Final

PROVENANCE: Final = (
    "source",
    "observed_at",
    "attested_by",
    "fact_status",
    "error_reason",
    "recorded_at",
)
# The columns each table's rows are built with, in tuple order; every column is named.
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "person": (
        "id",
        "full_name",
        "email",
        "mission_id",
        "position",
        "status",
        "left_at",
        "created_at",
        "updated_at",
        "version",
    ),
    "account": (
        "id",
        "platform",
        "handle",
        "url",
        "display_name",
        "mission_id",
        "tier",
        "kind",
        "owner_id",
        "status",
        "last_activity_at",
        "verified_badge",
        "in_public_registry",
        "external_id",
        "mfa_strength",
        "evidence_at",
        "created_at",
        "updated_at",
        "version",
    ),
    "account_mfa": ("account_id", "mfa_enabled", "mfa_enforced", *PROVENANCE),
    "account_mfa_method": ("id", "account_id", "method", "strength", *PROVENANCE),
    "account_fact_group": ("account_id", "fact_group", *PROVENANCE),
    "account_recovery": (
        "account_id",
        "email",
        "email_domain",
        "email_hint",
        "email_account_id",
        "phone",
        "phone_hint",
        "phone_owner",
        "carrier_lock",
        "backup_codes_escrowed",
        "last_verified_at",
        *PROVENANCE,
    ),
    "account_credential": (
        "account_id",
        "storage",
        "last_rotated_at",
        "min_length",
        "breach_checked_at",
        *PROVENANCE,
    ),
    "account_credential_holder": ("account_id", "person_id"),
    "account_admin": (
        "id",
        "account_id",
        "person_id",
        "external_identity",
        "external_id",
        "platform_role",
        "affiliation",
        "email_domain",
        "last_sign_in_at",
        *PROVENANCE,
    ),
    "connected_app": (
        "id",
        "account_id",
        "name",
        "publisher",
        "scopes",
        "granted_by",
        "granted_at",
        "last_reviewed_at",
        "allow_listed",
        "external_id",
        *PROVENANCE,
    ),
}
# The tables an import writes, parents first.
INVENTORY_TABLES: Final = tuple(COLUMNS)
FACT_TABLES: Final = INVENTORY_TABLES[2:]
