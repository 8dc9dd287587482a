"""What an import does to staff accounts: a removed member or a changed address closes the way in.

The LAS is the truth about who works at a school and at which address. When an import removes a staff
member, or delivers another e-mail address for one, the member's open activation links stop working
(they were sent to the old address, or to someone who left), and the account that signed in with the old
address is disabled, unless it still has a reason to exist: an active membership elsewhere with that
address, or a role granted in the hub (a coordinator). A disabled account's tokens stop working at once
(`datasources.access.viewer_facts.staff_facts`) and its open reset links go with it. All in the import's
transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from datasources.store.tables import ACCOUNT_LINKS, STAFF_ACCOUNT_ROLES, STAFF_ACCOUNTS, STAFF_MEMBERS

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.ext.asyncio import AsyncConnection


async def close_access(
    connection: AsyncConnection, member_ids: Collection[int], old_addresses: Collection[str | None]
) -> None:
    """The members `member_ids` were removed or got a new address: delete their links, and disable the
    accounts of `old_addresses` that nothing else keeps open. Call before the members' rows go."""
    if not member_ids:
        return
    await connection.execute(delete(ACCOUNT_LINKS).where(ACCOUNT_LINKS.c.staff_member_id.in_(member_ids)))
    addresses = sorted({address for address in old_addresses if address})
    if not addresses:
        return
    still_member = (
        select(STAFF_MEMBERS.c.id)
        .where(
            STAFF_MEMBERS.c.email == STAFF_ACCOUNTS.c.email,
            STAFF_MEMBERS.c.active.is_(True),
            STAFF_MEMBERS.c.id.not_in(member_ids),
        )
        .exists()
    )
    has_role = select(STAFF_ACCOUNT_ROLES.c.account_id).where(
        STAFF_ACCOUNT_ROLES.c.account_id == STAFF_ACCOUNTS.c.id
    )
    closing = (
        (
            await connection.execute(
                select(STAFF_ACCOUNTS.c.id).where(
                    STAFF_ACCOUNTS.c.email.in_(addresses),
                    STAFF_ACCOUNTS.c.active.is_(True),
                    ~still_member,
                    ~has_role.exists(),
                )
            )
        )
        .scalars()
        .all()
    )
    # An account a network provider's assertion made (never activated) goes when no membership with its
    # address is left, active or not: disabled (both flags false), which ends its assertion sessions.
    any_member = (
        select(STAFF_MEMBERS.c.id)
        .where(STAFF_MEMBERS.c.email == STAFF_ACCOUNTS.c.email, STAFF_MEMBERS.c.id.not_in(member_ids))
        .exists()
    )
    await connection.execute(
        update(STAFF_ACCOUNTS)
        .where(STAFF_ACCOUNTS.c.email.in_(addresses), STAFF_ACCOUNTS.c.assertion_only.is_(True), ~any_member)
        .values(assertion_only=False)
    )
    if closing:
        await connection.execute(
            update(STAFF_ACCOUNTS).where(STAFF_ACCOUNTS.c.id.in_(closing)).values(active=False)
        )
        await connection.execute(
            delete(ACCOUNT_LINKS).where(
                ACCOUNT_LINKS.c.account_id.in_(closing), ACCOUNT_LINKS.c.used_at.is_(None)
            )
        )
