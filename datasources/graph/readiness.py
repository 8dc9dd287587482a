"""The facts behind a school's start-of-year readiness check (resolvers.readiness turns them into checks).

Two statements for any batch of schools, whatever their size: one row of counts and flags per school
(correlated subqueries), and one list of the items that fail a check (groups without a teacher, teachers
without a usable address or not activated, licenses coupled to no current group), so a board coordinator's
overview of twenty schools costs what one school costs. Only managed schools are read: the caller asks for
schools its viewer administers (the school's coordinators, its board coordinator, the operator).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import String, cast, exists, func, literal, null, or_, select, union_all

from datasources.store.calendar import next_school_year, school_year_of
from datasources.store.current import current_groups, current_members
from datasources.store.tables import (
    ACCOUNT_LINKS,
    BOARDS,
    CONSENT_REQUESTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    PRODUCTS,
    SCHOOL_FILE_YEARS,
    SCHOOL_YEARS,
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENTS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import ColumnElement, Select

    from auth.policy import Scope
    from datasources.store.reader import Reader

#: The coordinator's StaffRole name, as datasources.access.viewer_facts spells it (graph may not import
#: access: access imports graph).
COORDINATOR: Final = "ICT_COORDINATOR"
#: The kinds of failing items the second statement lists.
GROUP_WITHOUT_TEACHER: Final = "group_without_teacher"
TEACHER_WITHOUT_EMAIL: Final = "teacher_without_email"
TEACHER_SHARED_EMAIL: Final = "teacher_shared_email"
TEACHER_NOT_INVITED: Final = "teacher_not_invited"
TEACHER_INVITED: Final = "teacher_invited"
LICENSE_UNCOUPLED: Final = "license_uncoupled"


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """What the store knows of one school for its readiness check, on one day."""

    school_id: int
    today: dt.date
    #: "duo" (a DUO registry location) or "manual" (a managed location DUO does not list).
    source: str
    active: bool
    merged: bool
    las_coupling_suspended: bool
    dpa_signed: bool
    #: The school year whose groups are current there (None: the hub holds nothing of the school yet).
    shown_year: str | None
    #: The number of groups of the school year after the calendar's, and the first day they take effect.
    next_year_groups: int
    next_year_effective: dt.date | None
    next_year_file: bool
    current_students: int
    students_without_group: int
    active_coordinators: int
    pending_requests: int
    oldest_pending: dt.datetime | None
    #: Per item kind (GROUP_WITHOUT_TEACHER, ...), the names of the failing items, sorted.
    items: dict[str, list[str]] = field(default_factory=dict)

    @property
    def calendar_year(self) -> str:
        """The school year the calendar is in."""
        return school_year_of(self.today)

    @property
    def next_year(self) -> str:
        """The school year after the calendar's."""
        return next_school_year(self.calendar_year)


def _teachers() -> ColumnElement[bool]:
    """Current staff members with the TEACHER role (roles are a JSON list, read as text the same way on
    both engines: the quoted name cannot be part of another role's name)."""
    return cast(STAFF_MEMBERS.c.roles, String).like('%"TEACHER"%')


