"""Students and staff members, minimised in SQL to the categories the scope grants per school."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, Select, and_, null, select

from auth.categories import DataCategory
from datasources.graph.groups import GROUP, group_columns, group_record, group_rows, main_group_id
from datasources.store.columns import Columns
from datasources.store.current import current_members
from datasources.store.id_lists import among_bound
from datasources.store.pagination import PageArgs, parent_pages, split_pages
from datasources.store.reader import AnyRow
from datasources.store.records import Page, StaffRecord, StudentRecord
from datasources.store.scoping import granted, person_public_id, pseudonym, visible_schools_with
from datasources.store.staff_links import staff_link_in_force
from datasources.store.statements import remembered, scope_key
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import Reader

STUDENT_CATEGORIES = (
    DataCategory.STUDENT_BASIC,
    DataCategory.STUDENT_NAME,
    DataCategory.STUDENT_DEMOGRAPHICS,
)
STAFF_CATEGORIES = (DataCategory.STAFF_BASIC, DataCategory.STAFF_NAME, DataCategory.STAFF_COMMUNICATION)


def _eck_id(
    scope: Scope, category: DataCategory, column: ColumnElement[Any], school: ColumnElement[Any]
) -> Any:
    if not scope.sees_eck_id:
        return null().label(column.key)
    return granted(scope, category, column, school)


#: A student's columns; the person id is never shown: the viewer's pseudonym and id are derived from it.
STUDENT = Columns.of(StudentRecord, computed=["public_id", "pseudonym", "main_group"], extra=["person_id"])
#: The student's main group (stamgroep), read in the same statement, follows the student's columns.
MAIN_GROUP = GROUP.after(STUDENT, prefix="main_group_")
#: A page of a group's students ends with the group it is a page of.
_GROUP_OF_STUDENT = Columns(["group_id"]).after(MAIN_GROUP)
STAFF = Columns.of(StaffRecord, computed=["public_id", "pseudonym"], extra=["person_id"])
_GROUP_OF_STAFF = Columns(["group_id"]).after(STAFF)


def student_columns(scope: Scope) -> tuple[ColumnElement[Any], ...]:
    """A student's columns, each minimised to the category that covers it at the row's school."""
    s = STUDENTS.c
    basic, name, demographics = STUDENT_CATEGORIES
    return STUDENT.labelled(
        id=s.id,
        school_id=s.school_id,
        person_id=s.person_id,
        eck_id=_eck_id(scope, basic, s.eck_id, s.school_id),
        first_name=granted(scope, name, s.first_name, s.school_id),
        prefix=granted(scope, name, s.prefix, s.school_id),
        last_name=granted(scope, name, s.last_name, s.school_id),
        initials=granted(scope, name, s.initials, s.school_id),
        date_of_birth=granted(scope, demographics, s.date_of_birth, s.school_id),
        year_level=granted(scope, basic, s.year_level, s.school_id),
    )


def staff_columns(scope: Scope) -> tuple[ColumnElement[Any], ...]:
    """A staff member's columns, each minimised to the category that covers it at the row's school."""
    s = STAFF_MEMBERS.c
    basic, name, communication = STAFF_CATEGORIES
    return STAFF.labelled(
        id=s.id,
        school_id=s.school_id,
        person_id=s.person_id,
        eck_id=_eck_id(scope, basic, s.eck_id, s.school_id),
        first_name=granted(scope, name, s.first_name, s.school_id),
        prefix=granted(scope, name, s.prefix, s.school_id),
        last_name=granted(scope, name, s.last_name, s.school_id),
        email=granted(scope, communication, s.email, s.school_id),
        roles=granted(scope, basic, s.roles, s.school_id),
        las_roles=granted(scope, basic, s.las_roles, s.school_id),
        active=granted(scope, basic, s.active, s.school_id),
    )


def student_record(scope: Scope, row: AnyRow) -> StudentRecord:
    """A student record from a row of `student_columns` followed by its main group's columns."""
    row_id, school_id, person_id = row[STUDENT.id], row[STUDENT.school_id], row[STUDENT.person_id]
    return StudentRecord(
        id=row_id,
        public_id=person_public_id(scope, "Student", row_id, person_id),
        school_id=school_id,
        pseudonym=pseudonym(scope, "student", person_id, school_id, DataCategory.STUDENT_BASIC),
        eck_id=row[STUDENT.eck_id],
        first_name=row[STUDENT.first_name],
        prefix=row[STUDENT.prefix],
        last_name=row[STUDENT.last_name],
        initials=row[STUDENT.initials],
        date_of_birth=row[STUDENT.date_of_birth],
        year_level=row[STUDENT.year_level],
        main_group=group_record(scope, row, MAIN_GROUP),
    )


