"""Per-key limits and allow-lists, and per-key usage summed by day, persona and model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_KEY_COLUMNS = {
    "requests_per_minute": sa.Integer,
    "tokens_per_minute": sa.Integer,
    "concurrent_streams": sa.Integer,
    "allowed_personas": sa.JSON,
    "allowed_models": sa.JSON,
}


def upgrade() -> None:
    for name, column_type in NEW_KEY_COLUMNS.items():
        op.add_column("api_keys", sa.Column(name, column_type(), nullable=True))
    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("persona", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_key_usage_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "day", "persona", "model", name=op.f("pk_key_usage")),
    )


def downgrade() -> None:
    op.drop_table("key_usage")
    with op.batch_alter_table("api_keys") as batch:
        for name in reversed(NEW_KEY_COLUMNS):
            batch.drop_column(name)
