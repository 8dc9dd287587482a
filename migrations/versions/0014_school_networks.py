"""school networks and network tokens

Revision ID: 0014_school_networks
Revises: 0013_license_rules
Create Date: 2026-12-02 17:00:00.000000

The address ranges schools register (a sign-in from one is at school, anything else at home) and the
school-bound tokens with which a school's scheduled command keeps a dynamic address current.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_school_networks"
down_revision: str | None = "0013_license_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "network_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index(op.f("ix_network_tokens_school_id"), "network_tokens", ["school_id"], unique=False)
    op.create_table(
        "school_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("cidr", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dynamic", sa.Boolean(), nullable=False),
        sa.Column("network_token_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.ForeignKeyConstraint(["network_token_id"], ["network_tokens.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("school_id", "cidr"),
    )
    op.create_index(op.f("ix_school_networks_school_id"), "school_networks", ["school_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_school_networks_school_id"), table_name="school_networks")
    op.drop_table("school_networks")
    op.drop_index(op.f("ix_network_tokens_school_id"), table_name="network_tokens")
    op.drop_table("network_tokens")
