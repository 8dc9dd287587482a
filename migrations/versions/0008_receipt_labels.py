"""consent receipts name the role and the school, not the account

Revision ID: 0008_receipt_labels
Revises: 0007_scope_periods
Create Date: 2026-12-02 10:00:00

Receipts used to store the granting coordinator's token subject ("staff:2"), which every partner of the
school read in `grantedBy`: it told them the hub's account ids. A grant now stores the role and the school's
name ("ICT-coördinator, <school name>", `consent_lifecycle.granted_by_label`); this rewrites the receipts
written before in the same form. Only a school's ICT coordinator has ever been able to grant, so the role is
known for every such receipt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_receipt_labels"
down_revision: str | None = "0007_scope_periods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The same role and length as `datasources.access.consent_lifecycle` (a migration does not import the code
#: it outlives).
_ROLE = "ICT-coördinator, "
_LENGTH = 200


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE consents SET granted_by = substr(:role || (SELECT schools.name FROM schools"
            " WHERE schools.id = consents.school_id), 1, :length)"
            " WHERE granted_by LIKE 'staff:%'"
        ).bindparams(role=_ROLE, length=_LENGTH)
    )


def downgrade() -> None:
    # The account behind a receipt was not kept: the labels stay as they are (they are valid text).
    pass
