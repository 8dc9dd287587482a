"""license rules: couplings of a license by year level, couplings marked as made by such a rule, and the
address a product is opened at

Revision ID: 0013_license_rules
Revises: 0012_persisted_queries
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_license_rules"
down_revision: str | None = "0012_persisted_queries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "license_rules",
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("year_level", sa.String(length=4), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"]),
        sa.PrimaryKeyConstraint("license_id", "year_level"),
    )
    # Every existing coupling was made by hand (or by the seed): none is a rule's.
    with op.batch_alter_table("license_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("by_rule", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("launch_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("launch_url")
    with op.batch_alter_table("license_groups", schema=None) as batch_op:
        batch_op.drop_column("by_rule")
    op.drop_table("license_rules")
