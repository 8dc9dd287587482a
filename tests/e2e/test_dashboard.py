"""The coordinator's dashboard (/beheer) in a real browser: headless Chromium (Debian's, driven by
Playwright, which never downloads a browser of its own) against a real uvicorn server.

One coordinator's start of the year, as one story: signing in on /login, the readiness check shows
problems; turning the LAS coupling back on turns its check OK; a partner's consent request (whose purpose
holds a `<script>`, shown as text and never run) is granted for two of its three categories, the receipt
shows, and the partner's next GraphQL read has exactly those; a file is uploaded, its dry-run report read
and the import applied; a license is coupled to group 5. Every page passes axe-core without serious or
critical violations, and a screenshot of each is written to build/screenshots/ (or
$LEERPOORT_SCREENSHOTS) for people to look at. One browser for the module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import insert, select, update

from auth.credentials import hash_secret
from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.tables import (
    BOARD_COORDINATORS,
    BOARDS,
    LICENSES,
    PARTNERS,
    PRODUCTS,
    SCHOOLS,
    STAFF_ACCOUNTS,
)
from resolvers import admin, registry_commands
from tests.e2e.conftest import REPO_ROOT, process_environment, run_cli_beside_app, sqlite_copy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from playwright.async_api import Browser, FilePayload, Page
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO_ROOT / "tests" / "federation" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("LEERPOORT_SCREENSHOTS") or REPO_ROOT / "build" / "screenshots")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test.sh installs it)"
)

CODE = "99DB00"
EMAIL = "ict@regenboog.example"
PASSWORD = "een-lange-wachtzin-voor-beheer"
NOW = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
YEAR = "2026-2027"
SECOND_CODE = "99DB01"
BOARD_EMAIL = "bovenschools@bestuur.example"
PURPOSE = "<script>window.leerpoortXss = 1</script> Rekenen oefenen op maat, per groep."


def roster(extra_students: int = 0, code: str = CODE) -> SchoolFile:
    """The school's file: Groep 4a and Groep 5a with their pupils, a teacher for each group."""
    groups = (
        ImportedGroup("G4", "Groep 4a", "4", composite=False),
        ImportedGroup("G5", "Groep 5a", "5", composite=False),
    )
    students = tuple(
        ImportedStudent(
            key=f"L{index}",
            eck_id=None,
            first_name=f"Leerling{index}",
            prefix=None,
            last_name="de Vries",
            initials="L",
            date_of_birth=dt.date(2018, 3, 1) + dt.timedelta(days=index),
            year_level="4" if index % 2 else "5",
            main_group="G4" if index % 2 else "G5",
            composite_groups=(),
        )
        for index in range(8 + extra_students)
    )
    staff = (
        ImportedStaff("M1", None, "Els", None, "Kok", "els@regenboog.example", ("LRK",), ("G4",)),
        ImportedStaff("M2", None, "Ahmed", None, "Bakker", "ahmed@regenboog.example", ("LRK",), ("G5",)),
    )
    return SchoolFile(code[:4], code[4:], YEAR, None, groups, students, staff, source="test")


# --- the server and the browser -----------------------------------------------------------------------------


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the server runs as its own process on a copy of the migrated template."""
    return sqlite_copy(sqlite_template, tmp_path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class Hub:
    """The served hub's address."""

    base_url: str


