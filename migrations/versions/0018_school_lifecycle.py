"""school lifecycle: the record of mergers, splits, closures and board transfers, and when a location was
closed for good (and its personal data deleted)

Revision ID: 0018_school_lifecycle
Revises: 0017_oidc
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_school_lifecycle"
down_revision: str | None = "0017_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("school_codes", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("performed_by", sa.String(length=200), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lifecycle_operations_school", "lifecycle_operations", ["school_id"], unique=False)
    op.add_column("schools", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("schools", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite has it since 3.35): a batch rebuild of `schools` would drop a table
    # that every other table refers to.
    op.drop_column("schools", "purged_at")
    op.drop_column("schools", "closed_at")
    op.drop_index("ix_lifecycle_operations_school", table_name="lifecycle_operations")
    op.drop_table("lifecycle_operations")