def _school_facts(school_ids: Sequence[int], today: dt.date) -> Select[Any]:
    s, g, f, y = SCHOOLS.c, GROUPS.c, SCHOOL_FILE_YEARS.c, SCHOOL_YEARS.c
    next_year = next_school_year(school_year_of(today))
    shown_by_groups = select(func.max(g.school_year)).where(g.school_id == s.id, g.effective_from <= today)
    shown_by_files = (
        select(func.max(f.school_year))
        .join(SCHOOL_YEARS, y.name == f.school_year)
        .where(f.school_id == s.id, y.starts_on <= today)
    )
    next_groups = select(func.count(), func.min(g.effective_from)).where(
        g.school_id == s.id, g.school_year == next_year
    )
    placed = GROUPS.alias("placed")
    in_current_group = exists(
        select(GROUP_STUDENTS.c.group_id)
        .join(placed, placed.c.id == GROUP_STUDENTS.c.group_id)
        .where(GROUP_STUDENTS.c.student_id == STUDENTS.c.id, current_groups(today, placed))
    )
    current_students = STUDENTS.c.school_id == s.id, current_members(STUDENTS, today)
    by_account = (
        select(func.count())
        .select_from(STAFF_ACCOUNT_ROLES)
        .join(STAFF_ACCOUNTS, STAFF_ACCOUNTS.c.id == STAFF_ACCOUNT_ROLES.c.account_id)
        .where(
            STAFF_ACCOUNT_ROLES.c.school_id == s.id,
            STAFF_ACCOUNT_ROLES.c.role == COORDINATOR,
            STAFF_ACCOUNTS.c.active.is_(True),
        )
    )
    # The other way to coordinate (datasources.access.staff_roles.active_coordinators): an activated
    # member of the school with the role, whose address has an active account, not counted twice.
    by_member = (
        select(func.count())
        .select_from(STAFF_MEMBERS)
        .join(STAFF_ACCOUNTS, STAFF_ACCOUNTS.c.email == STAFF_MEMBERS.c.email)
        .where(
            STAFF_MEMBERS.c.school_id == s.id,
            STAFF_MEMBERS.c.active.is_(True),
            STAFF_ACCOUNTS.c.active.is_(True),
            cast(STAFF_MEMBERS.c.roles, String).like(f'%"{COORDINATOR}"%'),
            ~exists(
                select(STAFF_ACCOUNT_ROLES.c.account_id).where(
                    STAFF_ACCOUNT_ROLES.c.account_id == STAFF_ACCOUNTS.c.id,
                    STAFF_ACCOUNT_ROLES.c.school_id == s.id,
                    STAFF_ACCOUNT_ROLES.c.role == COORDINATOR,
                )
            ),
        )
    )
    pending = CONSENT_REQUESTS.c.school_id == s.id, CONSENT_REQUESTS.c.status == "PENDING"
    return (
        select(
            s.id.label("school_id"),
            s.source,
            s.active,
            s.merged_into_id.is_not(None).label("merged"),
            s.las_coupling_suspended,
            BOARDS.c.dpa_signed_at.is_not(None).label("dpa_signed"),
            shown_by_groups.scalar_subquery().label("shown_by_groups"),
            shown_by_files.scalar_subquery().label("shown_by_files"),
            next_groups.with_only_columns(func.count()).scalar_subquery().label("next_year_groups"),
            next_groups.with_only_columns(func.min(g.effective_from))
            .scalar_subquery()
            .label("next_year_effective"),
            exists(select(f.school_id).where(f.school_id == s.id, f.school_year == next_year)).label(
                "next_year_file"
            ),
            select(func.count())
            .select_from(STUDENTS)
            .where(*current_students)
            .scalar_subquery()
            .label("current_students"),
            select(func.count())
            .select_from(STUDENTS)
            .where(*current_students, ~in_current_group)
            .scalar_subquery()
            .label("students_without_group"),
            (by_account.scalar_subquery() + by_member.scalar_subquery()).label("active_coordinators"),
            select(func.count())
            .select_from(CONSENT_REQUESTS)
            .where(*pending)
            .scalar_subquery()
            .label("pending_requests"),
            select(func.min(CONSENT_REQUESTS.c.requested_at))
            .where(*pending)
            .scalar_subquery()
            .label("oldest_pending"),
        )
        .join(BOARDS, BOARDS.c.id == s.board_id)
        .where(s.id.in_(list(school_ids)))
    )


def _item(kind: str, school_id: Any, first: Any, prefix: Any, name: Any) -> tuple[Any, ...]:
    return (
        school_id.label("school_id"),
        literal(kind).label("kind"),
        first.label("first_name"),
        prefix.label("prefix"),
        name.label("name"),
    )


