"""Who may do what: every decision of `auth.permissions`, for every kind of viewer, without a database.

Each viewer comes with the scope the policy computes for it (`resolvers.viewers.scope_of`): the operator
manages every school, the partner has consent at SCHOOL, the staff member coordinates SCHOOL, and the other
kinds read nothing. Every decision is asked at SCHOOL, the school each viewer is closest to, so a refusal
there is a refusal of the kind, not of the school; further rows ask at OTHER, which no viewer coordinates,
serves or has consent at.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from auth import permissions
from auth.categories import ALL_CATEGORIES, DataCategory
from auth.permissions import (
    may_acknowledge_deletion,
    may_add_board_coordinators,
    may_change_school_lifecycle,
    may_couple_license,
    may_create_products,
    may_import,
    may_import_unknown_school,
    may_list_boards,
    may_list_partners,
    may_look_up_partner,
    may_manage_consent,
    may_manage_consent_at,
    may_manage_license,
    may_manage_locations,
    may_manage_school_networks,
    may_manage_staff_roles_at,
    may_open_school_accounts,
    may_post_announcements,
    may_print_login_cards,
    may_push_school_files,
    may_query_graph,
    may_read_announcements,
    may_read_board,
    may_read_consent_history,
    may_read_coupling_state,
    may_read_feed,
    may_read_rosters,
    may_read_schema,
    may_read_school_networks,
    may_read_shortcuts,
    may_record_dpa,
    may_register_assertion_keys,
    may_register_oidc_client,
    may_register_partners,
    may_request_consent,
    may_send_activation_mails,
    may_set_coupling,
    may_set_student_logins,
    may_upload_imports,
    stopped_by_suspended_coupling,
)
from auth.policy import (
    PartnerFacts,
    SchoolConsent,
    Scope,
    StaffFacts,
    empty_scope,
    operator_scope,
    partner_scope,
    staff_scope,
)
from auth.viewer import Viewer, ViewerKind

OPERATOR, PARTNER, LAS, STAFF, STUDENT, ANONYMOUS = (
    ViewerKind.OPERATOR,
    ViewerKind.PARTNER,
    ViewerKind.LAS,
    ViewerKind.STAFF,
    ViewerKind.STUDENT,
    ViewerKind.ANONYMOUS,
)
EVERY_KIND = frozenset(ViewerKind)

#: The school every viewer below is closest to: the staff member coordinates it, the LAS client serves
#: it, the partner has consent there.
SCHOOL = 1
#: A school none of them coordinates, serves or has consent at.
OTHER = 2
#: A board whose schools none of the viewers above coordinates as a board coordinator.
BOARD = 5
#: The schools the LAS client serves (loaded by the resolver from the store, passed in here by hand).
SERVED = frozenset({SCHOOL})


def viewer(kind: ViewerKind) -> Viewer:
    """A viewer of this kind (staff are named by their account id)."""
    return Viewer(kind, "7" if kind is STAFF else f"test-{kind.value}")


def scope_of(kind: ViewerKind) -> Scope:
    """The scope the policy gives this kind of viewer (as `resolvers.viewers.scope_of` computes it)."""
    who = viewer(kind)
    if kind is OPERATOR:
        return operator_scope(who)
    if kind is PARTNER:
        consent = SchoolConsent(SCHOOL, ALL_CATEGORIES, school_active=True, dpa_signed=True)
        facts = PartnerFacts(partner_id=3, declared=ALL_CATEGORIES, eck_chain=True, consents=(consent,))
        return partner_scope(who, facts, require_dpa=True, pseudonym_key=b"k" * 32)
    if kind is STAFF:
        return staff_scope(who, StaffFacts(account_id=7, coordinator_of=frozenset({SCHOOL})))
    return empty_scope(who)


Check = Callable[[Viewer, Scope], bool]


@dataclass(frozen=True)
class Decision:
    """One decision a user notices: what is asked, who is allowed, and the functions that answer it."""

    asked: str
    check: Check
    allowed: frozenset[ViewerKind]
    functions: tuple[Callable[..., bool], ...]


def _import_here(who: Viewer, scope: Scope) -> bool:
    return may_import(who, scope, SCHOOL, las_school_ids=SERVED if who.kind is LAS else frozenset())


#: The partner of `scope_of(PARTNER)`, which has consent at SCHOOL; ANOTHER_PARTNER deals with nobody here.
THE_PARTNER, ANOTHER_PARTNER = 3, 4


def _look_up(partner_id: int) -> Check:
    """Look up a partner by id, with the facts the resolver loads for staff: the partners at its schools."""

    def check(who: Viewer, scope: Scope) -> bool:
        at_schools = frozenset({THE_PARTNER}) if who.kind is STAFF else frozenset[int]()
        return may_look_up_partner(who, scope, partner_id, partners_at_schools=at_schools)

    return check


DECISIONS = (
    Decision(
        "register a network provider's own assertion keys",
        lambda v, _: may_register_assertion_keys(v, own_keys=v.kind is PARTNER, network_provider=True),
        frozenset({PARTNER, OPERATOR}),
        (may_register_assertion_keys,),
    ),
    Decision("list the boards", lambda v, _: may_list_boards(v), frozenset({OPERATOR}), (may_list_boards,)),
    Decision(
        "list the partners", lambda v, _: may_list_partners(v), frozenset({OPERATOR}), (may_list_partners,)
    ),
    Decision(
        "register a partner",
        lambda v, _: may_register_partners(v),
        frozenset({OPERATOR}),
        (may_register_partners,),
    ),
    Decision(
        "record a board's DPA", lambda v, _: may_record_dpa(v), frozenset({OPERATOR}), (may_record_dpa,)
    ),
    Decision(
        "follow the change feed",
        lambda v, _: may_read_feed(v),
        frozenset({PARTNER, STAFF, OPERATOR}),
        (may_read_feed,),
    ),
    Decision(
        "confirm a deletion",
        lambda v, _: may_acknowledge_deletion(v),
        frozenset({PARTNER}),
        (may_acknowledge_deletion,),
    ),
    Decision(
        "read OneRoster rosters", lambda v, _: may_read_rosters(v), frozenset({PARTNER}), (may_read_rosters,)
    ),
    Decision(
        "request consent", lambda v, _: may_request_consent(v), frozenset({PARTNER}), (may_request_consent,)
    ),
    Decision(
        "read its own consent history",
        lambda v, _: may_read_consent_history(v),
        frozenset({PARTNER}),
        (may_read_consent_history,),
    ),
    Decision(
        "change consent at all", lambda v, _: may_manage_consent(v), frozenset({STAFF}), (may_manage_consent,)
    ),
    Decision(
        "grant or revoke consent at its school",
        lambda v, s: may_manage_consent_at(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_manage_consent_at,),
    ),
    Decision(
        "suspend or resume the LAS coupling of its school",
        lambda v, s: may_set_coupling(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_set_coupling,),
    ),
    Decision(
        "invite its school's staff to activate their accounts",
        lambda v, s: may_send_activation_mails(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_send_activation_mails,),
    ),
    Decision(
        "read its school's INSTELLING_REF and download its sign-in shortcuts",
        lambda v, s: may_read_shortcuts(v, s, SCHOOL),
        frozenset({STAFF, OPERATOR}),
        (may_read_shortcuts,),
    ),
    Decision(
        "read another school's INSTELLING_REF and shortcuts",
        lambda v, s: may_read_shortcuts(v, s, OTHER),
        frozenset({OPERATOR}),
        (may_read_shortcuts,),
    ),
    Decision(
        "merge, split, close or transfer schools",
        lambda v, _: may_change_school_lifecycle(v),
        frozenset({OPERATOR}),
        (may_change_school_lifecycle,),
    ),
    Decision(
        "see whether its school's LAS coupling is suspended",
        lambda v, s: may_read_coupling_state(v, s, SCHOOL),
        frozenset({STAFF, OPERATOR}),
        (may_read_coupling_state,),
    ),
    Decision(
        "upload a school file through the graph",
        lambda v, _: may_upload_imports(v),
        frozenset({STAFF, OPERATOR}),
        (may_upload_imports,),
    ),
    Decision(
        "push a school file to the LAS endpoint",
        lambda v, _: may_push_school_files(v),
        frozenset({LAS}),
        (may_push_school_files,),
    ),
    Decision("import for its school", _import_here, frozenset({OPERATOR, STAFF, LAS}), (may_import,)),
    Decision(
        "import for its school while the coupling is suspended",
        lambda v, s: _import_here(v, s) and not stopped_by_suspended_coupling(v),
        frozenset({OPERATOR, STAFF}),
        (may_import, stopped_by_suspended_coupling),
    ),
    Decision(
        "import for a school the hub does not hold yet",
        lambda v, _: may_import_unknown_school(v),
        frozenset({OPERATOR}),
        (may_import_unknown_school,),
    ),
    Decision(
        "ask the graph over HTTP",
        lambda v, _: may_query_graph(v),
        EVERY_KIND - {LAS},
        (may_query_graph,),
    ),
    Decision(
        "look up by id a partner that has consent at its school (or itself)",
        _look_up(THE_PARTNER),
        frozenset({OPERATOR, PARTNER, STAFF}),
        (may_look_up_partner,),
    ),
    Decision(
        "create a product as a publisher",
        lambda v, s: may_create_products(v, s, publisher=True),
        frozenset({PARTNER}),
        (may_create_products,),
    ),
    Decision(
        "create, change or end a license of its own product at its school",
        lambda v, s: may_manage_license(v, s, SCHOOL, product_partner_id=THE_PARTNER),
        frozenset({PARTNER}),
        (may_manage_license,),
    ),
    Decision(
        "couple or uncouple a license of the partner's product at its school",
        lambda v, s: may_couple_license(v, s, SCHOOL, product_partner_id=THE_PARTNER),
        frozenset({PARTNER, STAFF}),
        (may_couple_license,),
    ),
    Decision(
        "register the partner's OpenID Connect client (the operator for it, or the partner itself)",
        lambda v, s: may_register_oidc_client(v, s, THE_PARTNER),
        frozenset({OPERATOR, PARTNER}),
        (may_register_oidc_client,),
    ),
    Decision(
        "read the schema in production",
        lambda v, _: may_read_schema(v, sandbox=False),
        EVERY_KIND - {PARTNER},
        (may_read_schema,),
    ),
    Decision(
        "read the schema in the sandbox",
        lambda v, _: may_read_schema(v, sandbox=True),
        EVERY_KIND,
        (may_read_schema,),
    ),
    Decision(
        "set a student's login at its school",
        lambda v, s: may_set_student_logins(v, s, SCHOOL),
        frozenset({STAFF, OPERATOR}),
        (may_set_student_logins,),
    ),
    Decision(
        "print a group's login cards at its school",
        lambda v, s: may_print_login_cards(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_print_login_cards,),
    ),
    Decision(
        "give or take a staff role at its school",
        lambda v, s: may_manage_staff_roles_at(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_manage_staff_roles_at,),
    ),
    Decision(
        "register or remove its school's network ranges and network tokens",
        lambda v, s: may_manage_school_networks(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_manage_school_networks,),
    ),
    Decision(
        "read its school's network ranges",
        lambda v, s: may_read_school_networks(v, s, SCHOOL),
        frozenset({STAFF, OPERATOR}),
        (may_read_school_networks,),
    ),
    Decision(
        "set a student's login at its school",
        lambda v, s: may_set_student_logins(v, s, SCHOOL),
        frozenset({STAFF, OPERATOR}),
        (may_set_student_logins,),
    ),
    Decision(
        "print a group's login cards",
        lambda v, s: may_print_login_cards(v, s, SCHOOL),
        frozenset({STAFF}),
        (may_print_login_cards,),
    ),
    Decision(
        "make an account a board coordinator",
        lambda v, _: may_add_board_coordinators(v),
        frozenset({OPERATOR}),
        (may_add_board_coordinators,),
    ),
    Decision(
        "read a board's overview",
        lambda v, s: may_read_board(v, s, BOARD),
        frozenset({OPERATOR}),
        (may_read_board,),
    ),
    Decision(
        "open a school account with its first coordinator",
        lambda v, _: may_open_school_accounts(v),
        frozenset({OPERATOR}),
        (may_open_school_accounts,),
    ),
    Decision(
        "add, rename or end a managed location",
        lambda v, _: may_manage_locations(v),
        frozenset({OPERATOR}),
        (may_manage_locations,),
    ),
    Decision(
        "post an announcement",
        lambda v, _: may_post_announcements(v),
        frozenset({OPERATOR}),
        (may_post_announcements,),
    ),
    Decision(
        "read the current announcements",
        lambda v, _: may_read_announcements(v),
        EVERY_KIND,
        (may_read_announcements,),
    ),
)


@dataclass(frozen=True)
class Row:
    """One viewer asking one thing, and the answer it must get."""

    kind: ViewerKind
    asked: str
    check: Check
    expected: bool

    @property
    def sentence(self) -> str:
        return f"{self.kind.value} {'may' if self.expected else 'may not'} {self.asked}"


#: Every decision for every kind, at the school each viewer is closest to.
BY_KIND = [
    Row(kind, decision.asked, decision.check, kind in decision.allowed)
    for decision in DECISIONS
    for kind in ViewerKind
]

#: The same viewers at a school that is not theirs, and the scopes the command line and the LAS endpoint pass.
ELSEWHERE = [
    Row(
        STAFF,
        "grant or revoke consent at another school",
        lambda v, s: may_manage_consent_at(v, s, OTHER),
        False,
    ),
    Row(STAFF, "set the LAS coupling of another school", lambda v, s: may_set_coupling(v, s, OTHER), False),
    Row(
        STAFF,
        "invite the staff of another school",
        lambda v, s: may_send_activation_mails(v, s, OTHER),
        False,
    ),
    Row(STAFF, "import for another school", lambda v, s: may_import(v, s, OTHER, las_school_ids=()), False),
    Row(
        LAS,
        "import for a school it does not serve",
        lambda v, s: may_import(v, s, OTHER, las_school_ids=SERVED),
        False,
    ),
    Row(
        PARTNER,
        "import for a school it has consent at",
        lambda v, s: may_import(v, s, SCHOOL, las_school_ids=SERVED),
        False,
    ),
    Row(
        OPERATOR,
        "manage consent at a school though its scope manages every school",
        lambda v, s: may_manage_consent_at(v, s, OTHER),
        False,
    ),
    Row(
        OPERATOR,
        "import from the command line (no scope)",
        lambda v, _: may_import(v, None, OTHER, las_school_ids=()),
        True,
    ),
    Row(
        LAS,
        "push for a school it serves (the endpoint passes no scope)",
        lambda v, _: may_import(v, None, SCHOOL, las_school_ids=SERVED),
        True,
    ),
    Row(PARTNER, "look up another partner by id", _look_up(ANOTHER_PARTNER), False),
    Row(
        PARTNER,
        "register assertion keys for another network provider",
        lambda v, _: may_register_assertion_keys(v, own_keys=False, network_provider=True),
        False,
    ),
    Row(
        PARTNER,
        "register assertion keys as a publisher",
        lambda v, _: may_register_assertion_keys(v, own_keys=True, network_provider=False),
        False,
    ),
    Row(
        OPERATOR,
        "register assertion keys for a publisher",
        lambda v, _: may_register_assertion_keys(v, own_keys=False, network_provider=False),
        False,
    ),
    Row(
        STAFF, "look up by id a partner that deals with none of its schools", _look_up(ANOTHER_PARTNER), False
    ),
    Row(OPERATOR, "look up by id a partner that deals with no school", _look_up(ANOTHER_PARTNER), True),
    Row(
        PARTNER,
        "create a product as a network provider",
        lambda v, s: may_create_products(v, s, publisher=False),
        False,
    ),
    Row(
        PARTNER,
        "create, change or end a license of another publisher's product",
        lambda v, s: may_manage_license(v, s, SCHOOL, product_partner_id=ANOTHER_PARTNER),
        False,
    ),
    Row(
        PARTNER,
        "couple or uncouple a license of another publisher's product",
        lambda v, s: may_couple_license(v, s, SCHOOL, product_partner_id=ANOTHER_PARTNER),
        False,
    ),
    Row(
        PARTNER,
        "license its own product at a school without its consent",
        lambda v, s: may_manage_license(v, s, OTHER, product_partner_id=THE_PARTNER),
        False,
    ),
    Row(
        PARTNER,
        "register another partner's OpenID Connect client",
        lambda v, s: may_register_oidc_client(v, s, ANOTHER_PARTNER),
        False,
    ),
    Row(
        STAFF,
        "see whether another school's LAS coupling is suspended",
        lambda v, s: may_read_coupling_state(v, s, OTHER),
        False,
    ),
    Row(
        STAFF,
        "couple a license at another school",
        lambda v, s: may_couple_license(v, s, OTHER, product_partner_id=THE_PARTNER),
        False,
    ),
    Row(
        OPERATOR,
        "couple a license though its scope manages every school",
        lambda v, s: may_couple_license(v, s, OTHER, product_partner_id=THE_PARTNER),
        False,
    ),
    Row(
        STAFF,
        "set the login of a student of another school",
        lambda v, s: may_set_student_logins(v, s, OTHER),
        False,
    ),
    Row(
        STAFF,
        "print the login cards of another school's group",
        lambda v, s: may_print_login_cards(v, s, OTHER),
        False,
    ),
    Row(
        STAFF,
        "give or take a staff role at another school (a person of another school)",
        lambda v, s: may_manage_staff_roles_at(v, s, OTHER),
        False,
    ),
    Row(
        STAFF,
        "import without a scope (a coordinator's schools are known only from its scope)",
        lambda v, _: may_import(v, None, SCHOOL, las_school_ids=SERVED),
        False,
    ),
]


@pytest.mark.parametrize("row", BY_KIND + ELSEWHERE, ids=lambda row: row.sentence)
def test_each_viewer_gets_the_answer_of_the_rule(row: Row) -> None:
    assert row.check(viewer(row.kind), scope_of(row.kind)) is row.expected


def test_every_decision_is_asked_for_every_kind_of_viewer() -> None:
    asked = {(row.asked, row.kind) for row in BY_KIND}
    assert asked == {(decision.asked, kind) for decision in DECISIONS for kind in ViewerKind}


def test_every_function_of_the_module_is_in_the_table() -> None:
    public = {
        name
        for name, value in inspect.getmembers(permissions, inspect.isfunction)
        if value.__module__ == permissions.__name__ and not name.startswith("_")
    }
    tested = {function.__name__ for decision in DECISIONS for function in decision.functions}
    assert public == tested


def test_a_coordinator_of_several_schools_manages_each_of_them_and_no_other() -> None:
    coordinator = Viewer(STAFF, "8")
    scope = staff_scope(coordinator, StaffFacts(account_id=8, coordinator_of=frozenset({SCHOOL, OTHER})))
    assert may_manage_consent_at(coordinator, scope, SCHOOL)
    assert may_set_coupling(coordinator, scope, OTHER)
    assert not may_manage_consent_at(coordinator, scope, 99)
    assert not may_import(coordinator, scope, 99, las_school_ids=())


def test_a_staff_member_who_coordinates_nothing_may_change_no_school() -> None:
    teacher = Viewer(STAFF, "9")
    scope = staff_scope(teacher, StaffFacts(account_id=9, coordinator_of=frozenset()))
    assert may_manage_consent(teacher)  # the kind may ...
    assert not may_manage_consent_at(teacher, scope, SCHOOL)  # ... but not at a school it does not coordinate
    assert not may_set_coupling(teacher, scope, SCHOOL)
    assert not may_send_activation_mails(teacher, scope, SCHOOL)
    assert not may_import(teacher, scope, SCHOOL, las_school_ids=())


def test_a_board_coordinator_manages_the_chosen_schools_of_its_board_and_reads_its_overview() -> None:
    board_coordinator = Viewer(STAFF, "10")
    facts = StaffFacts(account_id=10, coordinator_of=frozenset(), board_schools={BOARD: frozenset({OTHER})})
    scope = staff_scope(board_coordinator, facts)
    assert may_read_board(board_coordinator, scope, BOARD)
    assert not may_read_board(board_coordinator, scope, BOARD + 1)
    assert may_manage_staff_roles_at(board_coordinator, scope, OTHER)
    assert may_manage_consent_at(board_coordinator, scope, OTHER)
    assert not may_manage_staff_roles_at(board_coordinator, scope, SCHOOL)  # not chosen by the operator


def test_a_publisher_whose_school_granted_everything_but_license_may_not_license_or_couple_there() -> None:
    publisher = viewer(PARTNER)
    consent = SchoolConsent(
        SCHOOL, ALL_CATEGORIES - {DataCategory.LICENSE}, school_active=True, dpa_signed=True
    )
    facts = PartnerFacts(partner_id=THE_PARTNER, declared=ALL_CATEGORIES, eck_chain=True, consents=(consent,))
    scope = partner_scope(publisher, facts, require_dpa=True, pseudonym_key=b"k" * 32)
    assert may_create_products(publisher, scope, publisher=True)  # a product belongs to no school ...
    assert not may_manage_license(
        publisher, scope, SCHOOL, product_partner_id=THE_PARTNER
    )  # ... a license does
    assert not may_couple_license(publisher, scope, SCHOOL, product_partner_id=THE_PARTNER)
