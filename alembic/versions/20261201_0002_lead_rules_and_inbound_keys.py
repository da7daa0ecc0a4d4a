"""Lead rules and what the channels need: the CRM outcome time on leads, candidate matches between
leads, idempotency keys claimed with the turn they caused, and single-use continuation tokens.

Revision ID: 20261201_0002
Revises: 20261123_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

# Portable column types, spelled out here so this file never changes with the code.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "20261201_0002"
down_revision: str | None = "20261123_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_leads_created_at"), ["created_at"], unique=False)

    op.create_table(
        "lead_matches",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("other_lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_lead_matches_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_matches_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["other_lead_id"], ["leads.id"], name=op.f("fk_lead_matches_other_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_matches")),
        sa.UniqueConstraint(
            "lead_id", "other_lead_id", "kind", "value", name=op.f("uq_lead_matches_lead_id_other_lead_id_kind_value")
        ),
    )
    op.create_index(op.f("ix_lead_matches_lead_id"), "lead_matches", ["lead_id"], unique=False)
    op.create_index(op.f("ix_lead_matches_other_lead_id"), "lead_matches", ["other_lead_id"], unique=False)

    op.create_table(
        "inbound_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_inbound_keys_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_inbound_keys")),
    )
    op.create_index(op.f("ix_inbound_keys_conversation_id"), "inbound_keys", ["conversation_id"], unique=False)

    op.create_table(
        "continuations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_continuations_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_continuations")),
    )
    op.create_index(
        op.f("ix_continuations_conversation_id"), "continuations", ["conversation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_continuations_conversation_id"), table_name="continuations")
    op.drop_table("continuations")
    op.drop_index(op.f("ix_inbound_keys_conversation_id"), table_name="inbound_keys")
    op.drop_table("inbound_keys")
    op.drop_index(op.f("ix_lead_matches_other_lead_id"), table_name="lead_matches")
    op.drop_index(op.f("ix_lead_matches_lead_id"), table_name="lead_matches")
    op.drop_table("lead_matches")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index(batch.f("ix_leads_created_at"))
        batch.drop_column("outcome_at")
