"""The Telegram webhook's inbox: updates answered and not yet handled.

Revision ID: 20261202_0001
Revises: 20261201_0801
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "20261202_0001"
down_revision: str | None = "20261201_0801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_telegram_inbox")),
    )
    op.create_index(op.f("ix_telegram_inbox_lease_until"), "telegram_inbox", ["lease_until"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_telegram_inbox_lease_until"), table_name="telegram_inbox")
    op.drop_table("telegram_inbox")
