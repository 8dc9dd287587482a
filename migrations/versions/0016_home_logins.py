"""home login: activation codes, home links (username, parent's e-mail, PIN), PIN reset links

Revision ID: 0016_home_logins
Revises: 0015_web_sessions
Create Date: 2026-12-02 17:40:00.000000

Home login for students where the school enabled it (`schools.home_login`, which exists since 0001): the
printed activation codes, the home logins parents activate with them, and the links to choose a new PIN.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016_home_logins"
down_revision: str | None = "0015_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "home_activation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", _TEXT(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", _TEXT(length=200), nullable=False),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(
        op.f("ix_home_activation_codes_student_id"), "home_activation_codes", ["student_id"], unique=False
    )
    op.create_table(
        "home_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("username", _TEXT(length=40), nullable=False),
        sa.Column("email", _TEXT(length=320), nullable=False),
        sa.Column("pin_hash", _TEXT(length=300), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("student_id"),
        sa.UniqueConstraint("username"),
    )
    op.create_index("ix_home_links_email", "home_links", ["email"], unique=False)
    op.create_table(
        "home_pin_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("home_link_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["home_link_id"], ["home_links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_home_pin_links_home_link_id"), "home_pin_links", ["home_link_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_home_pin_links_home_link_id"), table_name="home_pin_links")
    op.drop_table("home_pin_links")
    op.drop_index("ix_home_links_email", table_name="home_links")
    op.drop_table("home_links")
    op.drop_index(op.f("ix_home_activation_codes_student_id"), table_name="home_activation_codes")
    op.drop_table("home_activation_codes")
