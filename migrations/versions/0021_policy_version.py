"""a stamp of what a partner's facts are read from, replaced by triggers at every change

Revision ID: 0021_policy_version
Revises: 0020_session_binding
Create Date: 2026-12-08 01:00:00.000000

Every transaction that changes `partners`, `consents`, `schools`, `boards` or `operation_allow_lists`
writes a new random `policy_versions.stamp` in that transaction, so that a process may keep a partner's
facts while the stamp they were read under is the database's (`datasources.access.kept_facts`). A stamp
names one state of those tables: a restored backup or a replica shows the stamp of the state it holds.

On PostgreSQL the stamp is written by deferred constraint triggers, at commit, after every other lock of
the transaction (writing it at each statement would lock the one row early, and two transactions that
then wanted each other's rows would deadlock), once per transaction: the first firing notes its stamp in
a setting local to the transaction (`leerpoort.policy_stamp`), which the others find. (A transaction id
would not do: the row may come from another cluster, whose ids this one hands out again; found by the
attacker review.) The row is made by the first change when it is missing (an emptied database).
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
CREATE FUNCTION leerpoort_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp text := md5(gen_random_uuid()::text);
BEGIN
    IF coalesce(current_setting('leerpoort.policy_stamp', true), '') <> '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('leerpoort.policy_stamp', stamp, true);
    INSERT INTO policy_versions (id, stamp) VALUES (1, stamp)
    ON CONFLICT (id) DO UPDATE SET stamp = EXCLUDED.stamp;
    RETURN NULL;
END
$$
"""
_SQLITE_STAMP = (
    "INSERT INTO policy_versions (id, stamp) VALUES (1, lower(hex(randomblob(16))))"
    " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;"
)


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_policy_changed"
                f" AFTER INSERT OR UPDATE OR DELETE ON {table} DEFERRABLE INITIALLY DEFERRED"
                " FOR EACH ROW EXECUTE FUNCTION leerpoort_policy_changed()"
            )
        op.execute("INSERT INTO policy_versions (id, stamp) VALUES (1, md5(gen_random_uuid()::text))")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(
                    f"CREATE TRIGGER {table}_policy_{operation.lower()} AFTER {operation} ON {table}"
                    f" BEGIN {_SQLITE_STAMP} END"
                )
        op.execute("INSERT INTO policy_versions (id, stamp) VALUES (1, lower(hex(randomblob(16))))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_policy_changed ON {table}")
        op.execute("DROP FUNCTION leerpoort_policy_changed()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {table}_policy_{operation.lower()}")
    op.drop_table("policy_versions")
