"""persisted queries and per-partner operation allow-lists

Revision ID: 0012_persisted_queries
Revises: 0011_school_administration
Create Date: 2026-12-02 15:00:00.000000

Automatic persisted queries (a document registered under its SHA-256, shared by every worker) and the
optional allow-list of operations per partner (`python server.py partner allow-operations`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_persisted_queries"
down_revision: str | None = "0011_school_administration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("query", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "operation_allow_lists",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("partner_id", "sha256"),
    )


def downgrade() -> None:
    op.drop_table("operation_allow_lists")
    op.drop_table("persisted_queries")