def staff_record(scope: Scope, row: AnyRow) -> StaffRecord:
    """A staff record from a row that starts with `staff_columns`."""
    row_id, school_id, person_id = row[STAFF.id], row[STAFF.school_id], row[STAFF.person_id]
    roles, las_roles = row[STAFF.roles], row[STAFF.las_roles]
    return StaffRecord(
        id=row_id,
        public_id=person_public_id(scope, "StaffMember", row_id, person_id),
        school_id=school_id,
        pseudonym=pseudonym(scope, "staff", person_id, school_id, DataCategory.STAFF_BASIC),
        eck_id=row[STAFF.eck_id],
        first_name=row[STAFF.first_name],
        prefix=row[STAFF.prefix],
        last_name=row[STAFF.last_name],
        email=row[STAFF.email],
        roles=None if roles is None else tuple(roles),
        las_roles=None if las_roles is None else tuple(las_roles),
        active=row[STAFF.active],
    )


def _students(scope: Scope, today: dt.date) -> Select[Any]:
    # A student exists for a viewer only where student.basic (the identity, the pseudonym) is granted:
    # names or a date of birth without it would be data about nobody the partner can tell apart.
    # The main group comes in the same statement: every page of students needs it, and a loader per
    # student would cost an awaitable per row on the hottest path of the graph. It is joined only where
    # group.basic is granted, like every other way to a group.
    main = GROUPS.alias("main_group")
    return (
        select(*student_columns(scope), *group_columns(scope, main, MAIN_GROUP))
        .select_from(
            STUDENTS.outerjoin(
                main,
                and_(main.c.id == main_group_id(today, STUDENTS.c.id), group_rows(scope, main.c.school_id)),
            )
        )
        .where(*_student_rows(scope, today))
    )


def _student_rows(scope: Scope, today: dt.date) -> tuple[ColumnElement[bool], ...]:
    school = STUDENTS.c.school_id
    return (
        visible_schools_with(scope, [DataCategory.STUDENT_BASIC], school),
        # Next year's new pupils are nobody's to see before their first day, leavers not after
        # their last (datasources.store.current).
        current_members(STUDENTS, today),
    )


#: The label of a page's main-group id, computed before the page is ranked (`_paged_students`).
_MAIN_GROUP_REF: Final = "main_group_ref"


def _students_to_page(scope: Scope, today: dt.date) -> Select[Any]:
    """The students of `_students` with only their main group's id (`_MAIN_GROUP_REF`), for
    `_paged_students` to rank and then join the group to."""
    return select(*student_columns(scope), main_group_id(today, STUDENTS.c.id).label(_MAIN_GROUP_REF)).where(
        *_student_rows(scope, today)
    )


def _paged_students(
    scope: Scope,
    statement: Select[Any],
    parent: ColumnElement[int],
    args: PageArgs,
    parents: Sequence[int],
    *,
    after: tuple[str, ...] = (),
) -> Select[Any]:
    """One page per `parent` of `statement` (`_students_to_page`, narrowed), with the columns of `_students`
    (then the `after` labels). The main group's id is a column of the ranked rows, so PostgreSQL runs its
    subquery once per student; joined on the group itself, as `_students` does, it ran twice (as the hash
    join's key and again as its condition)."""
    # One parent (a `school(code:)`, one group): a plain keyset page, which the database can stop reading
    # after `first` + 1 rows; several: ranked per parent in one statement.
    page = parent_pages(statement, parent, STUDENTS.c.id, args, parents).subquery("page")
    main = GROUPS.alias("main_group")
    return (
        select(
            *(page.c[label] for label in STUDENT.sql_labels),
            *group_columns(scope, main, MAIN_GROUP),
            *(page.c[label] for label in after),
        )
        .select_from(
            page.outerjoin(
                main,
                and_(main.c.id == page.c[_MAIN_GROUP_REF], group_rows(scope, main.c.school_id)),
            )
        )
        .order_by(page.c[str(parent.key)], page.c[STUDENT.sql_labels[STUDENT.id]])
    )


