"""The school memberships of a signed-in person: the facts behind their own view and their launches.

A staff account signs in with an e-mail address; it is a teacher (or intern, substitute, ...) at every
school where a staff member with that address is activated (`active`, the same rule that lets a member's
coordinator role count), current (`datasources.store.current`), and the school is open. A student viewer
names its membership (a `students` row) directly. A closed school, a membership that ended or has not
begun, and an address the LAS changed (the member is inactive again) give no membership, so the self-check
and the launch go quiet together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from auth.policy import Membership
from datasources.store.current import current_members
from datasources.store.tables import SCHOOLS, STAFF_ACCOUNTS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    import datetime as dt

    from datasources.store.reader import Reader


async def staff_memberships(reader: Reader, account_id: int, today: dt.date) -> tuple[Membership, ...]:
    """The current staff memberships of an active staff account, at open schools."""
    member, account = STAFF_MEMBERS.c, STAFF_ACCOUNTS.c
    rows = await reader.rows(
        select(member.id, member.person_id, member.school_id)
        .join(STAFF_ACCOUNTS, account.email == member.email)
        .join(SCHOOLS, SCHOOLS.c.id == member.school_id)
        .where(
            account.id == account_id,
            account.active.is_(True),
            member.active.is_(True),
            SCHOOLS.c.active.is_(True),
            current_members(STAFF_MEMBERS, today),
        )
        .order_by(member.school_id, member.id)
    )
    return tuple(Membership("staff", row.id, row.person_id, row.school_id) for row in rows)


async def student_memberships(reader: Reader, student_id: int, today: dt.date) -> tuple[Membership, ...]:
    """The student's membership, when it is active and current and its school open (else none)."""
    student = STUDENTS.c
    rows = await reader.rows(
        select(student.id, student.person_id, student.school_id)
        .join(SCHOOLS, SCHOOLS.c.id == student.school_id)
        .where(
            student.id == student_id,
            student.active.is_(True),
            SCHOOLS.c.active.is_(True),
            current_members(STUDENTS, today),
        )
    )
    return tuple(Membership("student", row.id, row.person_id, row.school_id) for row in rows)
