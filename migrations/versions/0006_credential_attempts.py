"""credential attempts: the counters of the rate limits on sign-in and the token endpoint

Revision ID: 0006_credential_attempts
Revises: 0005_past_memberships
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_credential_attempts"
down_revision: str | None = "0005_past_memberships"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("credential_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_credential_attempts_at", ["attempted_at"], unique=False)
        batch_op.create_index("ix_credential_attempts_key_at", ["key", "attempted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credential_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_attempts_key_at")
        batch_op.drop_index("ix_credential_attempts_at")
    op.drop_table("credential_attempts")
