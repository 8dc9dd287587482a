"""The rosters as SQL: orgs, classes, users and enrollments, each one subquery of OneRoster-named columns.

Every column is minimised in SQL exactly as the graph minimises it (`store.scoping.granted`: NULL where the
covering category is not granted at the row's school), and every row exists only where the graph would
show it: schools the scope makes visible, students where student.basic is granted, staff where staff.basic
is, the current school year's groups (classes) where group.basic is. Enrollments need both the membership's
category and group.basic, since an enrollment names its class. Filters and sorts apply to these minimised
columns, so a filter on a withheld field matches nothing and reveals nothing.

A person is one user: a partner's user sourcedId is derived from the person (as the graph's ids are), so a
person at two visible schools is listed once, as the oldest membership, the one the graph's `node` resolves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)

from auth.categories import DataCategory
from auth.policy import Scope
from datasources.oneroster.queries import BadQuery, Predicate, Query
from datasources.oneroster.vocabulary import OTHER_STAFF_ROLE, STAFF_ROLES
from datasources.store.current import current_groups, current_members
from datasources.store.reader import AnyRow
from datasources.store.scoping import granted, internal_id, visible_schools, visible_schools_with
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import (
    BOARDS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)

if TYPE_CHECKING:
    from datasources.store.reader import Reader

R = TypeVar("R")
#: Group and member row ids share one sealed enrollment id: both are 32-bit keys (INTEGER primary keys).
_PAIR_SHIFT = 32

BASIC, NAME, DEMOGRAPHICS = (
    DataCategory.STUDENT_BASIC,
    DataCategory.STUDENT_NAME,
    DataCategory.STUDENT_DEMOGRAPHICS,
)
STAFF_BASIC, STAFF_NAME, STAFF_COMMUNICATION = (
    DataCategory.STAFF_BASIC,
    DataCategory.STAFF_NAME,
    DataCategory.STAFF_COMMUNICATION,
)
#: The sealed-id entity types of a user's kind (the graph's type names, so the ids are the graph's).
PERSON_TYPES: Final = {"student": "Student", "staff": "StaffMember"}


def enrollment_key(group_id: int, member_id: int) -> int:
    """The one integer an enrollment's sealed id is made of."""
    return (group_id << _PAIR_SHIFT) | member_id


def _split_enrollment(key: int) -> tuple[int, int]:
    return key >> _PAIR_SHIFT, key & ((1 << _PAIR_SHIFT) - 1)


# --- the subqueries --------------------------------------------------------------------------------------


def _family_name(prefix: Any, last_name: Any) -> Any:
    # A Dutch surname keeps its prefix (voorvoegsel), "van der Berg": OneRoster has no field for it.
    return func.coalesce(prefix + literal(" "), literal("")) + last_name


def _eck_id(scope: Scope, category: DataCategory, column: Any, school: Any) -> Any:
    return granted(scope, category, column, school) if scope.sees_eck_id else cast(null(), String)


def _restricted(scope: Scope, school: Any, category: DataCategory, only_school: int | None) -> list[Any]:
    conditions = [visible_schools_with(scope, [category], school)]
    if only_school is not None:
        conditions.append(school == only_school)
    return conditions


def _first_membership(
    scope: Scope, table: Any, category: DataCategory, only_school: int | None, today: dt.date
) -> Any:
    """No older current membership of the same person within the same restriction (the person is listed
    once)."""
    older = table.alias(f"older_{table.name}")
    return not_(
        exists().where(
            older.c.person_id == table.c.person_id,
            older.c.id < table.c.id,
            *_restricted(scope, older.c.school_id, category, only_school),
            current_members(older, today),
        )
    )


def _staff_role(roles: Any) -> Any:
    """The OneRoster role of a staff member from the hub roles (a JSON list), strongest first."""
    text = cast(roles, String)
    whens = [
        (or_(*(text.like(f'%"{role}"%') for role in hub_roles)), literal(oneroster_role))
        for oneroster_role, hub_roles in STAFF_ROLES
    ]
    return case((roles.is_(None), cast(null(), String)), *whens, else_=literal(OTHER_STAFF_ROLE))