@pytest.fixture
def hub(settings: Settings, tmp_path: Path, school: None) -> Iterator[Hub]:
    """`uvicorn server:create_app --factory` on the test's database, with the hub's clock at NOW."""
    environment = process_environment(settings, LEERPOORT_NOW=NOW.isoformat())
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [sys.executable, "-m", "uvicorn", "server:create_app", "--factory", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {log.read_text()}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield Hub(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """The folder the screenshots go to, made once."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
async def browser(screenshots: Path) -> AsyncIterator[Browser]:
    """One headless Debian Chromium for the module (Playwright never downloads one)."""
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only where a browser runs

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


@dataclasses.dataclass(frozen=True)
class Partner:
    """The publisher of the story."""

    partner_id: int
    client_id: str
    client_secret: str


@pytest.fixture
async def school(settings: Settings, engine: AsyncEngine, tmp_path: Path) -> None:
    """The school of the story: imported, a coordinator, a signed DPA, the LAS coupling left suspended."""
    at = settings.model_copy(update={"now_override": NOW})
    await registry_commands.add_location(at, CODE, "De Regenboog", "99988")
    report = await admin.import_file(at, roster, dry_run=False, confirm=True)
    assert not report.errors
    await admin.add_school_coordinator(at, CODE, EMAIL, PASSWORD)
    async with engine.begin() as connection:
        await connection.execute(
            update(BOARDS)
            .where(BOARDS.c.number == "99988")
            .values(dpa_signed_at=NOW, dpa_signed_by="Directeur")
        )
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.code == CODE).values(las_coupling_suspended=True)
        )


@pytest.fixture
async def partner(settings: Settings, engine: AsyncEngine, tmp_path: Path, school: None) -> Partner:
    """A publisher declaring three categories, with a license of its product at the school, uncoupled."""
    created = await run_cli_beside_app(
        "partner", "create", "Uitgeverij <b>Rekenrijk</b>", "--kind", "publisher",
        "--categories", "GROUP_BASIC,STUDENT_BASIC,STUDENT_NAME", settings=settings, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    credentials = json.loads(created.stdout)
    async with engine.begin() as connection:
        partner_id = await connection.scalar(
            select(PARTNERS.c.id).where(PARTNERS.c.client_id == credentials["client_id"])
        )
        school_id = await connection.scalar(select(SCHOOLS.c.id).where(SCHOOLS.c.code == CODE))
        product = await connection.execute(
            insert(PRODUCTS).values(partner_id=partner_id, name="Rekenrijk groep 5").returning(PRODUCTS.c.id)
        )
        await connection.execute(
            insert(LICENSES).values(
                school_id=school_id, product_id=product.scalar_one(), seats=30, valid_from=dt.date(2026, 8, 1)
            )
        )
    return Partner(int(partner_id or 0), credentials["client_id"], credentials["client_secret"])


# --- helpers of the story -----------------------------------------------------------------------------------


def _partner_graph(hub: Hub, partner: Partner, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    granted = httpx.post(
        f"{hub.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(partner.client_id, partner.client_secret),
        timeout=10.0,
    )
    assert granted.status_code == 200, granted.text
    answer = httpx.post(
        f"{hub.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
        timeout=10.0,
    )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _axe(page: Page, name: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    if not await page.evaluate("() => Boolean(window.axe)"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    serious = [
        f"{violation['id']}: {violation['help']} ({[node['target'] for node in violation['nodes']]})"
        for violation in result
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


async def _visit(page: Page, hub: Hub, name: str) -> None:
    """Open a page of the dashboard by its navigation link and wait for its content."""
    await page.get_by_role("navigation", name="Beheer").get_by_role("link", name=name, exact=True).click()
    # The click changes the hash; the page is drawn on the hashchange event that follows, so until then the
    # previous page is still on screen. Wait for this page's title and for its content to have loaded.
    await page.wait_for_function(
        """(name) => document.querySelector('#pagina-titel')?.textContent === name
            && !document.querySelector('#inhoud')?.textContent.startsWith('Even geduld')""",
        arg=name,
    )


async def _snapshot(page: Page, name: str) -> Path:
    path = SCREENSHOTS / f"beheer-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def _check_status(page: Page, code: str) -> str:
    classes = await page.locator(f'li.check[data-code="{code}"]').get_attribute("class") or ""
    return classes.split()[-1]


# --- the story ----------------------------------------------------------------------------------------------


async def test_a_coordinator_gets_the_school_ready_in_the_browser(
    hub: Hub, partner: Partner, browser: Browser, engine: AsyncEngine
) -> None:
    _partner_graph(
        hub,
        partner,
        "mutation($c: String!, $p: String!) { requestConsent(schoolCode: $c,"
        " categories: [GROUP_BASIC, STUDENT_BASIC, STUDENT_NAME], purpose: $p) { status } }",
        {"c": CODE, "p": PURPOSE},
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Signing in on /login brings the coordinator back to /beheer, on the overview.
    await page.goto(f"{hub.base_url}/beheer")
    assert "/login?next=%2Fbeheer" in page.url
    await page.get_by_label("E-mailadres").fill(EMAIL)
    await page.locator("#wachtwoord").fill(PASSWORD)
    await page.locator("#wachtwoord").press("Enter")
    await page.wait_for_url(f"{hub.base_url}/beheer*")
    await page.wait_for_selector("ul.startcheck")
    assert await _check_status(page, "LAS_COUPLING") == "problem"
    assert await _check_status(page, "LICENSES_COUPLED") == "problem"
    assert await _check_status(page, "CONSENT_REQUESTS") == "warning"
    assert await _check_status(page, "GROUP_TEACHERS") == "ok"
    assert await page.locator("html").get_attribute("lang") == "nl"
    await _snapshot(page, "overzicht")
    await _axe(page, "overzicht")

    # Gegevens: the coupling goes back on, and the overview says so.
    await _visit(page, hub, "Gegevens")
    await page.get_by_role("button", name="Koppeling weer aanzetten").click()
    await page.get_by_text("De koppeling met de LAS staat weer aan.").wait_for()
    await _visit(page, hub, "Overzicht")
    assert await _check_status(page, "LAS_COUPLING") == "ok"

    # Toestemming: the partner's purpose is text, never markup; two of three categories are granted.
    await _visit(page, hub, "Toestemming")
    purpose = page.locator("blockquote.doel")
    assert await purpose.text_content() == PURPOSE
    assert await page.evaluate("() => window.leerpoortXss") is None
    assert await page.locator("#inhoud script").count() == 0
    assert await page.get_by_role("heading", name="Uitgeverij <b>Rekenrijk</b>").count() == 1
    await _snapshot(page, "toestemming-verzoek")
    await _axe(page, "toestemming")
    await page.get_by_label("Namen van leerlingen").uncheck()
    await page.get_by_role("button", name="Toestemming geven voor de gekozen gegevens").click()
    receipt = page.locator("section.bewijs")
    await receipt.wait_for()
    receipt_text = await receipt.text_content() or ""
    assert "Groepen: naam, jaargroep" in receipt_text
    assert "Leerlingen: een pseudoniem" in receipt_text
    assert "Namen van leerlingen" not in receipt_text
    assert "ICT-coördinator, De Regenboog" in receipt_text
    await _snapshot(page, "toestemming-bewijs")
    read = _partner_graph(
        hub,
        partner,
        "query($c: String!) { school(code: $c) { grantedCategories"
        " students(first: 3) { edges { node { pseudonym firstName } } } } }",
        {"c": CODE},
    )
    assert read["school"]["grantedCategories"] == ["GROUP_BASIC", "SCHOOL_BASIC", "STUDENT_BASIC"]
    students = [edge["node"] for edge in read["school"]["students"]["edges"]]
    assert students
    assert all(student["firstName"] is None and student["pseudonym"] for student in students)

    # Narrowing the consent in force: the partner keeps only the groups, with a new receipt.
    in_force = page.locator("article.beheer-kaart", has_text="Gegevens die deze partner krijgt")
    await in_force.get_by_label("Leerlingen: een pseudoniem, jaargroep en groep").uncheck()
    await in_force.get_by_role("button", name="Wijziging opslaan").click()
    await page.get_by_role("heading", name="Toestemming gewijzigd").wait_for()
    assert "Leerlingen: een pseudoniem" not in (await page.locator("section.bewijs").text_content() or "")
    narrowed = _partner_graph(
        hub, partner, "query($c: String!) { school(code: $c) { grantedCategories } }", {"c": CODE}
    )
    assert narrowed["school"]["grantedCategories"] == ["GROUP_BASIC", "SCHOOL_BASIC"]

    # Gegevens: a file with two new pupils, tried first, then applied.
    await _visit(page, hub, "Gegevens")
    upload: FilePayload = {
        "name": "regenboog.xml",
        "mimeType": "application/xml",
        "buffer": write_edexml(roster(extra_students=2)),
    }
    await page.get_by_label("Bestand uit de leerlingadministratie").set_input_files(upload)
    await page.get_by_role("button", name="Uploaden").click()
    report = page.locator("section.rapport")
    await report.wait_for()
    assert "Proefdraaien" in (await report.locator("h2").text_content() or "")
    assert await report.locator("tbody tr").nth(1).locator("td").first.text_content() == "2"  # students added
    await _snapshot(page, "gegevens-proef")
    await _axe(page, "gegevens")
    await page.get_by_role("button", name="Nu echt importeren").click()
    await page.get_by_role("heading", name="Het bestand is geïmporteerd").wait_for()

    # Licenties: the license is coupled to group 5, and its check turns OK.
    await _visit(page, hub, "Licenties")
    card = page.locator("article.licentie")
    await card.locator("summary").click()
    await card.get_by_label("Groep 5a").check()
    await card.get_by_role("button", name="Koppelen").click()
    await page.get_by_role("button", name="Groep 5a ontkoppelen van Rekenrijk groep 5").wait_for()
    assert "5 van 30 plaatsen in gebruik" in (await page.locator("article.licentie").text_content() or "")
    await _snapshot(page, "licenties")
    await _axe(page, "licenties")
    await _visit(page, hub, "Overzicht")
    assert await _check_status(page, "LICENSES_COUPLED") == "ok"
    assert await _check_status(page, "CONSENT_REQUESTS") == "ok"

    # Medewerkers: activation mails go out (the check turns from PROBLEM to WARNING until they activate),
    # and a substitute takes group 4 until a date.
    await _visit(page, hub, "Medewerkers")
    await page.get_by_role("button", name="Activatiemail aan iedereen die nog niet geactiveerd is").click()
    await page.get_by_text("2 activatiemail(s) verstuurd").wait_for()
    await page.get_by_label("Medewerker", exact=True).select_option(label="Ahmed Bakker")
    await page.get_by_label("Rol", exact=True).select_option(label="Invalkracht")
    await (
        page.get_by_role("group", name="Groepen (bijvoorbeeld voor een invalkracht)")
        .get_by_label("Groep 4a")
        .check()
    )
    await page.get_by_label("Tot en met (verplicht voor een invalkracht)").fill("2026-12-18")
    await page.get_by_role("button", name="Rol geven").click()
    await page.get_by_text("De rol Invalkracht is gegeven.").wait_for()
    row = page.locator("tr", has_text="Ahmed Bakker")
    assert "Invalkracht" in (await row.text_content() or "")
    assert "Groep 4a" in (await row.text_content() or "")
    await _visit(page, hub, "Overzicht")
    assert await _check_status(page, "TEACHERS_ACTIVATED") == "warning"

    for name, file in (
        ("Groepen en leerlingen", "groepen"),
        ("Medewerkers", "medewerkers"),
        ("Snelkoppelingen", "snelkoppelingen"),
        ("Inzage", "inzage"),
    ):
        await _visit(page, hub, name)
        await _snapshot(page, file)
        await _axe(page, name)
    assert "Uitgeverij <b>Rekenrijk</b>" in (await page.locator("#inhoud").text_content() or "")

    # A tablet's width: the same overview, laid out in one column.
    await page.set_viewport_size({"width": 768, "height": 1024})
    await _visit(page, hub, "Overzicht")
    await _snapshot(page, "overzicht-tablet")
    assert errors == []
    await context.close()


async def test_a_board_coordinator_sees_every_schools_check_on_one_page(
    hub: Hub, browser: Browser, engine: AsyncEngine, settings: Settings
) -> None:
    at = settings.model_copy(update={"now_override": NOW})
    await registry_commands.add_location(at, SECOND_CODE, "De Linde", "99988")
    await admin.import_file(at, lambda: roster(code=SECOND_CODE), dry_run=False, confirm=True)
    async with engine.begin() as connection:
        board_id = await connection.scalar(select(BOARDS.c.id).where(BOARDS.c.number == "99988"))
        account = await connection.execute(
            insert(STAFF_ACCOUNTS)
            .values(email=BOARD_EMAIL, password_hash=hash_secret(PASSWORD), created_by="test")
            .returning(STAFF_ACCOUNTS.c.id)
        )
        await connection.execute(
            insert(BOARD_COORDINATORS).values(
                account_id=account.scalar_one(), board_id=board_id, created_at=NOW, created_by="test"
            )
        )
    context = await browser.new_context(viewport={"width": 1024, "height": 768}, locale="nl-NL")
    page = await context.new_page()
    await page.goto(f"{hub.base_url}/beheer")
    await page.get_by_label("E-mailadres").fill(BOARD_EMAIL)
    await page.locator("#wachtwoord").fill(PASSWORD)
    await page.locator("#wachtwoord").press("Enter")
    await page.wait_for_load_state()
    assert page.url == f"{hub.base_url}/beheer", await page.locator("main").text_content()
    await _visit(page, hub, "Alle scholen")
    rows = page.locator("#inhoud tbody tr")
    assert await rows.count() == 2
    regenboog = page.locator("#inhoud tbody tr", has_text="De Regenboog (99DB00)")
    assert "Koppeling met de leerlingadministratie (LAS)" in (await regenboog.text_content() or "")
    linde = page.locator("#inhoud tbody tr", has_text="De Linde (99DB01)")
    assert "Er is een actieve ICT-coördinator" in (await linde.text_content() or "")
    await _snapshot(page, "alle-scholen")
    await _axe(page, "alle scholen")

    await linde.get_by_role("link").click()
    await page.wait_for_selector("ul.startcheck")
    assert await page.locator("#school-keuze").input_value() == SECOND_CODE
    assert await _check_status(page, "ACTIVE_COORDINATOR") == "problem"
    await context.close()
