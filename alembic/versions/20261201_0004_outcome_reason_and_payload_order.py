"""The reason a CRM gave with its last outcome report (rejected: "no budget", lost: "chose a
competitor"), kept on the lead beside the outcome's time; and handoff payloads kept as written on
PostgreSQL (JSON, not JSONB, which orders keys its own way: the answers would reach the CRM
shuffled instead of in the order they were asked).

Revision ID: 20261201_0004
Revises: 20261201_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "20261201_0004"
down_revision: str | None = "20261201_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("outcome_reason", sa.String(length=500), nullable=True))
    if op.get_context().dialect.name == "postgresql":
        op.alter_column(
            "outbox_events",
            "payload",
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using="payload::json",
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.alter_column(
            "outbox_events",
            "payload",
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            postgresql_using="payload::jsonb",
        )
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("outcome_reason")
