"""Notification outbox: notices to users, queued in the transaction of the change they report.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import secops.core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", secops.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("recipient_user_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", secops.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_message_created_at"), ["created_at"])
        batch_op.create_index(batch_op.f("ix_outbox_message_kind"), ["kind"])
        batch_op.create_index(
            batch_op.f("ix_outbox_message_recipient_user_id"), ["recipient_user_id"]
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_status"), ["status"])


def downgrade() -> None:
    op.drop_table("outbox_message")