def _staff_members(scope: Scope, today: dt.date) -> Select[Any]:
    school = STAFF_MEMBERS.c.school_id
    return select(*staff_columns(scope)).where(
        visible_schools_with(scope, [DataCategory.STAFF_BASIC], school),
        current_members(STAFF_MEMBERS, today),
    )


async def students_by_id(
    reader: Reader, scope: Scope, ids: Sequence[int], today: dt.date
) -> dict[int, StudentRecord]:
    """The visible students among `ids`."""
    rows = await student_rows_by_id(reader, scope, ids, today)
    return {key: student_record(scope, row) for key, row in rows.items()}


async def student_rows_by_id(
    reader: Reader, scope: Scope, ids: Sequence[int], today: dt.date, *, main_group: bool = True
) -> dict[int, AnyRow]:
    """The rows of `students_by_id`'s records (positions of `STUDENT` and `MAIN_GROUP`), for the compiled
    feed, which builds the JSON from them with `student_identity`. Without `main_group` the group's
    columns are null: for a selection that does not ask for it, whose statement then skips the search
    for each student's main group (most of the statement's time on PostgreSQL)."""

    def build() -> Select[Any]:
        if main_group:
            statement = _students(scope, today)
        else:
            nulls = (null().label(label) for label in MAIN_GROUP.sql_labels)
            statement = select(*student_columns(scope), *nulls).where(*_student_rows(scope, today))
        return statement.where(among_bound(STUDENTS.c.id, "ids"))

    # Built once per scope and day (a feed page's nodes ask for it every page), the ids bound at each run.
    statement = remembered(("students_by_id", scope_key(scope), today, main_group), build)
    rows = await reader.rows(statement, {"ids": sorted(ids)})
    return {row[STUDENT.id]: row for row in rows}


async def staff_by_id(
    reader: Reader, scope: Scope, ids: Sequence[int], today: dt.date
) -> dict[int, StaffRecord]:
    """The visible staff members among `ids`."""
    statement = remembered(
        ("staff_by_id", scope_key(scope), today),
        lambda: _staff_members(scope, today).where(among_bound(STAFF_MEMBERS.c.id, "ids")),
    )
    rows = await reader.rows(statement, {"ids": sorted(ids)})
    return {row[STAFF.id]: staff_record(scope, row) for row in rows}


async def students_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs, today: dt.date
) -> dict[int, Page[StudentRecord]]:
    """One page of each school's students."""
    rows = await reader.rows(_school_students_page(scope, school_ids, args, today))
    return split_pages(
        ((row[STUDENT.school_id], row[STUDENT.id], student_record(scope, row)) for row in rows),
        school_ids,
        args,
    )


async def student_rows_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs, today: dt.date
) -> dict[int, Page[AnyRow]]:
    """One page of each school's students as the rows `students_by_school` reads (the same statement),
    for a caller that builds its answer from the row itself (`schema.compiled`): `student_identity`
    gives what `student_record` derives from the row, positions are those of `STUDENT` and `MAIN_GROUP`."""
    rows = await reader.rows(_school_students_page(scope, school_ids, args, today))
    return split_pages(((row[STUDENT.school_id], row[STUDENT.id], row) for row in rows), school_ids, args)


def _school_students_page(
    scope: Scope, school_ids: Sequence[int], args: PageArgs, today: dt.date
) -> Select[Any]:
    """The statement of `students_by_school`, built once per distinct input (`remembered`)."""

    def build() -> Select[Any]:
        statement = _students_to_page(scope, today).where(STUDENTS.c.school_id.in_(school_ids))
        return _paged_students(scope, statement, STUDENTS.c.school_id, args, school_ids)

    return remembered(("students_by_school", scope_key(scope), tuple(school_ids), args, today), build)


@dataclass(frozen=True, slots=True)
class StudentIdentity:
    """What `student_record` derives from a student's row, for one scope: its shown id, its pseudonym, and
    its main group's shown id."""

    public_id: Callable[[AnyRow], str]
    pseudonym: Callable[[AnyRow], str | None]
    group_public_id: Callable[[int], str]


