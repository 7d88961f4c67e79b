"""Policy engine (runs, results, findings, scores), waivers, the jobs table, API-key tokens and
the inventory export allowance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:27:46.523668
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import secops.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_export_allowance",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("spent_until", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_inventory_export_allowance")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("run_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_job_dedupe_key")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_kind"), ["kind"], unique=False)
        batch_op.create_index("ix_job_status_run_at", ["status", "run_at"], unique=False)

    op.create_table(
        "policy_account_result",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.String(length=63), nullable=False),
        sa.Column("run_seq", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("snapshot_run_id", sa.Uuid(), nullable=False),
        sa.Column("pass_count", sa.Integer(), nullable=False),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("manual_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("na_count", sa.Integer(), nullable=False),
        sa.Column("weight_pass", sa.Integer(), nullable=False),
        sa.Column("weight_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "account_id", name=op.f("pk_policy_account_result")),
    )
    with op.batch_alter_table("policy_account_result", schema=None) as batch_op:
        batch_op.create_index(
            "ix_policy_account_result_latest", ["policy_id", "account_id", "run_seq"], unique=False
        )

    op.create_table(
        "policy_finding",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.String(length=1000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=True),
        sa.Column("first_seen_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "run_id", "mission_id", "account_id", "rule_id", name=op.f("pk_policy_finding")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "policy_reason",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "id", name=op.f("pk_policy_reason")),
    )
    op.create_table(
        "policy_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=63), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("policy_title", sa.String(length=200), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("triggered_by", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("account_count", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"], ["mission.id"], name=op.f("fk_policy_run_mission_id_mission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_run")),
        sa.UniqueConstraint("seq", name=op.f("uq_policy_run_seq")),
    )
    with op.batch_alter_table("policy_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_run_mission_id"), ["mission_id"], unique=False)
        batch_op.create_index("ix_policy_run_policy_seq", ["policy_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_run_started_at"), ["started_at"], unique=False)

    op.create_table(
        "policy_waiver",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.String(length=63), nullable=False),
        sa.Column("rule_id", sa.String(length=60), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("include_children", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_by_name", sa.String(length=200), nullable=False),
        sa.Column("requested_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_by_name", sa.String(length=200), nullable=True),
        sa.Column("approved_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("closed_by_name", sa.String(length=200), nullable=True),
        sa.Column("closed_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("expires_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("warned_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"], ["mission.id"], name=op.f("fk_policy_waiver_mission_id_mission")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["policy_waiver.id"],
            name=op.f("fk_policy_waiver_supersedes_id_policy_waiver"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_waiver")),
    )
    with op.batch_alter_table("policy_waiver", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_waiver_mission_id"), ["mission_id"], unique=False
        )
        batch_op.create_index(
            "ix_policy_waiver_policy_status_expires",
            ["policy_id", "status", "expires_at"],
            unique=False,
        )
        batch_op.create_index("ix_policy_waiver_requested_id", ["requested_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_waiver_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(
            "ix_policy_waiver_status_warned_expires",
            ["status", "warned_at", "expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_policy_waiver_supersedes_id"), ["supersedes_id"], unique=False
        )

    op.create_table(
        "api_key_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_key.id"],
            name=op.f("fk_api_key_token_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_key_token_token_hash")),
    )
    with op.batch_alter_table("api_key_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_token_key_id"), ["key_id"], unique=False)

    op.create_table(
        "policy_score",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("run_seq", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=63), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("account_count", sa.Integer(), nullable=False),
        sa.Column("pass_count", sa.Integer(), nullable=False),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("manual_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("na_count", sa.Integer(), nullable=False),
        sa.Column("weight_pass", sa.Integer(), nullable=False),
        sa.Column("weight_total", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["policy_run.id"],
            name=op.f("fk_policy_score_run_id_policy_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_score")),
    )
    with op.batch_alter_table("policy_score", schema=None) as batch_op:
        batch_op.create_index(
            "ix_policy_score_history", ["policy_id", "mission_id", "run_seq"], unique=False
        )
        batch_op.create_index("ix_policy_score_run", ["run_id", "mission_id"], unique=False)

    op.create_table(
        "policy_waiver_account",
        sa.Column("waiver_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_policy_waiver_account_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["waiver_id"],
            ["policy_waiver.id"],
            name=op.f("fk_policy_waiver_account_waiver_id_policy_waiver"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("waiver_id", "account_id", name=op.f("pk_policy_waiver_account")),
    )
    with op.batch_alter_table("policy_waiver_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_waiver_account_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("policy_waiver_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_waiver_account_account_id"))

    op.drop_table("policy_waiver_account")
    with op.batch_alter_table("policy_score", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_score_run")
        batch_op.drop_index("ix_policy_score_history")

    op.drop_table("policy_score")
    with op.batch_alter_table("api_key_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_token_key_id"))

    op.drop_table("api_key_token")
    with op.batch_alter_table("policy_waiver", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_waiver_supersedes_id"))
        batch_op.drop_index("ix_policy_waiver_status_warned_expires")
        batch_op.drop_index(batch_op.f("ix_policy_waiver_rule_id"))
        batch_op.drop_index("ix_policy_waiver_requested_id")
        batch_op.drop_index("ix_policy_waiver_policy_status_expires")
        batch_op.drop_index(batch_op.f("ix_policy_waiver_mission_id"))

    op.drop_table("policy_waiver")
    with op.batch_alter_table("policy_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_run_started_at"))
        batch_op.drop_index("ix_policy_run_policy_seq")
        batch_op.drop_index(batch_op.f("ix_policy_run_mission_id"))

    op.drop_table("policy_run")
    op.drop_table("policy_reason")
    op.drop_table("policy_finding")
    with op.batch_alter_table("policy_account_result", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_account_result_latest")

    op.drop_table("policy_account_result")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status_run_at")
        batch_op.drop_index(batch_op.f("ix_job_kind"))

    op.drop_table("job")
    op.drop_table("inventory_export_allowance")
