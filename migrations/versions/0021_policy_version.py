"""a count of changes to what a partner's facts are read from, kept by triggers

Revision ID: 0021_policy_version
Revises: 0020_session_binding
Create Date: 2026-12-08 01:00:00.000000

Every change to `partners`, `consents`, `schools`, `boards` or `operation_allow_lists` adds one to
`policy_versions.version` in the changing transaction, so that a process may keep a partner's facts
while the count it read them under is unchanged (`datasources.access.kept_facts`). On PostgreSQL the
count is taken by deferred constraint triggers, at commit, after every other lock of the transaction:
counting at each statement would lock the one row early, and two transactions that then wanted each
other's rows would deadlock. The row is made by the first change when it is missing (an emptied
database), with a new random epoch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021_policy_version"
down_revision: str | None = "0020_session_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The tables a partner's facts (and its allow-list) are read from (`viewer_facts.partner_facts`).
TABLES = ("partners", "consents", "schools", "boards", "operation_allow_lists")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

_POSTGRESQL_FUNCTION = """
CREATE FUNCTION leerpoort_count_policy_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO policy_versions (id, epoch, version) VALUES (1, md5(gen_random_uuid()::text), 1)
    ON CONFLICT (id) DO UPDATE SET version = policy_versions.version + 1;
    RETURN NULL;
END
$$
"""
_SQLITE_COUNT = (
    "INSERT INTO policy_versions (id, epoch, version) VALUES (1, lower(hex(randomblob(16))), 1)"
    " ON CONFLICT (id) DO UPDATE SET version = version + 1;"
)


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(_POSTGRESQL_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_policy_change AFTER INSERT OR UPDATE OR DELETE ON {table}"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION leerpoort_count_policy_change()"
            )
        op.execute(
            "INSERT INTO policy_versions (id, epoch, version) VALUES (1, md5(gen_random_uuid()::text), 0)"
        )
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(
                    f"CREATE TRIGGER {table}_policy_{operation.lower()} AFTER {operation} ON {table}"
                    f" BEGIN {_SQLITE_COUNT} END"
                )
        op.execute(
            "INSERT INTO policy_versions (id, epoch, version) VALUES (1, lower(hex(randomblob(16))), 0)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_policy_change ON {table}")
        op.execute("DROP FUNCTION leerpoort_count_policy_change()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {table}_policy_{operation.lower()}")
    op.drop_table("policy_versions")