def student_identity(scope: Scope) -> StudentIdentity:
    """The derived values of `student_record` as functions of a row (of `student_rows_by_school`)."""
    show = scope.identifiers.show
    hashed = scope.identifiers.pseudonym
    row_id, school_id, person_id = STUDENT.id, STUDENT.school_id, STUDENT.person_id
    person_derived = scope.partner_id is not None
    granting = scope.schools_granting(DataCategory.STUDENT_BASIC)

    def public_id(row: AnyRow) -> str:
        return show("Student", row[person_id] if person_derived else row[row_id])

    def pseudonym(row: AnyRow) -> str | None:
        # As `datasources.store.scoping.pseudonym`: only where student.basic is granted at the school.
        if granting is not None and row[school_id] not in granting:
            return None
        return hashed("student", row[person_id])

    return StudentIdentity(public_id, pseudonym, lambda group_id: show("Group", group_id))


async def staff_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs, today: dt.date
) -> dict[int, Page[StaffRecord]]:
    """One page of each school's staff."""
    statement = _staff_members(scope, today).where(STAFF_MEMBERS.c.school_id.in_(school_ids))
    rows = await reader.rows(
        parent_pages(statement, STAFF_MEMBERS.c.school_id, STAFF_MEMBERS.c.id, args, school_ids)
    )
    return split_pages(
        ((row[STAFF.school_id], row[STAFF.id], staff_record(scope, row)) for row in rows), school_ids, args
    )


async def students_by_group(
    reader: Reader, scope: Scope, group_ids: Sequence[int], args: PageArgs, today: dt.date
) -> dict[int, Page[StudentRecord]]:
    """One page of each group's students."""
    link = GROUP_STUDENTS.c
    statement = (
        _students_to_page(scope, today)
        .add_columns(*_GROUP_OF_STUDENT.labelled(group_id=link.group_id))
        .join(GROUP_STUDENTS, link.student_id == STUDENTS.c.id)
        .where(link.group_id.in_(group_ids))
    )
    rows = await reader.rows(
        _paged_students(
            scope,
            statement,
            link.group_id,
            args,
            group_ids,
            after=_GROUP_OF_STUDENT.sql_labels,
        )
    )
    return split_pages(
        ((row[_GROUP_OF_STUDENT.group_id], row[STUDENT.id], student_record(scope, row)) for row in rows),
        group_ids,
        args,
    )


async def staff_by_group(
    reader: Reader, scope: Scope, group_ids: Sequence[int], args: PageArgs, today: dt.date
) -> dict[int, Page[StaffRecord]]:
    """One page of each group's staff."""
    link = GROUP_STAFF.c
    statement = (
        _staff_members(scope, today)
        .add_columns(*_GROUP_OF_STAFF.labelled(group_id=link.group_id))
        .join(GROUP_STAFF, link.staff_id == STAFF_MEMBERS.c.id)
        .where(link.group_id.in_(group_ids), staff_link_in_force(today))
    )
    rows = await reader.rows(parent_pages(statement, link.group_id, STAFF_MEMBERS.c.id, args, group_ids))
    return split_pages(
        ((row[_GROUP_OF_STAFF.group_id], row[STAFF.id], staff_record(scope, row)) for row in rows),
        group_ids,
        args,
    )


async def students_by_person(
    reader: Reader, scope: Scope, person_ids: Sequence[int], today: dt.date
) -> dict[int, StudentRecord]:
    """The visible student membership of each person (the oldest, should a person be at two visible schools):
    how a partner's person-derived student id resolves."""
    statement = _students(scope, today).where(STUDENTS.c.person_id.in_(person_ids)).order_by(STUDENTS.c.id)
    found: dict[int, StudentRecord] = {}
    for row in await reader.rows(statement):
        found.setdefault(row[STUDENT.person_id], student_record(scope, row))
    return found


async def staff_by_person(
    reader: Reader, scope: Scope, person_ids: Sequence[int], today: dt.date
) -> dict[int, StaffRecord]:
    """The visible staff membership of each person (the oldest first)."""
    statement = (
        _staff_members(scope, today)
        .where(STAFF_MEMBERS.c.person_id.in_(person_ids))
        .order_by(STAFF_MEMBERS.c.id)
    )
    found: dict[int, StaffRecord] = {}
    for row in await reader.rows(statement):
        found.setdefault(row[STAFF.person_id], staff_record(scope, row))
    return found