def users_subquery(scope: Scope, today: dt.date, only_school: int | None = None) -> Subquery:
    """Students and staff members as users: one row per person (within the school, for an export), of the
    current members only, as the graph shows them: next year's new pupils are nobody's to see before their
    first day, leavers not after their last (`store.current`)."""
    s, m = STUDENTS.c, STAFF_MEMBERS.c
    students = select(
        literal("student").label("kind"),
        s.id.label("row_id"),
        s.person_id.label("person_id"),
        s.school_id.label("school_id"),
        granted(scope, NAME, s.first_name, s.school_id).label("givenName"),
        granted(scope, NAME, _family_name(s.prefix, s.last_name), s.school_id).label("familyName"),
        cast(null(), String).label("email"),
        literal("true").label("enabledUser"),
        granted(scope, BASIC, s.year_level, s.school_id).label("year_level"),
        _eck_id(scope, BASIC, s.eck_id, s.school_id).label("eck_id"),
        literal("student").label("role"),
        granted(scope, DEMOGRAPHICS, s.date_of_birth, s.school_id).label("birthDate"),
    ).where(
        *_restricted(scope, s.school_id, BASIC, only_school),
        current_members(STUDENTS, today),
        _first_membership(scope, STUDENTS, BASIC, only_school, today),
    )
    active = granted(scope, STAFF_BASIC, m.active, m.school_id)
    staff = select(
        literal("staff").label("kind"),
        m.id.label("row_id"),
        m.person_id.label("person_id"),
        m.school_id.label("school_id"),
        granted(scope, STAFF_NAME, m.first_name, m.school_id).label("givenName"),
        granted(scope, STAFF_NAME, _family_name(m.prefix, m.last_name), m.school_id).label("familyName"),
        granted(scope, STAFF_COMMUNICATION, m.email, m.school_id).label("email"),
        case((active.is_(None), cast(null(), String)), (active.is_(True), literal("true")),
             else_=literal("false")).label("enabledUser"),
        cast(null(), String).label("year_level"),
        _eck_id(scope, STAFF_BASIC, m.eck_id, m.school_id).label("eck_id"),
        _staff_role(granted(scope, STAFF_BASIC, m.roles, m.school_id)).label("role"),
        cast(null(), Date).label("birthDate"),
    ).where(
        *_restricted(scope, m.school_id, STAFF_BASIC, only_school),
        current_members(STAFF_MEMBERS, today),
        _first_membership(scope, STAFF_MEMBERS, STAFF_BASIC, only_school, today),
    )  # fmt: skip
    return union_all(students, staff).subquery("users")


def classes_subquery(scope: Scope, today: dt.date, only_school: int | None = None) -> Subquery:
    """A school's current groups as classes, as the graph shows them (those of the school year it is in,
    or of the last one its LAS sent while this year's file is missing: `store.current`): a main group
    (stamgroep) is a homeroom class, a composite group a scheduled one."""
    g = GROUPS.c
    group_basic = DataCategory.GROUP_BASIC
    composite = granted(scope, group_basic, g.composite, g.school_id)
    return (
        select(
            g.id.label("row_id"),
            g.school_id.label("school_id"),
            granted(scope, group_basic, g.name, g.school_id).label("title"),
            granted(scope, group_basic, g.year_level, g.school_id).label("year_level"),
            case((composite.is_(None), cast(null(), String)), (composite.is_(True), literal("scheduled")),
                 else_=literal("homeroom")).label("classType"),
            granted(scope, group_basic, g.school_year, g.school_id).label("school_year"),
        )
        .where(*_restricted(scope, g.school_id, group_basic, only_school), current_groups(today))
        .subquery("classes")
    )  # fmt: skip


