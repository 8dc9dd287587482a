"""The facts the policy needs about a viewer: a partner's consents, a coordinator's schools."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, or_, select

from auth.categories import DataCategory
from auth.policy import PartnerFacts, SchoolConsent, StaffFacts
from datasources.access import home_logins
from datasources.store.tables import (
    BOARD_COORDINATORS,
    BOARDS,
    CONSENTS,
    OPERATION_ALLOW_LISTS,
    PARTNERS,
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENT_LOGINS,
    STUDENTS,
)

if TYPE_CHECKING:
    from datasources.store.reader import Reader

COORDINATOR = "ICT_COORDINATOR"


def categories(names: list[str] | tuple[str, ...]) -> frozenset[DataCategory]:
    """Stored category names as categories (names the code no longer knows are ignored, never granted)."""
    return _categories(tuple(names))


@functools.lru_cache(maxsize=1024)
def _categories(names: tuple[str, ...]) -> frozenset[DataCategory]:
    # Every partner request reads every consent in force of the partner: the same few lists of names,
    # parsed once (a pure function of the names; the cache holds no data of a school or a person).
    return frozenset(DataCategory[name] for name in names if name in _KNOWN)


_KNOWN: frozenset[str] = frozenset(DataCategory.__members__)


#: The statements of `partner_facts`, built once: a partner's request runs them when its kept facts are
#: out of date (`datasources.access.kept_facts`).
_PARTNER = select(PARTNERS.c.id, PARTNERS.c.declared_categories, PARTNERS.c.eck_chain).where(
    PARTNERS.c.client_id == bindparam("client_id")
)
_CONSENTS_IN_FORCE = (
    select(CONSENTS.c.school_id, CONSENTS.c.categories, SCHOOLS.c.active, BOARDS.c.dpa_signed_at)
    .join(SCHOOLS, SCHOOLS.c.id == CONSENTS.c.school_id)
    .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
    .where(CONSENTS.c.partner_id == bindparam("partner_id"), CONSENTS.c.revoked_at.is_(None))
)
_ALLOW_LIST = select(OPERATION_ALLOW_LISTS.c.sha256).where(
    OPERATION_ALLOW_LISTS.c.partner_id == bindparam("partner_id")
)


async def partner_facts(reader: Reader, client_id: str) -> PartnerFacts | None:
    """A partner's declarations, the consents in force with their schools' state, and its allow-list of
    operations; None if unknown."""
    found = await reader.rows(_PARTNER, {"client_id": client_id})
    if not found:
        return None
    partner = found[0]
    rows = await reader.rows(_CONSENTS_IN_FORCE, {"partner_id": partner.id})
    allowed = frozenset(row.sha256 for row in await reader.rows(_ALLOW_LIST, {"partner_id": partner.id}))
    return PartnerFacts(
        partner_id=partner.id,
        declared=categories(partner.declared_categories),
        eck_chain=bool(partner.eck_chain),
        consents=tuple(
            SchoolConsent(
                school_id=row.school_id,
                granted=categories(row.categories),
                school_active=bool(row.active),
                dpa_signed=row.dpa_signed_at is not None,
            )
            for row in rows
        ),
        allowed_operations=allowed or None,
    )


async def staff_facts(reader: Reader, account_id: int, *, via_assertion: bool = False) -> StaffFacts | None:
    """The schools an active staff account coordinates; None if the account is unknown or disabled.

    A viewer a network provider's assertion vouched for (`via_assertion`: a web session it started) may
    also hold an `assertion_only` account, never activated. Such a viewer manages nothing, whatever its
    account: the provider vouched for the person at one school it has consent at, which is no ground to
    administer that school or any other (a coordinator signs in on the hub's own pages for that)."""
    account = await reader.rows(
        select(STAFF_ACCOUNTS.c.id, STAFF_ACCOUNTS.c.email, STAFF_ACCOUNTS.c.active).where(
            STAFF_ACCOUNTS.c.id == account_id,
            or_(STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only)
            if via_assertion
            else STAFF_ACCOUNTS.c.active.is_(True),
        )
    )
    if not account:
        return None
    if via_assertion or not account[0].active:
        return StaffFacts(account_id=account_id, coordinator_of=frozenset())
    rows = await reader.rows(
        select(STAFF_ACCOUNT_ROLES.c.school_id).where(
            STAFF_ACCOUNT_ROLES.c.account_id == account_id, STAFF_ACCOUNT_ROLES.c.role == COORDINATOR
        )
    )
    # A staff member whom a coordinator made coordinator (datasources.access.staff_roles) coordinates
    # through the account with the member's address; roles are a JSON list, filtered here on both engines.
    members = await reader.rows(
        select(STAFF_MEMBERS.c.school_id, STAFF_MEMBERS.c.roles).where(
            # Only an activated member: an address the LAS changed (inactive again) passes on no rights.
            STAFF_MEMBERS.c.email == account[0].email,
            STAFF_MEMBERS.c.active.is_(True),
        )
    )
    boards = await reader.rows(
        select(BOARD_COORDINATORS.c.board_id, BOARD_COORDINATORS.c.school_ids).where(
            BOARD_COORDINATORS.c.account_id == account_id
        )
    )
    board_schools: dict[int, frozenset[int]] = {}
    if boards:
        board_rows = await reader.rows(
            select(SCHOOLS.c.id, SCHOOLS.c.board_id).where(
                SCHOOLS.c.board_id.in_([row.board_id for row in boards])
            )
        )
        for board in boards:
            of_board = {row.id for row in board_rows if row.board_id == board.board_id}
            chosen = of_board if board.school_ids is None else of_board & set(board.school_ids)
            board_schools[board.board_id] = frozenset(chosen)
    return StaffFacts(
        account_id=account_id,
        coordinator_of=frozenset(row.school_id for row in rows)
        | frozenset(row.school_id for row in members if COORDINATOR in row.roles),
        board_schools=board_schools,
    )


async def student_may_sign_in(reader: Reader, student_id: int, *, via_assertion: bool = False) -> bool:
    """Whether a student (membership) still has a login (or a home login) at the school they are an active
    member of: a leaver removed by an import, or a login taken away, ends what the student's tokens open.
    A session a network provider's assertion started (`via_assertion`) needs no login of the hub's own,
    only the active membership at an open school (the provider vouches for the person)."""
    if via_assertion:
        member = await reader.rows(
            select(STUDENTS.c.id)
            .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
            .where(STUDENTS.c.id == student_id, STUDENTS.c.active.is_(True), SCHOOLS.c.active.is_(True))
        )
        return bool(member)
    rows = await reader.rows(
        select(STUDENT_LOGINS.c.student_id)
        .join(
            STUDENTS,
            and_(
                STUDENTS.c.id == STUDENT_LOGINS.c.student_id,
                STUDENTS.c.school_id == STUDENT_LOGINS.c.school_id,
            ),
        )
        .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
        .where(
            STUDENT_LOGINS.c.student_id == student_id,
            STUDENTS.c.active.is_(True),
            SCHOOLS.c.active.is_(True),
        )
    )
    # A home login (activated by a parent) opens what a school login does, while the school allows it.
    return bool(rows) or bool(await reader.rows(home_logins.home_login_in_force(student_id)))
