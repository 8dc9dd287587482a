"""The policy alone: from a viewer and the facts loaded for it, the scope it reads, without a database.

The facts are built by hand here, as `datasources.access.viewer_facts` loads them: a partner's declarations
and the consents in force (a revoked consent is not among them), each with its school's state and whether
the school's board signed the DPA; a staff account's coordinated schools. Other tests run the same policy
through the store and the graph; these pin what it decides.
"""

from __future__ import annotations

import pytest

from auth import identifiers
from auth.categories import ALL_CATEGORIES
from auth.categories import DataCategory as C
from auth.identifiers import HubIdentifiers, PartnerIdentifiers
from auth.policy import (
    ALWAYS_GRANTED,
    NotAuthorised,
    PartnerFacts,
    SchoolConsent,
    Scope,
    StaffFacts,
    empty_scope,
    grantable,
    operator_scope,
    partner_scope,
    staff_scope,
)
from auth.viewer import Viewer, ViewerKind
from datasources.access.viewer_facts import categories as stored_categories

KEY = b"the hub's pseudonym key, 32 byte"
OPERATOR = Viewer(ViewerKind.OPERATOR, "helpdesk")
PARTNER = Viewer(ViewerKind.PARTNER, "publisher")
COORDINATOR = Viewer(ViewerKind.STAFF, "7")

#: Three schools of the partner's world: two consented, one not.
NORTH, SOUTH, ELSEWHERE = 10, 20, 30


def consent(
    school_id: int, *granted: C, school_active: bool = True, dpa_signed: bool = True
) -> SchoolConsent:
    """A consent in force at a school, with the state of the school and its board."""
    return SchoolConsent(
        school_id=school_id, granted=frozenset(granted), school_active=school_active, dpa_signed=dpa_signed
    )


def partner(
    *consents: SchoolConsent,
    declared: frozenset[C] = ALL_CATEGORIES,
    eck_chain: bool = False,
    partner_id: int = 3,
    require_dpa: bool = True,
) -> Scope:
    """The scope of a partner with these declarations and consents in force."""
    facts = PartnerFacts(partner_id=partner_id, declared=declared, eck_chain=eck_chain, consents=consents)
    return partner_scope(PARTNER, facts, require_dpa=require_dpa, pseudonym_key=KEY)


# The operator


def test_the_operator_sees_every_school_with_every_category_and_manages_them_all() -> None:
    scope = operator_scope(OPERATOR)
    assert scope.is_unrestricted
    assert scope.visible_school_ids is None
    assert scope.can_see_school(ELSEWHERE)
    assert scope.categories_for(ELSEWHERE) == ALL_CATEGORIES
    assert scope.schools_granting(C.STUDENT_NAME) is None
    assert scope.manages(ELSEWHERE)
    assert scope.sees_eck_id
    assert scope.partner_id is None


def test_the_operator_is_shown_the_hubs_own_ids_and_no_pseudonyms() -> None:
    identifiers = operator_scope(OPERATOR).identifiers
    assert isinstance(identifiers, HubIdentifiers)
    assert identifiers.show("Student", 42) == "42"
    assert identifiers.resolve("Student", "42") == 42
    assert identifiers.pseudonym("student", 42) is None


@pytest.mark.parametrize("spelling", ["01", "+1", "-1", "1.0", " 1", "\u0661", "1" * 19, ""])
def test_the_hubs_ids_resolve_only_in_their_one_spelling(spelling: str) -> None:
    assert HubIdentifiers().resolve("School", spelling) is None


@pytest.mark.parametrize("kind", [kind for kind in ViewerKind if kind is not ViewerKind.OPERATOR])
def test_no_other_viewer_gets_the_operators_unrestricted_scope(kind: ViewerKind) -> None:
    with pytest.raises(NotAuthorised):
        operator_scope(Viewer(kind, "someone"))


# Partners: which schools (rows)


def test_a_partner_sees_only_the_schools_that_consented_to_it() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC), consent(SOUTH, C.LICENSE))
    assert not scope.is_unrestricted
    assert scope.visible_school_ids == frozenset({NORTH, SOUTH})
    assert not scope.can_see_school(ELSEWHERE)
    assert scope.categories_for(ELSEWHERE) == frozenset()


def test_a_partner_without_any_consent_sees_no_school() -> None:
    scope = partner()
    assert scope.visible_school_ids == frozenset()
    assert not scope.can_see_school(NORTH)


def test_an_unsigned_dpa_hides_the_school_while_the_hub_requires_one() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC, dpa_signed=False), consent(SOUTH, C.STUDENT_BASIC))
    assert scope.visible_school_ids == frozenset({SOUTH})


