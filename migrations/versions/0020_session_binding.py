"""sessions bound to the address they started from, where the school wants that

Revision ID: 0020_session_binding
Revises: 0019_network_assertions
Create Date: 2026-12-03 13:30:00.000000

A school may bind its sessions to their start address (`schools.sessions_bound`, `setSessionBinding`); a
session that ends because a request came from elsewhere records why (`web_sessions.end_reason`), so the
sign-in page can tell the person.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020_session_binding"
down_revision: str | None = "0019_network_assertions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite has DROP COLUMN since 3.35): a batch rebuild of `schools` would drop a
    # table that others' foreign keys point at.
    op.add_column(
        "schools", sa.Column("sessions_bound", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
    op.drop_column("schools", "sessions_bound")
