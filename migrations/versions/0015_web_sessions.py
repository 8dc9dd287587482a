"""web sessions and student logins

Revision ID: 0015_web_sessions
Revises: 0014_school_networks
Create Date: 2026-12-02 16:50:00.000000

Browser sessions behind the sign-in pages (only a hash of the cookie is stored) and students' logins
(a username per school with a password or a picture code, set by the coordinator).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015_web_sessions"
down_revision: str | None = "0014_school_networks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_subject", ["subject_kind", "subject_id"], unique=False)

    op.create_table(
        "student_logins",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("picture_hash", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("picture_sealed", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
        ),
        sa.PrimaryKeyConstraint("student_id"),
        sa.UniqueConstraint("school_id", "username"),
    )
    with op.batch_alter_table("student_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_student_logins_school_id"), ["school_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("student_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_student_logins_school_id"))

    op.drop_table("student_logins")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_subject")

    op.drop_table("web_sessions")