def test_an_unsigned_dpa_does_not_hide_the_school_where_the_hub_requires_none() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC, dpa_signed=False), require_dpa=False)
    assert scope.visible_school_ids == frozenset({NORTH})
    assert scope.categories_for(NORTH) == {C.SCHOOL_BASIC, C.STUDENT_BASIC}


def test_a_closed_school_is_hidden_though_it_consented_and_its_board_signed() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC, school_active=False), consent(SOUTH, C.STUDENT_BASIC))
    assert scope.visible_school_ids == frozenset({SOUTH})


def test_a_closed_school_stays_hidden_where_the_hub_requires_no_dpa() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC, school_active=False, dpa_signed=False), require_dpa=False)
    assert scope.visible_school_ids == frozenset()


def test_a_revoked_consent_takes_its_school_out_of_the_scope_and_leaves_the_others() -> None:
    before = partner(consent(NORTH, C.STUDENT_BASIC), consent(SOUTH, C.STUDENT_NAME))
    # A revoked consent is no longer in force, so the facts of the next request no longer hold it.
    after = partner(consent(SOUTH, C.STUDENT_NAME))
    assert before.can_see_school(NORTH)
    assert not after.can_see_school(NORTH)
    assert after.categories_for(NORTH) == frozenset()
    assert after.categories_for(SOUTH) == before.categories_for(SOUTH)


# Partners: which categories per school (columns)


def test_a_partner_reads_at_each_school_what_that_school_granted() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC, C.STUDENT_NAME), consent(SOUTH, C.STAFF_BASIC))
    assert scope.categories_for(NORTH) == {C.SCHOOL_BASIC, C.STUDENT_BASIC, C.STUDENT_NAME}
    assert scope.categories_for(SOUTH) == {C.SCHOOL_BASIC, C.STAFF_BASIC}
    assert scope.schools_granting(C.STUDENT_NAME) == frozenset({NORTH})
    assert scope.schools_granting(C.STAFF_BASIC) == frozenset({SOUTH})
    assert scope.schools_granting(C.LICENSE) == frozenset()


def test_a_partner_reads_only_what_it_both_declared_and_was_granted() -> None:
    # The partner declared less since the school granted (declarations can narrow): the narrower wins.
    scope = partner(
        consent(NORTH, C.STUDENT_BASIC, C.STUDENT_NAME, C.LICENSE),
        declared=frozenset({C.STUDENT_BASIC, C.GROUP_BASIC}),
    )
    assert scope.categories_for(NORTH) == {C.SCHOOL_BASIC, C.STUDENT_BASIC}


def test_every_consent_shows_the_school_itself() -> None:
    scope = partner(consent(NORTH), declared=frozenset())
    assert scope.categories_for(NORTH) == ALWAYS_GRANTED == {C.SCHOOL_BASIC}
    assert scope.schools_granting(C.SCHOOL_BASIC) == frozenset({NORTH})


def test_a_partner_manages_no_school_even_where_it_reads_everything() -> None:
    scope = partner(consent(NORTH, *ALL_CATEGORIES))
    assert scope.categories_for(NORTH) == ALL_CATEGORIES
    assert not scope.manages(NORTH)
    assert scope.managed_school_ids == frozenset()


@pytest.mark.parametrize("eck_chain", [True, False])
def test_a_partner_reads_eck_ids_only_in_the_eck_chain(eck_chain: bool) -> None:
    assert partner(consent(NORTH, C.STUDENT_BASIC), eck_chain=eck_chain).sees_eck_id is eck_chain


# Partners: identifier modes


def test_a_partner_is_shown_its_own_sealed_ids_which_resolve_for_it_alone() -> None:
    scope = partner(consent(NORTH, C.STUDENT_BASIC), partner_id=3)
    other = partner(consent(NORTH, C.STUDENT_BASIC), partner_id=4)
    assert scope.partner_id == 3
    assert isinstance(scope.identifiers, PartnerIdentifiers)
    shown = scope.identifiers.show("Student", 42)
    assert shown != "42"
    assert shown != other.identifiers.show("Student", 42)
    assert scope.identifiers.resolve("Student", shown) == 42
    assert other.identifiers.resolve("Student", shown) is None
    assert scope.identifiers.resolve("StaffMember", shown) is None  # an id names one type only
    assert scope.identifiers.resolve("Student", "42") is None  # the hub's own id means nothing to a partner


