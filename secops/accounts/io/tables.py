"""The tables an import writes, and the columns of each in the order its rows are built."""

from __future__ import annotations

from typing import Final

from secops.accounts.models import PROVENANCE_FIELDS

# Every fact row's provenance columns, in the order rows are built with them.
PROVENANCE: Final = PROVENANCE_FIELDS


def prefixed(group: str) -> tuple[str, ...]:
    """A fact sheet group's provenance columns."""
    return tuple(f"{group}_{name}" for name in PROVENANCE)


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
    "account_fact_sheet": (
        "account_id",
        "mfa_enabled",
        "mfa_enforced",
        *prefixed("mfa"),
        *prefixed("mfa_methods"),
        "recovery_email",
        "recovery_email_domain",
        "recovery_email_hint",
        "recovery_email_account_id",
        "recovery_phone",
        "recovery_phone_hint",
        "recovery_phone_owner",
        "recovery_carrier_lock",
        "recovery_backup_codes_escrowed",
        "recovery_last_verified_at",
        *prefixed("recovery"),
        "credential_storage",
        "credential_last_rotated_at",
        "credential_min_length",
        "credential_breach_checked_at",
        *prefixed("credential"),
        *prefixed("admins"),
        *prefixed("apps"),
    ),
    "account_mfa_method": ("id", "account_id", "method", "strength", *PROVENANCE),
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
