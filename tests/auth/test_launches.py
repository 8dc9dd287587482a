"""The launch rule and the own view as plain decisions: every branch, without a database."""

from __future__ import annotations

import itertools

import pytest

from auth.categories import DataCategory
from auth.launches import LaunchContext, LaunchRefusal, most_telling, refusal_at_school
from auth.policy import Membership, SchoolConsent, own_view
from auth.viewer import Viewer, ViewerKind
from schema.oidc import LAUNCH_REASONS

DECLARED = frozenset({DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC, DataCategory.LICENSE})


def _consent(
    *, active: bool = True, dpa: bool = True, granted: frozenset[DataCategory] = DECLARED
) -> SchoolConsent:
    return SchoolConsent(school_id=1, granted=granted, school_active=active, dpa_signed=dpa)


def _refusal(consent: SchoolConsent | None, **changes: object) -> LaunchRefusal | None:
    options: dict[str, object] = {
        "require_dpa": True,
        "coupled": True,
        "allowed_at_home": False,
        "home_login": False,
        "student": True,
        "context": LaunchContext.SCHOOL,
        "connected": True,
        **changes,
    }
    return refusal_at_school(consent, DECLARED, **options)  # type: ignore[arg-type]


def test_a_coupled_product_of_a_consented_partner_opens_at_school() -> None:
    assert _refusal(_consent()) is None


def test_without_consent_a_closed_school_or_an_unsigned_dpa_the_reason_is_no_consent() -> None:
    assert _refusal(None) is LaunchRefusal.NO_CONSENT
    assert _refusal(_consent(active=False)) is LaunchRefusal.NO_CONSENT
    assert _refusal(_consent(dpa=False)) is LaunchRefusal.NO_CONSENT
    # The sandbox may switch the DPA rule off, as it does for partner reads.
    assert _refusal(_consent(dpa=False), require_dpa=False) is None
    # Consent comes first: no consent and no license says "no consent".
    assert _refusal(None, coupled=False) is LaunchRefusal.NO_CONSENT


def test_a_license_not_coupled_to_the_persons_groups_is_no_license() -> None:
    assert _refusal(_consent(), coupled=False) is LaunchRefusal.NO_LICENSE


def test_a_consent_without_the_category_that_identifies_the_person_is_not_granted() -> None:
    only_students = _consent(granted=frozenset({DataCategory.STUDENT_BASIC, DataCategory.LICENSE}))
    assert _refusal(only_students) is None
    assert _refusal(only_students, student=False) is LaunchRefusal.NOT_GRANTED
    # Not granted comes before the license: the partner could not be told who it is either way.
    assert _refusal(only_students, student=False, coupled=False) is LaunchRefusal.NOT_GRANTED


def test_a_product_its_partner_has_not_connected_is_refused_last() -> None:
    assert _refusal(_consent(), connected=False) is LaunchRefusal.NOT_CONNECTED
    assert _refusal(_consent(), connected=False, coupled=False) is LaunchRefusal.NO_LICENSE


@pytest.mark.parametrize(
    ("allowed_at_home", "home_login", "student"),
    list(itertools.product([False, True], repeat=3)),
)
def test_a_student_at_home_needs_a_product_allowed_at_home_and_home_login_staff_do_not(
    allowed_at_home: bool, home_login: bool, student: bool
) -> None:
    refusal = _refusal(
        _consent(),
        allowed_at_home=allowed_at_home,
        home_login=home_login,
        student=student,
        context=LaunchContext.HOME,
    )
    expected = not student or (allowed_at_home and home_login)
    assert (refusal is None) is expected
    assert refusal in {None, LaunchRefusal.NOT_AT_HOME}
    # At school, home rules never refuse.
    assert (
        _refusal(_consent(), allowed_at_home=allowed_at_home, home_login=home_login, student=student) is None
    )


def test_the_reason_shown_is_the_one_that_came_furthest_and_every_reason_is_dutch() -> None:
    assert most_telling([]) is LaunchRefusal.NOT_A_MEMBER
    assert most_telling([LaunchRefusal.NO_CONSENT, LaunchRefusal.NO_LICENSE]) is LaunchRefusal.NO_LICENSE
    assert most_telling([LaunchRefusal.NOT_AT_HOME, LaunchRefusal.NO_CONSENT]) is LaunchRefusal.NOT_AT_HOME
    assert (
        most_telling([LaunchRefusal.NOT_CONNECTED, LaunchRefusal.NOT_GRANTED]) is LaunchRefusal.NOT_CONNECTED
    )
    reasons = [LAUNCH_REASONS[refusal] for refusal in LaunchRefusal]
    assert len(set(reasons)) == len(reasons)
    assert all(reason.endswith(".") and "license" not in reason for reason in reasons)


def test_only_teachers_and_students_have_an_own_view_and_only_teachers_see_their_pupils() -> None:
    memberships = [
        Membership("staff", 3, 30, 1),
        Membership("student", 4, 40, 1),
        Membership("staff", 2, 20, 2),
    ]
    for kind in (ViewerKind.OPERATOR, ViewerKind.PARTNER, ViewerKind.LAS, ViewerKind.ANONYMOUS):
        assert own_view(Viewer(kind, "x"), memberships) is None
    staff = own_view(Viewer(ViewerKind.STAFF, "7"), memberships)
    assert staff is not None
    assert [m.member_id for m in staff.memberships] == [3, 2]  # its own kind only, by school
    assert staff.sees_group_members
    assert not staff.is_student
    assert staff.school_ids == {1, 2}
    student = own_view(Viewer(ViewerKind.STUDENT, "4"), memberships)
    assert student is not None
    assert [m.member_id for m in student.memberships] == [4]
    assert not student.sees_group_members
    assert student.is_student
