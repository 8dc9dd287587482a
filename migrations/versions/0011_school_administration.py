"""school administration: hand-added staff and group links, board coordinators, account requests,
announcements

Revision ID: 0011_school_administration
Revises: 0010_school_year
Create Date: 2026-12-02 14:33:21.069257
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_school_administration"
down_revision: str | None = "0010_school_year"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index("ix_announcements_valid", ["valid_from", "valid_until"], unique=False)

    op.create_table(
        "board_coordinators",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("school_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["board_id"],
            ["boards.id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "board_id"),
    )
    with op.batch_alter_table("board_coordinators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_board_coordinators_board_id"), ["board_id"], unique=False)

    op.create_table(
        "account_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("board_number", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("school_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("brin", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("location_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("director_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("coordinator_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("coordinator_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("document_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_requests", schema=None) as batch_op:
        batch_op.create_index("ix_account_requests_school", ["school_id"], unique=False)

    with op.batch_alter_table("group_staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column("until", sa.Date(), nullable=True))

    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default="las"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("group_staff", schema=None) as batch_op:
        batch_op.drop_column("until")
        batch_op.drop_column("role")

    with op.batch_alter_table("account_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_account_requests_school")

    op.drop_table("account_requests")
    with op.batch_alter_table("board_coordinators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_board_coordinators_board_id"))

    op.drop_table("board_coordinators")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_valid")

    op.drop_table("announcements")
