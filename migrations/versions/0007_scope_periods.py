"""scope periods: the feed's memory of what each partner could read of each school, and when

Revision ID: 0007_scope_periods
Revises: 0006_credential_attempts
Create Date: 2026-12-01 10:00:00.000000

Existing consents in force get open periods from the start of the feed, for what the policy discloses
with the hub's default setting (a DPA required): nothing at a closed school or an unsigned board.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_scope_periods"
down_revision: str | None = "0006_credential_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATEGORIES = {
    "SCHOOL_BASIC", "GROUP_BASIC", "STUDENT_BASIC", "STUDENT_NAME", "STUDENT_DEMOGRAPHICS", "STAFF_BASIC",
    "STAFF_NAME", "STAFF_COMMUNICATION", "LICENSE",
}  # fmt: skip


def upgrade() -> None:
    scope_periods = op.create_table(
        "scope_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("until_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scope_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scope_periods_lookup", ["partner_id", "school_id", "category", "from_seq"], unique=False
        )
    # The same rule as auth.policy.disclosed_categories (a migration must not import the application).
    found = op.get_bind().execute(
        sa.text(
            "SELECT c.school_id, c.partner_id, c.categories, p.declared_categories, c.feed_since"
            " FROM consents c JOIN partners p ON p.id = c.partner_id"
            " JOIN schools s ON s.id = c.school_id JOIN boards b ON b.id = s.board_id"
            " WHERE c.revoked_at IS NULL AND s.active AND b.dpa_signed_at IS NOT NULL"
        ).columns(categories=sa.JSON(), declared_categories=sa.JSON())
    )
    rows = [
        {
            "school_id": row.school_id,
            "partner_id": row.partner_id,
            "category": category,
            "from_seq": row.feed_since or 0,
            "until_seq": None,
        }
        for row in found
        for category in sorted(
            ((set(row.categories) & set(row.declared_categories)) | {"SCHOOL_BASIC"}) & _CATEGORIES
        )
    ]
    if rows:
        op.bulk_insert(scope_periods, rows)


def downgrade() -> None:
    with op.batch_alter_table("scope_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_scope_periods_lookup")
    op.drop_table("scope_periods")
