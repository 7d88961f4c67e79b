"""One fact sheet per account: the MFA state, recovery and credential groups, and when each
list group was last seen, move from four tables (one row per group) into ``account_fact_sheet``
(one row per account, each group's columns and provenance under the group's prefix).

The recovery ciphertexts move as they are: their associated data still names
``account_recovery.email`` / ``.phone`` and the account id, which the fact sheet's registration
keeps as their label. Downgrade moves every recorded group back into its own table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import secops.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVENANCE = ("source", "observed_at", "attested_by", "fact_status", "error_reason", "recorded_at")
LIST_GROUPS = ("mfa_methods", "admins", "apps")
MFA = ("mfa_enabled", "mfa_enforced")
RECOVERY = (
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
)
CREDENTIAL = ("storage", "last_rotated_at", "min_length", "breach_checked_at")
# Each group's table before this revision, its alias below, and its data columns.
ONE_TO_ONE = (
    ("mfa", "account_mfa", "m", MFA),
    ("recovery", "account_recovery", "r", RECOVERY),
    ("credential", "account_credential", "c", CREDENTIAL),
)


def _when() -> secops.core.db.UTCDateTime:
    return secops.core.db.UTCDateTime(timezone=True)


def _provenance(prefix: str, *, required: bool = False) -> list[sa.Column[Any]]:
    def name(column: str) -> str:
        return f"{prefix}_{column}" if prefix else column

    return [
        sa.Column(name("source"), sa.String(length=64), nullable=not required),
        sa.Column(name("observed_at"), _when(), nullable=True),
        sa.Column(name("attested_by"), sa.Uuid(), nullable=True),
        sa.Column(name("fact_status"), sa.String(length=10), nullable=not required),
        sa.Column(name("error_reason"), sa.String(length=500), nullable=True),
        sa.Column(name("recorded_at"), _when(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "account_fact_sheet",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("mfa_enabled", sa.Boolean(), nullable=True),
        sa.Column("mfa_enforced", sa.Boolean(), nullable=True),
        *_provenance("mfa"),
        *_provenance("mfa_methods"),
        sa.Column("recovery_email", sa.LargeBinary(), nullable=True),
        sa.Column("recovery_email_domain", sa.String(length=255), nullable=True),
        sa.Column("recovery_email_hint", sa.String(length=320), nullable=True),
        sa.Column("recovery_email_account_id", sa.Uuid(), nullable=True),
        sa.Column("recovery_phone", sa.LargeBinary(), nullable=True),
        sa.Column("recovery_phone_hint", sa.String(length=64), nullable=True),
        sa.Column("recovery_phone_owner", sa.String(length=16), nullable=True),
        sa.Column("recovery_carrier_lock", sa.Boolean(), nullable=True),
        sa.Column("recovery_backup_codes_escrowed", sa.Boolean(), nullable=True),
        sa.Column("recovery_last_verified_at", _when(), nullable=True),
        *_provenance("recovery"),
        sa.Column("credential_storage", sa.String(length=16), nullable=True),
        sa.Column("credential_last_rotated_at", _when(), nullable=True),
        sa.Column("credential_min_length", sa.Integer(), nullable=True),
        sa.Column("credential_breach_checked_at", _when(), nullable=True),
        *_provenance("credential"),
        *_provenance("admins"),
        *_provenance("apps"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_fact_sheet_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recovery_email_account_id"],
            ["account.id"],
            name=op.f("fk_account_fact_sheet_recovery_email_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_fact_sheet")),
    )
    with op.batch_alter_table("account_fact_sheet", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_fact_sheet_recovery_email_account_id"),
            ["recovery_email_account_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_account_fact_sheet_recovery_email_domain"),
            ["recovery_email_domain"],
            unique=False,
        )
    _copy_into_sheets()
    with op.batch_alter_table("account_recovery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_recovery_email_domain"))
        batch_op.drop_index(batch_op.f("ix_account_recovery_email_account_id"))
    for table in ("account_recovery", "account_mfa", "account_fact_group", "account_credential"):
        op.drop_table(table)


def _copy_into_sheets() -> None:
    targets, sources = ["account_id"], ["a.id"]
    joins: list[str] = []
    present: list[str] = []
    for group, table, alias, columns in ONE_TO_ONE:
        for column in (*columns, *PROVENANCE):
            prefixed = column if column in MFA else f"{group}_{column}"
            targets.append(prefixed)
            sources.append(f"{alias}.{column}")
        joins.append(f"LEFT JOIN {table} {alias} ON {alias}.account_id = a.id")
        present.append(f"{alias}.account_id IS NOT NULL")
    for number, group in enumerate(LIST_GROUPS):
        alias = f"g{number}"
        targets += [f"{group}_{column}" for column in PROVENANCE]
        sources += [f"{alias}.{column}" for column in PROVENANCE]
        joins.append(
            f"LEFT JOIN account_fact_group {alias} "
            f"ON {alias}.account_id = a.id AND {alias}.fact_group = '{group}'"
        )
        present.append(f"{alias}.account_id IS NOT NULL")
    op.execute(
        f"INSERT INTO account_fact_sheet ({', '.join(targets)}) "  # noqa: S608 - names above
        f"SELECT {', '.join(sources)} FROM account a {' '.join(joins)} "
        f"WHERE {' OR '.join(present)}"
    )


def downgrade() -> None:
    op.create_table(
        "account_credential",
        *_provenance("", required=True),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("storage", sa.String(length=16), nullable=False),
        sa.Column("last_rotated_at", _when(), nullable=True),
        sa.Column("min_length", sa.Integer(), nullable=True),
        sa.Column("breach_checked_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_credential_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_credential")),
    )
    op.create_table(
        "account_fact_group",
        *_provenance("", required=True),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("fact_group", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_fact_group_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "fact_group", name=op.f("pk_account_fact_group")),
    )
    op.create_table(
        "account_mfa",
        *_provenance("", required=True),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("mfa_enabled", sa.Boolean(), nullable=True),
        sa.Column("mfa_enforced", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_mfa_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_mfa")),
    )
    op.create_table(
        "account_recovery",
        *_provenance("", required=True),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("email_domain", sa.String(length=255), nullable=True),
        sa.Column("email_hint", sa.String(length=320), nullable=True),
        sa.Column("email_account_id", sa.Uuid(), nullable=True),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hint", sa.String(length=64), nullable=True),
        sa.Column("phone_owner", sa.String(length=16), nullable=False),
        sa.Column("carrier_lock", sa.Boolean(), nullable=True),
        sa.Column("backup_codes_escrowed", sa.Boolean(), nullable=True),
        sa.Column("last_verified_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_recovery_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["email_account_id"],
            ["account.id"],
            name=op.f("fk_account_recovery_email_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_recovery")),
    )
    with op.batch_alter_table("account_recovery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_recovery_email_account_id"), ["email_account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_recovery_email_domain"), ["email_domain"], unique=False
        )
    _copy_out_of_sheets()
    with op.batch_alter_table("account_fact_sheet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_fact_sheet_recovery_email_domain"))
        batch_op.drop_index(batch_op.f("ix_account_fact_sheet_recovery_email_account_id"))
    op.drop_table("account_fact_sheet")


def _copy_out_of_sheets() -> None:
    for group, table, _, columns in ONE_TO_ONE:
        names = [*columns, *PROVENANCE]
        sources = [column if column in MFA else f"{group}_{column}" for column in names]
        op.execute(
            f"INSERT INTO {table} (account_id, {', '.join(names)}) "  # noqa: S608 - names above
            f"SELECT account_id, {', '.join(sources)} FROM account_fact_sheet "
            f"WHERE {group}_source IS NOT NULL"
        )
    for group in LIST_GROUPS:
        sources = [f"{group}_{column}" for column in PROVENANCE]
        op.execute(
            f"INSERT INTO account_fact_group (account_id, fact_group, {', '.join(PROVENANCE)}) "  # noqa: S608
            f"SELECT account_id, '{group}', {', '.join(sources)} FROM account_fact_sheet "
            f"WHERE {group}_source IS NOT NULL"
        )