def enrollments_subquery(scope: Scope, today: dt.date, only_school: int | None = None) -> Subquery:
    """Memberships of the current groups by current members: a student's (student.basic) and a staff
    member's (staff.basic) while its link is in force (a substitute's ends after its last day), as the
    graph's `Group.students` and `Group.staff` list them."""
    g, gs, gm, s, m = GROUPS.c, GROUP_STUDENTS.c, GROUP_STAFF.c, STUDENTS.c, STAFF_MEMBERS.c
    group_basic = DataCategory.GROUP_BASIC
    in_scope = [*_restricted(scope, g.school_id, group_basic, only_school), current_groups(today)]
    begin = granted(scope, group_basic, g.effective_from, g.school_id)
    students = (
        select(
            literal("student").label("kind"),
            gs.group_id.label("group_id"),
            gs.student_id.label("member_id"),
            s.person_id.label("person_id"),
            g.school_id.label("school_id"),
            literal("student").label("role"),
            begin.label("beginDate"),
            granted(scope, group_basic, g.school_year, g.school_id).label("school_year"),
        )
        .select_from(GROUP_STUDENTS.join(GROUPS, g.id == gs.group_id).join(STUDENTS, s.id == gs.student_id))
        .where(*in_scope, *_restricted(scope, s.school_id, BASIC, None), current_members(STUDENTS, today))
    )
    staff = (
        select(
            literal("staff").label("kind"),
            gm.group_id.label("group_id"),
            gm.staff_id.label("member_id"),
            m.person_id.label("person_id"),
            g.school_id.label("school_id"),
            _staff_role(granted(scope, STAFF_BASIC, m.roles, m.school_id)).label("role"),
            begin.label("beginDate"),
            granted(scope, group_basic, g.school_year, g.school_id).label("school_year"),
        )
        .select_from(GROUP_STAFF.join(GROUPS, g.id == gm.group_id).join(STAFF_MEMBERS, m.id == gm.staff_id))
        .where(
            *in_scope,
            *_restricted(scope, m.school_id, STAFF_BASIC, None),
            current_members(STAFF_MEMBERS, today),
            staff_link_in_force(today),
        )
    )
    return union_all(students, staff).subquery("enrollments")


def orgs_subquery(scope: Scope, today: dt.date, only_school: int | None = None) -> Subquery:
    """The visible schools (type school) and their boards (type district, the graph's `School.board`)."""
    del today
    s, b = SCHOOLS.c, BOARDS.c
    visible = [visible_schools(scope, s.id)] + ([s.id == only_school] if only_school is not None else [])
    schools = select(
        literal("school").label("type"),
        s.id.label("row_id"),
        s.name.label("name"),
        s.code.label("identifier"),
        s.board_id.label("parent_id"),
        s.id.label("school_id"),
    ).where(*visible)
    boards = select(
        literal("district").label("type"),
        b.id.label("row_id"),
        b.name.label("name"),
        b.number.label("identifier"),
        cast(null(), Integer).label("parent_id"),
        cast(null(), Integer).label("school_id"),
    ).where(b.id.in_(select(s.board_id).where(*visible)))
    return union_all(schools, boards).subquery("orgs")


# --- fields: what a filter or a sort may name ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A property held in a column of the subquery; `kind` says how a filter's value is read."""

    name: str
    kind: Literal["text", "date"] = "text"


@dataclass(frozen=True, slots=True)
class Constant:
    """A property with one value for every object (`status`, `dateLastModified`): decided without SQL."""

    value: Callable[[dt.datetime], str]


@dataclass(frozen=True, slots=True)
class Reference:
    """A sourcedId: sealed for the partner, so only `=` and `!=` apply, on the id it resolves to."""

    match: Callable[[Scope, Any, str], ColumnElement[bool]]


Field = Column | Constant | Reference


def _is_a(entity: str, column: str) -> Callable[[Scope, Any, str], ColumnElement[bool]]:
    def match(scope: Scope, sq: Any, shown: str) -> ColumnElement[bool]:
        row_id = internal_id(scope, entity, shown)
        return false() if row_id is None else sq.c[column] == row_id

    return match


def _is_person(scope: Scope, sq: Any, shown: str) -> ColumnElement[bool]:
    # A partner's user id is derived from the person; the hub's own staff see row ids.
    key = "person_id" if scope.partner_id is not None else ("row_id" if "row_id" in sq.c else "member_id")
    alternatives = []
    for kind, entity in PERSON_TYPES.items():
        found = internal_id(scope, entity, shown)
        if found is not None:
            alternatives.append(and_(sq.c.kind == kind, sq.c[key] == found))
    return or_(*alternatives) if alternatives else false()


