"""The graph fields the coordinator's dashboard (/beheer) needs beyond the readiness check: declining a
consent request, the LAS coupling's state, the import history, and the seats a license's couplings take;
each for the school's administrators only, and refused or empty for anyone else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from auth.categories import DataCategory
from auth.policy import StaffFacts, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.store.tables import CONSENT_REQUESTS, LICENSES, PARTNERS
from tests.schema.conftest import TODAY
from tests.schema.test_feed import grant, new_partner, now_on, scope_of_partner
from tests.schema.test_readiness import ReadySchool, _suspended, ready_school

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from settings import Settings
    from tests.schema.conftest import Run

DECLINE = "mutation($r: ID!) { declineConsentRequest(requestId: $r) { status purpose } }"
PENDING = "query($c: String!) { school(code: $c) { consentRequests { edges { node { id status } } } } }"
SCHOOL = """query($c: String!) { school(code: $c) {
    lasCouplingSuspended receivedFiles { schoolYear receivedAt }
    licenses { edges { node { seats seatsUsed coupledGroups { name } } } } } }"""


def _coordinator(*schools: ReadySchool) -> Scope:
    return staff_scope(
        Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset(school.school_id for school in schools))
    )


async def _request(engine: AsyncEngine, school: ReadySchool) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(CONSENT_REQUESTS).values(
                school_id=school.school_id,
                partner_id=school.partner_id,
                categories=["STUDENT_BASIC"],
                purpose="Rekenen <script>alert(1)</script>",
                requested_at=now_on(TODAY),
            )
        )


async def _pending(run: Run, school: ReadySchool, scope: Scope) -> list[dict[str, str]]:
    result = await run(PENDING, {"c": school.code}, scope=scope)
    assert result["errors"] == []
    return [edge["node"] for edge in result["data"]["school"]["consentRequests"]["edges"]]


async def test_a_coordinator_declines_a_pending_request_once(engine: AsyncEngine, run: Run) -> None:
    school = await ready_school(engine)
    await _request(engine, school)
    coordinator = _coordinator(school)
    [request] = await _pending(run, school, coordinator)

    result = await run(DECLINE, {"r": request["id"]}, scope=coordinator)
    assert result["errors"] == []
    assert result["data"]["declineConsentRequest"]["status"] == "DECLINED"
    assert await _pending(run, school, coordinator) == []

    again = await run(DECLINE, {"r": request["id"]}, scope=coordinator)
    assert [error["code"] for error in again["errors"]] == ["CONFLICT"]


async def test_nobody_but_the_schools_coordinator_declines_its_request(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school = await ready_school(engine)
    elsewhere = await ready_school(engine)
    await _request(engine, school)
    [request] = await _pending(run, school, _coordinator(school))

    other = await run(DECLINE, {"r": request["id"]}, scope=_coordinator(elsewhere))
    assert [error["code"] for error in other["errors"]] == ["NOT_FOUND"]
    operator = await run(DECLINE, {"r": request["id"]})
    assert [error["code"] for error in operator["errors"]] == ["FORBIDDEN"]
    _, client_id = await new_partner(engine)
    partner = await run(
        DECLINE, {"r": request["id"]}, scope=await scope_of_partner(engine, settings, client_id)
    )
    assert [error["code"] for error in partner["errors"]] == ["FORBIDDEN"]
    forged = await run(DECLINE, {"r": "Q29uc2VudFJlcXVlc3Q6OTk5"}, scope=_coordinator(school))
    assert forged["errors"]
    assert await _pending(run, school, _coordinator(school)) == [{"id": request["id"], "status": "PENDING"}]


async def test_the_coupling_history_and_seats_show_to_the_coordinator(engine: AsyncEngine, run: Run) -> None:
    school = await ready_school(engine)
    async with engine.begin() as connection:
        await connection.execute(
            LICENSES.update().where(LICENSES.c.school_id == school.school_id).values(seats=30)
        )
    result = await run(SCHOOL, {"c": school.code}, scope=_coordinator(school))
    assert result["errors"] == []
    shown = result["data"]["school"]
    assert shown["lasCouplingSuspended"] is False
    assert [entry["schoolYear"] for entry in shown["receivedFiles"]] == ["2026-2027"]
    [license_] = [edge["node"] for edge in shown["licenses"]["edges"]]
    # Groep 4a holds L1 and L3.
    assert (license_["seats"], license_["seatsUsed"], license_["coupledGroups"]) == (
        30,
        2,
        [{"name": "Groep 4a"}],
    )

    await _suspended(engine, school)
    result = await run(SCHOOL, {"c": school.code}, scope=_coordinator(school))
    assert result["data"]["school"]["lasCouplingSuspended"] is True


async def test_a_partner_gets_none_of_the_administrators_fields(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school = await ready_school(engine)
    await grant(engine, school.school_id, school.partner_id, [DataCategory.LICENSE, DataCategory.GROUP_BASIC])
    async with engine.connect() as connection:
        client_id = await connection.scalar(
            select(PARTNERS.c.client_id).where(PARTNERS.c.id == school.partner_id)
        )
    partner = await scope_of_partner(engine, settings, str(client_id))
    result = await run(SCHOOL, {"c": school.code}, scope=partner)
    assert result["errors"] == []
    shown = result["data"]["school"]
    assert shown["lasCouplingSuspended"] is None
    assert shown["receivedFiles"] == []
    [license_] = [edge["node"] for edge in shown["licenses"]["edges"]]
    assert license_["seatsUsed"] is None
    assert license_["coupledGroups"] == [{"name": "Groep 4a"}]  # the partner reads its own license
