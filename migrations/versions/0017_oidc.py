"""OpenID Connect: partners' client registrations (redirect and login-initiation URIs) and one-time
authorization codes

Revision ID: 0017_oidc
Revises: 0016_home_logins
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017_oidc"
down_revision: str | None = "0016_home_logins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("login_initiation_uri", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "oidc_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("code_challenge", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("person_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("context", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_token_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("access_token_id"),
    )
    op.create_index(op.f("ix_oidc_codes_partner_id"), "oidc_codes", ["partner_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_codes_partner_id"), table_name="oidc_codes")
    op.drop_table("oidc_codes")
    op.drop_table("oidc_clients")