def test_a_partner_gets_a_stable_pseudonym_per_person_that_no_other_partner_shares() -> None:
    first = partner(consent(NORTH), partner_id=3).identifiers
    again = partner(consent(SOUTH), partner_id=3).identifiers  # another request, other consents
    other = partner(consent(NORTH), partner_id=4).identifiers
    pseudonym = first.pseudonym("student", 42)
    assert pseudonym is not None
    assert len(pseudonym) == 32
    assert again.pseudonym("student", 42) == pseudonym
    assert other.pseudonym("student", 42) != pseudonym
    assert first.pseudonym("student", 43) != pseudonym
    assert first.pseudonym("staff", 42) != pseudonym


def test_a_partners_remembered_ids_and_pseudonyms_equal_fresh_ones_and_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identifiers, "MEMO_SIZE", 10)
    remembering = PartnerIdentifiers(3, b"k" * 32)
    rows = [*range(25), *range(25)]  # every row asked for twice, more rows than are remembered

    shown = [remembering.show("Student", row) for row in rows]
    pseudonyms = [remembering.pseudonym("student", row) for row in rows]

    assert shown == [PartnerIdentifiers(3, b"k" * 32).show("Student", row) for row in rows]
    assert pseudonyms == [PartnerIdentifiers(3, b"k" * 32).pseudonym("student", row) for row in rows]
    # A row's value is remembered per entity type (and kind of person): never another type's value.
    assert remembering.show("StaffMember", 1) != remembering.show("Student", 1)
    assert remembering.pseudonym("staff", 1) != remembering.pseudonym("student", 1)
    assert remembering.resolve("Student", shown[1]) == 1
    assert len(remembering._shown) <= 10
    assert len(remembering._pseudonyms) <= 10


# School staff


def test_a_coordinator_reads_and_manages_the_schools_it_coordinates_and_no_other() -> None:
    scope = staff_scope(COORDINATOR, StaffFacts(account_id=7, coordinator_of=frozenset({NORTH, SOUTH})))
    assert scope.visible_school_ids == frozenset({NORTH, SOUTH})
    assert scope.categories_for(NORTH) == ALL_CATEGORIES
    assert scope.categories_for(ELSEWHERE) == frozenset()
    assert scope.manages(SOUTH)
    assert not scope.manages(ELSEWHERE)
    assert scope.partner_id is None
    assert scope.sees_eck_id
    assert isinstance(scope.identifiers, HubIdentifiers)


def test_staff_who_coordinate_no_school_read_and_manage_nothing() -> None:
    scope = staff_scope(COORDINATOR, StaffFacts(account_id=7, coordinator_of=frozenset()))
    assert scope.visible_school_ids == frozenset()
    assert not scope.is_unrestricted
    assert not scope.manages(NORTH)


# LAS clients, students, anonymous callers


@pytest.mark.parametrize("kind", [ViewerKind.LAS, ViewerKind.STUDENT, ViewerKind.ANONYMOUS])
def test_viewers_without_read_access_read_nothing(kind: ViewerKind) -> None:
    scope = empty_scope(Viewer(kind, "someone"))
    assert not scope.is_unrestricted
    assert scope.visible_school_ids == frozenset()
    assert scope.categories_for(NORTH) == frozenset()
    assert scope.schools_granting(C.SCHOOL_BASIC) == frozenset()
    assert not scope.manages(NORTH)
    assert not scope.sees_eck_id
    assert scope.partner_id is None


# What a school may grant


def test_a_school_grants_only_what_the_partner_declared_and_the_school_itself_always() -> None:
    declared = {C.STUDENT_BASIC, C.STUDENT_NAME}
    assert grantable(declared, [C.STUDENT_BASIC]) == {C.SCHOOL_BASIC, C.STUDENT_BASIC}
    assert grantable(declared, [C.SCHOOL_BASIC]) == {C.SCHOOL_BASIC}  # never needs declaring


def test_a_school_may_not_grant_what_the_partner_did_not_declare() -> None:
    with pytest.raises(NotAuthorised, match="the partner did not declare LICENSE, STAFF_NAME"):
        grantable({C.STUDENT_BASIC}, [C.STUDENT_BASIC, C.STAFF_NAME, C.LICENSE])


def test_a_category_name_the_code_no_longer_knows_is_never_granted() -> None:
    stored = ["STUDENT_BASIC", "STUDENT_SHOE_SIZE", "LICENSE"]
    assert stored_categories(stored) == {C.STUDENT_BASIC, C.LICENSE}
    scope = partner(consent(NORTH, *stored_categories(stored)))
    assert scope.categories_for(NORTH) == {C.SCHOOL_BASIC, C.STUDENT_BASIC, C.LICENSE}