def _is_enrollment(scope: Scope, sq: Any, shown: str) -> ColumnElement[bool]:
    alternatives = []
    for kind in PERSON_TYPES:
        found = internal_id(scope, f"{kind.capitalize()}Enrollment", shown)
        if found is not None:
            group_id, member_id = _split_enrollment(found)
            alternatives.append(
                and_(sq.c.kind == kind, sq.c.group_id == group_id, sq.c.member_id == member_id)
            )
    return or_(*alternatives) if alternatives else false()


def _is_org(scope: Scope, sq: Any, shown: str) -> ColumnElement[bool]:
    alternatives = []
    for kind, entity in (("school", "School"), ("district", "Board")):
        found = internal_id(scope, entity, shown)
        if found is not None:
            alternatives.append(and_(sq.c.type == kind, sq.c.row_id == found))
    return or_(*alternatives) if alternatives else false()


def iso_now(now: dt.datetime) -> str:
    """`dateLastModified` of every object: the hub keeps no modification times of rows, so an object is as
    new as the answer (a delta client that asks for `dateLastModified>'…'` gets everything: a full sync)."""
    return now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_COMMON: dict[str, Field] = {
    "status": Constant(lambda _now: "active"),
    "dateLastModified": Constant(iso_now),
}


@dataclass(frozen=True, slots=True)
class Roster(Generic[R]):
    """One collection of the REST binding: its subquery, the objects it holds, and what it filters on."""

    #: The collection's name in JSON (`users`) and its single object's (`user`).
    plural: str
    singular: str
    build: Callable[[Scope, dt.date, int | None], Subquery]
    #: Makes a record of a row (the scope seals its ids).
    record: Callable[[Scope, AnyRow], R]
    #: The columns that order rows totally after the sort field.
    key: tuple[str, ...]
    fields: Mapping[str, Field]
    #: Narrows the collection (students among users, schools among orgs).
    narrow: Callable[[Any], ColumnElement[bool]] | None = None

    @property
    def filterable(self) -> frozenset[str]:
        """The fields a filter may name."""
        return frozenset(self.fields)

    @property
    def sortable(self) -> frozenset[str]:
        """The fields a sort may name: properties held in columns, and constants (whose order is the rows'
        key order); not sealed ids, whose order would mean nothing."""
        return frozenset(name for name, field in self.fields.items() if not isinstance(field, Reference))


def org_fields() -> dict[str, Field]:
    """The filterable fields of an org."""
    return {
        **_COMMON,
        "sourcedId": Reference(_is_org),
        "name": Column("name"),
        "type": Column("type"),
        "identifier": Column("identifier"),
        "parent.sourcedId": Reference(_is_a("Board", "parent_id")),
    }


def class_fields() -> dict[str, Field]:
    """The filterable fields of a class."""
    return {
        **_COMMON,
        "sourcedId": Reference(_is_a("Group", "row_id")),
        "title": Column("title"),
        "classType": Column("classType"),
        "school.sourcedId": Reference(_is_a("School", "school_id")),
        "course.sourcedId": Reference(_is_a("Course", "row_id")),
    }


def user_fields() -> dict[str, Field]:
    """The filterable fields of a user."""
    return {
        **_COMMON,
        "sourcedId": Reference(_is_person),
        "givenName": Column("givenName"),
        "familyName": Column("familyName"),
        "email": Column("email"),
        "enabledUser": Column("enabledUser"),
        "role": Column("role"),
        "primaryOrg.sourcedId": Reference(_is_a("School", "school_id")),
    }


def enrollment_fields() -> dict[str, Field]:
    """The filterable fields of an enrollment."""
    return {
        **_COMMON,
        "sourcedId": Reference(_is_enrollment),
        "role": Column("role"),
        "beginDate": Column("beginDate", "date"),
        "user.sourcedId": Reference(_is_person),
        "class.sourcedId": Reference(_is_a("Group", "group_id")),
        "school.sourcedId": Reference(_is_a("School", "school_id")),
    }


# --- reading ---------------------------------------------------------------------------------------------


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparisons: dict[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        "~": lambda: func.lower(column).contains(str(value).lower(), autoescape=True),
    }
    return comparisons[op]()


