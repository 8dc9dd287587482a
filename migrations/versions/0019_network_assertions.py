"""network providers' sign-in assertions: their public keys, the used jtis, assertion-only accounts

Revision ID: 0019_network_assertions
Revises: 0018_school_lifecycle
Create Date: 2026-12-02 17:40:00.000000

A network provider registers its public keys (`assertion_key_sets`: a JWK/JWKS, or a JWKS URL with the
last fetch cached) and signs its users in with assertions whose `jti` is used once (`used_assertions`,
kept until the assertion expires). A staff member who only ever signs in that way gets an account that is
neither active nor disabled (`staff_accounts.assertion_only`), usable only by a session an assertion
started (`web_sessions.assertion_partner_id`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019_network_assertions"
down_revision: str | None = "0018_school_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_SESSION_PARTNER_FK = "fk_web_sessions_assertion_partner_id_partners"


def upgrade() -> None:
    op.create_table(
        "assertion_key_sets",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("jwks_url", _TEXT(length=2000), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", _TEXT(length=200), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "used_assertions",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("jti", _TEXT(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"]),
        sa.PrimaryKeyConstraint("partner_id", "jti"),
    )
    op.create_index(op.f("ix_used_assertions_expires_at"), "used_assertions", ["expires_at"], unique=False)
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assertion_only", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assertion_partner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(_SESSION_PARTNER_FK, "partners", ["assertion_partner_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(_SESSION_PARTNER_FK, type_="foreignkey")
        batch_op.drop_column("assertion_partner_id")
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.drop_column("assertion_only")
    op.drop_index(op.f("ix_used_assertions_expires_at"), table_name="used_assertions")
    op.drop_table("used_assertions")
    op.drop_table("assertion_key_sets")