def _failing_items(school_ids: Sequence[int], today: dt.date) -> Any:
    ids = list(school_ids)
    m = STAFF_MEMBERS.c
    teachers = (m.school_id.in_(ids), current_members(STAFF_MEMBERS, today), _teachers())
    linked = STAFF_MEMBERS.alias("linked")
    taught = exists(
        select(GROUP_STAFF.c.staff_id)
        .join(linked, linked.c.id == GROUP_STAFF.c.staff_id)
        .where(
            GROUP_STAFF.c.group_id == GROUPS.c.id,
            or_(GROUP_STAFF.c.until.is_(None), GROUP_STAFF.c.until >= today),
            current_members(linked, today),
        )
    )
    groups_without_teacher = select(
        *_item(GROUP_WITHOUT_TEACHER, GROUPS.c.school_id, null(), null(), GROUPS.c.name)
    ).where(GROUPS.c.school_id.in_(ids), current_groups(today), ~taught)
    without_email = select(
        *_item(TEACHER_WITHOUT_EMAIL, m.school_id, m.first_name, m.prefix, m.last_name)
    ).where(*teachers, or_(m.email.is_(None), func.trim(m.email) == ""))
    other = STAFF_MEMBERS.alias("other")
    shared_email = select(
        *_item(TEACHER_SHARED_EMAIL, m.school_id, m.first_name, m.prefix, m.last_name)
    ).where(
        *teachers,
        exists(
            select(other.c.id).where(
                other.c.school_id == m.school_id,
                other.c.id != m.id,
                func.lower(other.c.email) == func.lower(m.email),
                current_members(other, today),
            )
        ),
    )
    invited = exists(
        select(ACCOUNT_LINKS.c.id).where(
            ACCOUNT_LINKS.c.staff_member_id == m.id,
            ACCOUNT_LINKS.c.purpose == "activation",
            ACCOUNT_LINKS.c.used_at.is_(None),
            ACCOUNT_LINKS.c.expires_at > dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC),
        )
    )
    with_email = (*teachers, m.active.is_(False), m.email.is_not(None), func.trim(m.email) != "")
    not_invited = select(*_item(TEACHER_NOT_INVITED, m.school_id, m.first_name, m.prefix, m.last_name)).where(
        *with_email, ~invited
    )
    awaiting = select(*_item(TEACHER_INVITED, m.school_id, m.first_name, m.prefix, m.last_name)).where(
        *with_email, invited
    )
    coupled = GROUPS.alias("coupled")
    coupled_now = exists(
        select(LICENSE_GROUPS.c.group_id)
        .join(coupled, coupled.c.id == LICENSE_GROUPS.c.group_id)
        .where(LICENSE_GROUPS.c.license_id == LICENSES.c.id, current_groups(today, coupled))
    )
    uncoupled = (
        select(*_item(LICENSE_UNCOUPLED, LICENSES.c.school_id, null(), null(), PRODUCTS.c.name))
        .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
        .where(
            LICENSES.c.school_id.in_(ids),
            LICENSES.c.valid_from <= today,
            or_(LICENSES.c.valid_until.is_(None), LICENSES.c.valid_until >= today),
            ~coupled_now,
        )
    )
    return union_all(groups_without_teacher, without_email, shared_email, not_invited, awaiting, uncoupled)


def _person(first: str | None, prefix: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, prefix, last) if part)


async def readiness_facts(
    reader: Reader, scope: Scope, school_ids: Sequence[int], today: dt.date
) -> dict[int, ReadinessFacts]:
    """The readiness facts of each school among `school_ids` that the viewer manages (two statements)."""
    managed = [school_id for school_id in school_ids if scope.manages(school_id)]
    if not managed:
        return {}
    items: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in await reader.rows(_failing_items(managed, today)):
        items[row.school_id][row.kind].append(_person(row.first_name, row.prefix, row.name))
    found: dict[int, ReadinessFacts] = {}
    for row in await reader.rows(_school_facts(managed, today)):
        shown = [year for year in (row.shown_by_groups, row.shown_by_files) if year is not None]
        found[row.school_id] = ReadinessFacts(
            school_id=row.school_id,
            today=today,
            source=row.source,
            active=bool(row.active),
            merged=bool(row.merged),
            las_coupling_suspended=bool(row.las_coupling_suspended),
            dpa_signed=bool(row.dpa_signed),
            shown_year=max(shown) if shown else None,
            next_year_groups=int(row.next_year_groups or 0),
            next_year_effective=row.next_year_effective,
            next_year_file=bool(row.next_year_file),
            current_students=int(row.current_students or 0),
            students_without_group=int(row.students_without_group or 0),
            active_coordinators=int(row.active_coordinators or 0),
            pending_requests=int(row.pending_requests or 0),
            oldest_pending=row.oldest_pending,
            items={kind: sorted(names) for kind, names in items[row.school_id].items()},
        )
    return found


__all__ = [
    "GROUP_WITHOUT_TEACHER",
    "LICENSE_UNCOUPLED",
    "TEACHER_INVITED",
    "TEACHER_NOT_INVITED",
    "TEACHER_SHARED_EMAIL",
    "TEACHER_WITHOUT_EMAIL",
    "ReadinessFacts",
    "readiness_facts",
]
