"""Students sign in on `/login` with their school, username and a password or a picture code that the
school's coordinator set (`setStudentLogin`), and the coordinator prints a group's login cards. Every
refusal says why and changes nothing; a student's token or session does no staff work. Both engines,
over HTTP against the application with its lifespan running; clients keep cookies as browsers do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, update

from datasources.school_files.edexml import read_edexml
from datasources.store.tables import GROUP_STUDENTS, GROUPS, SCHOOLS, STUDENT_LOGINS, STUDENTS, WEB_SESSIONS
from resolvers import admin
from schema.relay import to_global_id
from tests.e2e.test_signin import browser
from tests.e2e.web import (
    graphql,
    session_csrf_token,
    sign_in_form,
    sign_in_staff,
    sign_in_student,
    student_fields,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

PASSWORD = "a-long-coordinator-password"
STUDENT_PASSWORD = "tulp7fiets"
PICTURES = [3, 14, 0, 9]
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
VIEWER = "{ viewer { kind subject scopes } }"
SET_LOGIN = """
mutation($id: ID!, $u: String!, $p: String, $c: [Int!]) {
  setStudentLogin(studentId: $id, username: $u, password: $p, pictureCode: $c) {
    studentId username hasPassword hasPictureCode
  }
}"""
SIGN_IN_STUDENT = """
mutation($s: String!, $u: String!, $p: String, $c: [Int!]) {
  signInStudent(schoolCode: $s, username: $u, password: $p, pictureCode: $c) { token expiresAt }
}"""


class School:
    """A school of the seeded world with its coordinator and two students of one group."""

    def __init__(self, code: str, name: str, ref: str, email: str, group: int, students: list[Any]) -> None:
        self.code, self.name, self.ref, self.email = code, name, ref, email
        self.group_id = to_global_id("Group", str(group))
        self.students = students

    def student_id(self, index: int) -> str:
        return to_global_id("Student", str(self.students[index].id))


@pytest.fixture
def clocked(settings: Settings) -> Settings:
    """The test's settings with the hub's clock at T0."""
    return settings.model_copy(update={"now_override": T0})


async def _school(engine: AsyncEngine, settings: Settings, index: int) -> School:
    async with engine.connect() as connection:
        school = (
            await connection.execute(select(SCHOOLS).order_by(SCHOOLS.c.id).offset(index).limit(1))
        ).one()
        group = await connection.scalar(
            select(GROUPS.c.id)
            .join(GROUP_STUDENTS, GROUP_STUDENTS.c.group_id == GROUPS.c.id)
            .where(GROUPS.c.school_id == school.id)
            .order_by(GROUPS.c.id)
            .limit(1)
        )
        students = list(
            await connection.execute(
                select(STUDENTS)
                .join(GROUP_STUDENTS, GROUP_STUDENTS.c.student_id == STUDENTS.c.id)
                .where(GROUP_STUDENTS.c.group_id == group)
                .order_by(STUDENTS.c.id)
                .limit(3)
            )
        )
    email = f"ict{index}@leerlingen.example"
    await admin.add_school_coordinator(settings, school.code, email, PASSWORD)
    return School(school.code, school.name, school.instelling_ref, email, int(group or 0), students)


@pytest.fixture
async def school(clocked: Settings, world: SeedSummary, engine: AsyncEngine) -> School:
    """The first school, its coordinator signed up."""
    return await _school(engine, clocked, 0)


@pytest.fixture
async def other_school(clocked: Settings, school: School, engine: AsyncEngine) -> School:
    """Another school with a coordinator of its own."""
    return await _school(engine, clocked, 1)


async def _set_login(client: httpx.AsyncClient, student_id: str, username: str, **secrets: Any) -> Any:
    response = await graphql(
        client,
        SET_LOGIN,
        {"id": student_id, "u": username, "p": secrets.get("password"), "c": secrets.get("pictures")},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _logins(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(select(STUDENT_LOGINS).order_by(STUDENT_LOGINS.c.student_id)))


@pytest.fixture
async def with_logins(clocked: Settings, school: School) -> School:
    """The school with two logins: "sam.jansen" (password and pictures) and "noor" (pictures only)."""
    async with browser(clocked) as coordinator:
        await sign_in_staff(coordinator, school.email, PASSWORD)
        first = await _set_login(
            coordinator, school.student_id(0), "Sam.Jansen", password=STUDENT_PASSWORD, pictures=PICTURES
        )
        second = await _set_login(coordinator, school.student_id(1), "noor", pictures=[1, 1, 2, 2])
    assert "errors" not in first, first
    assert first["data"]["setStudentLogin"] == {
        "studentId": school.student_id(0),
        "username": "sam.jansen",
        "hasPassword": True,
        "hasPictureCode": True,
    }
    assert second["data"]["setStudentLogin"]["hasPassword"] is False
    return school


async def test_a_student_signs_in_with_a_password_and_with_the_picture_code(
    clocked: Settings, with_logins: School, engine: AsyncEngine
) -> None:
    school = with_logins
    async with browser(clocked) as by_password:
        await sign_in_student(by_password, school.code, "SAM.JANSEN", password=STUDENT_PASSWORD)
        as_password = await graphql(by_password, VIEWER)
    async with browser(clocked) as by_pictures:
        await sign_in_student(by_pictures, school.ref, "sam.jansen", picture_code=PICTURES)
        as_pictures = await graphql(by_pictures, VIEWER)
        without_header = await by_pictures.post("/graphql", json={"query": VIEWER})
    async with browser(clocked) as only_pictures:
        await sign_in_student(only_pictures, school.code, "noor", picture_code=[1, 1, 2, 2])

    expected = {"kind": "STUDENT", "subject": f"student:{school.students[0].id}", "scopes": ["student"]}
    assert as_password.json()["data"]["viewer"] == expected
    assert as_pictures.json()["data"]["viewer"] == expected
    assert without_header.status_code == 403
    async with engine.connect() as connection:
        sessions = list(await connection.execute(select(WEB_SESSIONS).order_by(WEB_SESSIONS.c.id)))
    assert [(row.subject_kind, row.school_code) for row in sessions[-3:]] == [("student", school.code)] * 3
    # the secrets are stored only as argon2id hashes; the picture code sealed, not readable as such
    login = (await _logins(engine))[0]
    assert login.password_hash.startswith("$argon2id$")
    assert login.picture_hash.startswith("$argon2id$")
    assert "3-14-0-9" not in login.picture_sealed
    assert len(login.picture_sealed) > 30
    assert STUDENT_PASSWORD not in str(login)


async def test_the_login_page_names_the_school_of_a_shortcut_and_finds_schools_by_name(
    clocked: Settings, school: School
) -> None:
    async with browser(clocked) as client:
        shortcut = await client.get("/login", params={"school": school.ref})
        by_code = await client.get("/login", params={"school": school.code.lower()})
        search = await client.get("/login", params={"zoek": school.name[2:10]})
        unknown = await client.get("/login", params={"school": "00000000-0000-0000-0000-000000000000"})

    for page in (shortcut, by_code):
        assert page.status_code == 200
        assert f"Aanmelden bij {school.name}" in html.unescape(page.text)
        assert '<input type="hidden" name="school" value="' + school.code + '">' in page.text
        assert page.text.count('<form method="post" action="/login">') == 2  # student and staff
        assert page.text.count('type="radio" name="plaatje1"') == 16
        assert 'aria-label="rode ster"' in page.text
        assert "<script" not in page.text
    assert search.status_code == 200
    assert f"?school={school.ref}" in search.text
    assert unknown.status_code == 404
    assert "Deze school kennen we niet" in unknown.text


async def test_wrong_student_credentials_are_refused_then_rate_limited(
    clocked: Settings, with_logins: School, engine: AsyncEngine
) -> None:
    school = with_logins
    students = select(WEB_SESSIONS.c.id).where(WEB_SESSIONS.c.subject_kind == "student").limit(1)
    async with engine.connect() as connection:
        before = await connection.scalar(students)
    async with browser(clocked) as client:
        wrong = [
            await sign_in_form(client, student_fields(school.code, "sam.jansen", picture_code=[n, 0, 0, 0]))
            for n in range(5)
        ]
        wrong += [
            await sign_in_form(client, student_fields(school.code, "sam.jansen", password=f"raden-{n}"))
            for n in range(5)
        ]
        limited = await sign_in_form(client, student_fields(school.code, "sam.jansen", picture_code=PICTURES))
    async with browser(clocked, address="192.0.2.99") as api:
        api_limited = await api.post(
            "/graphql",
            json={
                "query": SIGN_IN_STUDENT,
                "variables": {"s": school.code, "u": "sam.jansen", "p": STUDENT_PASSWORD},
            },
        )
        other = await api.post(
            "/graphql",
            json={"query": SIGN_IN_STUDENT, "variables": {"s": school.code, "u": "noor", "c": [1, 1, 2, 2]}},
        )

    assert {response.status_code for response in wrong} == {401}
    assert "De gebruikersnaam, het wachtwoord of de plaatjes kloppen niet." in wrong[0].text
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "900"
    assert "Te veel mislukte pogingen" in limited.text
    assert api_limited.status_code == 429
    assert api_limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert other.status_code == 200  # another student of the school is not locked out
    assert other.json()["data"]["signInStudent"]["token"]
    assert before is None
    async with engine.connect() as connection:
        assert await connection.scalar(students) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"picture_code": [1, 2, 3]}, "Kies 4 plaatjes"),
        ({"picture_code": [1, 2, 3, 16]}, "Kies 4 plaatjes"),
        ({"picture_code": [1, 2, 3, 99]}, "Kies 4 plaatjes"),
        ({}, "Vul je wachtwoord in of kies je plaatjes"),
        (
            {"password": STUDENT_PASSWORD, "picture_code": PICTURES},
            "Vul je wachtwoord in of kies je plaatjes",
        ),
    ],
)
async def test_a_malformed_student_sign_in_is_refused_with_the_reason(
    clocked: Settings, with_logins: School, fields: dict[str, Any], message: str
) -> None:
    form = student_fields(with_logins.code, "sam.jansen", **fields)
    if fields.get("picture_code") == [1, 2, 3]:
        form.pop("plaatje4", None)
    async with browser(clocked) as client:
        refused = await sign_in_form(client, form)
        unknown_school = await sign_in_form(client, {**form, "school": "99XX99"})

    assert refused.status_code == 400
    assert message in refused.text
    assert "leerpoort_session" not in refused.headers.get("set-cookie", "")
    assert unknown_school.status_code == 400
    assert "Deze school kennen we niet" in unknown_school.text


async def test_set_student_login_refuses_bad_input_and_changes_nothing(
    clocked: Settings, with_logins: School, other_school: School, engine: AsyncEngine
) -> None:
    school = with_logins
    before = await _logins(engine)
    async with browser(clocked) as coordinator:
        await sign_in_staff(coordinator, school.email, PASSWORD)
        taken = await _set_login(coordinator, school.student_id(2), "NOOR", pictures=[0, 0, 0, 0])
        short = await _set_login(coordinator, school.student_id(2), "kim", pictures=[0, 1, 2])
        out_of_range = await _set_login(coordinator, school.student_id(2), "kim", pictures=[0, 1, 2, 16])
        negative = await _set_login(coordinator, school.student_id(2), "kim", pictures=[0, 1, 2, -1])
        weak = await _set_login(coordinator, school.student_id(2), "kim", password="1234567")
        own_name = await _set_login(coordinator, school.student_id(2), "kimberly", password="kimberly2020")
        bad_name = await _set_login(coordinator, school.student_id(2), "k m", password=STUDENT_PASSWORD)
        nothing = await _set_login(coordinator, school.student_id(2), "kim")
        not_a_student = await _set_login(coordinator, school.group_id, "kim", password=STUDENT_PASSWORD)
    async with browser(clocked) as stranger:  # another school's coordinator
        await sign_in_staff(stranger, other_school.email, PASSWORD)
        elsewhere = await _set_login(stranger, school.student_id(0), "overgenomen", password=STUDENT_PASSWORD)

    def error(answer: Any) -> tuple[str, str | None]:
        extensions = answer["errors"][0]["extensions"]
        return extensions["code"], extensions.get("reason")

    assert error(taken) == ("CONFLICT", None)
    assert error(short) == ("BAD_USER_INPUT", "INVALID_PICTURE_CODE")
    assert error(out_of_range) == ("BAD_USER_INPUT", "INVALID_PICTURE_CODE")
    assert error(negative) == ("BAD_USER_INPUT", "INVALID_PICTURE_CODE")
    assert error(weak) == ("BAD_USER_INPUT", "TOO_SHORT")
    assert error(own_name) == ("BAD_USER_INPUT", "CONTAINS_PERSONAL_DATA")
    assert error(bad_name) == ("BAD_USER_INPUT", "INVALID_USERNAME")
    assert error(nothing) == ("BAD_USER_INPUT", None)
    assert error(not_a_student) == ("BAD_USER_INPUT", None)
    assert error(elsewhere)[0] in {"FORBIDDEN", "NOT_FOUND"}
    assert await _logins(engine) == before


async def test_a_student_token_or_session_does_no_staff_work(
    clocked: Settings, with_logins: School, engine: AsyncEngine
) -> None:
    school = with_logins
    before = await _logins(engine)
    staff_work = [
        (SET_LOGIN, {"id": school.student_id(1), "u": "gekaapt", "p": "een-ander-wachtwoord"}),
        ("mutation($s: String!) { sendActivationMails(schoolCode: $s) }", {"s": school.code}),
        (
            "mutation($s: String!) { setLasCoupling(schoolCode: $s, suspended: true) { code } }",
            {"s": school.code},
        ),
    ]
    async with browser(clocked) as api:
        signed = await api.post(
            "/graphql",
            json={
                "query": SIGN_IN_STUDENT,
                "variables": {"s": school.code, "u": "sam.jansen", "c": PICTURES},
            },
        )
        token = signed.json()["data"]["signInStudent"]["token"]
        by_token = [
            await api.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            for query, variables in staff_work
        ]
        viewer = await api.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )
    async with browser(clocked) as student:
        await sign_in_student(student, school.code, "sam.jansen", password=STUDENT_PASSWORD)
        csrf = await session_csrf_token(student)
        by_session = [await graphql(student, query, variables, csrf=csrf) for query, variables in staff_work]
        cards = await student.get(f"/login/kaarten/{school.group_id}")

    assert viewer.json()["data"]["viewer"]["kind"] == "STUDENT"
    for answer in [*by_token, *by_session]:
        codes = {error["extensions"]["code"] for error in answer.json().get("errors", [])}
        assert codes == {"FORBIDDEN"}, answer.text
    assert cards.status_code == 403
    assert "Alleen de coördinator" in cards.text
    assert await _logins(engine) == before


async def test_a_removed_student_loses_the_session_and_the_token(
    clocked: Settings, with_logins: School, engine: AsyncEngine
) -> None:
    school = with_logins
    async with browser(clocked) as student, browser(clocked) as api:
        await sign_in_student(student, school.code, "sam.jansen", password=STUDENT_PASSWORD)
        csrf = await session_csrf_token(student)
        signed = await api.post(
            "/graphql",
            json={
                "query": SIGN_IN_STUDENT,
                "variables": {"s": school.code, "u": "sam.jansen", "c": PICTURES},
            },
        )
        token = signed.json()["data"]["signInStudent"]["token"]
        async with engine.begin() as connection:
            await connection.execute(
                update(STUDENTS).where(STUDENTS.c.id == school.students[0].id).values(active=False)
            )
        by_session = await graphql(student, VIEWER, csrf=csrf)
        by_token = await api.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )
        again = await sign_in_form(
            student, student_fields(school.code, "sam.jansen", password=STUDENT_PASSWORD)
        )

    assert by_session.status_code == 401
    assert by_token.status_code == 401
    assert again.status_code == 401
    async with engine.connect() as connection:
        ended = await connection.scalar(
            select(WEB_SESSIONS.c.ended_at).where(WEB_SESSIONS.c.subject_kind == "student")
        )
    assert ended == T0


async def test_the_coordinator_prints_a_groups_login_cards_without_passwords(
    clocked: Settings, with_logins: School, other_school: School
) -> None:
    school = with_logins
    async with browser(clocked) as anonymous:
        not_signed_in = await anonymous.get(f"/login/kaarten/{school.group_id}")
    async with browser(clocked) as coordinator:
        await sign_in_staff(coordinator, school.email, PASSWORD)
        cards = await coordinator.get(f"/login/kaarten/{school.group_id}")
        not_a_group = await coordinator.get(f"/login/kaarten/{school.student_id(0)}")
    async with browser(clocked) as stranger:
        await sign_in_staff(stranger, other_school.email, PASSWORD)
        elsewhere = await stranger.get(f"/login/kaarten/{school.group_id}")

    assert not_signed_in.status_code == 303
    assert not_signed_in.headers["location"].startswith("/login?next=%2Flogin%2Fkaarten%2F")
    assert cards.status_code == 200, cards.text
    text = cards.text
    first, _, third = school.students
    assert first.last_name in text
    assert "sam.jansen" in text
    assert "noor" in text
    # Sam's picture code, in order, by name; Noor's too; and the note that Sam has a password
    assert text.index("1. rode ster") < text.index("2. gele driehoek") < text.index("3. rood rondje")
    assert "4. groen vierkant" in text
    assert "1. rood vierkant" in text
    assert text.count("Er is een wachtwoord ingesteld") == 1
    assert STUDENT_PASSWORD not in text
    assert "$argon2" not in text
    assert third.last_name in text
    assert "Nog geen inlog" in text
    assert '<link rel="stylesheet" href="/static/leerpoort.css">' in text
    assert not_a_group.status_code == 404
    assert elsewhere.status_code == 403


async def test_an_import_that_removes_the_student_removes_the_login_and_ends_the_session(
    clocked: Settings, with_logins: School, engine: AsyncEngine
) -> None:
    school = with_logins
    leaver = school.students[0]
    async with browser(clocked) as student:
        await sign_in_student(student, school.code, "sam.jansen", password=STUDENT_PASSWORD)
        csrf = await session_csrf_token(student)
        exported = read_edexml(await admin.export_edex(clocked, school.code, None))
        without = dataclasses.replace(
            exported, students=tuple(one for one in exported.students if one.key != leaver.las_key)
        )
        report = await admin.import_file(clocked, lambda: without, dry_run=False, confirm=True)
        after = await graphql(student, VIEWER, csrf=csrf)
        again = await sign_in_form(
            student, student_fields(school.code, "sam.jansen", password=STUDENT_PASSWORD)
        )

    assert report.students is not None
    assert report.students.removed == 1
    assert after.status_code == 401
    assert again.status_code == 401
    assert [login.student_id for login in await _logins(engine)] == [school.students[1].id]


async def test_signing_a_student_in_at_an_unknown_school_is_bad_input(
    clocked: Settings, school: School
) -> None:
    async with browser(clocked) as api:
        unknown = await api.post(
            "/graphql",
            json={"query": SIGN_IN_STUDENT, "variables": {"s": "99XX99", "u": "sam.jansen", "p": "x" * 10}},
        )
        malformed = await api.post(
            "/graphql",
            json={"query": SIGN_IN_STUDENT, "variables": {"s": school.code, "u": "sam", "c": [1, 2]}},
        )

    assert unknown.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert unknown.json()["data"] is None
    assert malformed.json()["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "reason": "INVALID_PICTURE_CODE",
    }
