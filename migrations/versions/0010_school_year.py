"""school year: the first and last day of a student's or staff member's membership of a school, and the
school years each school delivered a file for

Revision ID: 0010_school_year
Revises: 0009_staff_mail
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_school_year"
down_revision: str | None = "0009_staff_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("students", "staff_members")


def upgrade() -> None:
    op.create_table(
        "school_file_years",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("school_year", sa.String(length=9), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.ForeignKeyConstraint(["school_year"], ["school_years.name"]),
        sa.PrimaryKeyConstraint("school_id", "school_year"),
    )
    # The years already imported are the years a school has groups of.
    op.execute(
        "INSERT INTO school_file_years (school_id, school_year, received_at)"
        " SELECT DISTINCT school_id, school_year, CURRENT_TIMESTAMP FROM groups"
    )
    # Null in both columns means what every existing row meant: a member now, with no end known.
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("effective_from", sa.Date(), nullable=True))
            batch_op.add_column(sa.Column("effective_until", sa.Date(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("effective_until")
            batch_op.drop_column("effective_from")
    op.drop_table("school_file_years")