def _constant_holds(value: str, op: str, asked: str) -> bool:
    outcomes = {
        "=": value == asked,
        "!=": value != asked,
        ">": value > asked,
        ">=": value >= asked,
        "<": value < asked,
        "<=": value <= asked,
        "~": asked.lower() in value.lower(),
    }
    return outcomes[op]


def _condition(
    scope: Scope, sq: Any, field: Field, predicate: Predicate, *, now: dt.datetime
) -> ColumnElement[bool]:
    field_name = predicate.field
    if isinstance(field, Constant):
        return true() if _constant_holds(field.value(now), predicate.op, predicate.value) else false()
    if isinstance(field, Reference):
        if predicate.op not in {"=", "!="}:
            raise BadQuery("invalid_filter_field", f"{field_name} compares with = or != only")
        matched = field.match(scope, sq, predicate.value)
        return matched if predicate.op == "=" else not_(matched)
    value: Any = predicate.value
    if field.kind == "date":
        if predicate.op == "~":
            raise BadQuery("invalid_filter_field", f"{field_name} is a date: ~ does not apply")
        try:
            value = dt.date.fromisoformat(predicate.value)
        except ValueError:
            raise BadQuery(
                "invalid_filter_field", f"{field_name} takes a date such as '2026-08-01'"
            ) from None
    # NULL (a withheld value) satisfies no comparison, `!=` included: a filter never tells withheld apart.
    return and_(sq.c[field.name].is_not(None), _compare(sq.c[field.name], predicate.op, value))


def _where(roster: Roster[Any], scope: Scope, sq: Any, query: Query | None, now: dt.datetime) -> list[Any]:
    conditions = [] if roster.narrow is None else [roster.narrow(sq)]
    if query is not None and query.filter is not None:
        parts = [
            _condition(scope, sq, roster.fields[predicate.field], predicate, now=now)
            for predicate in query.filter.predicates
        ]
        conditions.append(and_(*parts) if query.filter.join == "AND" else or_(*parts))
    return conditions


@dataclass(frozen=True, slots=True)
class RosterPage(Generic[R]):
    """One page of a collection and the number of objects in all its pages."""

    items: list[R]
    total: int


async def read_page(
    reader: Reader, scope: Scope, roster: Roster[R], query: Query, now: dt.datetime
) -> RosterPage[R]:
    """A page of the collection: filtered, sorted (then by the rows' key), offset and limited."""
    sq = roster.build(scope, now.date(), None)
    where = _where(roster, scope, sq, query, now)
    order: list[Any] = []
    field = None if query.sort is None else roster.fields[query.sort]
    if isinstance(field, Column):  # a constant (`status`) orders nothing: the rows' key decides
        column = sq.c[field.name]
        order.append((column.desc() if query.descending else column.asc()).nulls_last())
    order.extend(sq.c[name] for name in roster.key)
    rows = await reader.rows(
        select(sq).where(*where).order_by(*order).limit(query.limit).offset(query.offset)
    )
    total = (await reader.rows(select(func.count()).select_from(sq).where(*where)))[0][0]
    return RosterPage([roster.record(scope, row) for row in rows], int(total))


async def read_one(
    reader: Reader, scope: Scope, roster: Roster[R], sourced_id: str, now: dt.datetime
) -> R | None:
    """The object with this sourcedId, when the scope shows it in this collection."""
    sq = roster.build(scope, now.date(), None)
    field = roster.fields["sourcedId"]
    assert isinstance(field, Reference)
    rows = await reader.rows(
        select(sq).where(*_where(roster, scope, sq, None, now), field.match(scope, sq, sourced_id))
    )
    return roster.record(scope, rows[0]) if rows else None


async def read_school(
    reader: Reader, scope: Scope, roster: Roster[R], school_id: int, now: dt.datetime
) -> list[R]:
    """Every object of the collection at one school (for the bulk export), in the rows' key order."""
    sq = roster.build(scope, now.date(), school_id)
    rows = await reader.rows(
        select(sq).where(*_where(roster, scope, sq, None, now)).order_by(*(sq.c[name] for name in roster.key))
    )
    return [roster.record(scope, row) for row in rows]
