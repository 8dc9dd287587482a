"""past memberships: the keys a person was known by at a school they left (issue 9, identity over time)

Revision ID: 0005_past_memberships
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_past_memberships"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "past_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("las_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("eck_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("past_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_past_memberships_eck_id", ["eck_id"], unique=False)
        batch_op.create_index("ix_past_memberships_las_key", ["las_key"], unique=False)
        batch_op.create_index(
            "ix_past_memberships_school_person", ["school_id", "kind", "person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("past_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_past_memberships_school_person")
        batch_op.drop_index("ix_past_memberships_las_key")
        batch_op.drop_index("ix_past_memberships_eck_id")
    op.drop_table("past_memberships")
