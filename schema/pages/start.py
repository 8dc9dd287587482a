"""The start page (`/`) after sign-in: the self-check with the product tiles, and the coordinator's
download of the school's sign-in shortcuts.

- `GET /`: what `me` shows, as a page (Dutch, no JavaScript, fit for a phone and a school Chromebook): the
  school, the person's groups (a teacher's with their students), a tile per product that opens it
  (`/launch/{productId}` on the hub's issuer, the same address as `me.products.launchUrl`), and a short
  "startcheck" that answers the coordinator's start-of-year questions. It reads through the same resolvers
  as `me` (`resolvers.self_check`), so the page and the graph cannot disagree. Not signed in: to `/login`.
  A coordinator also finds the download links of their schools' sign-in shortcuts there.
- `GET /snelkoppelingen/{schoolCode}/{fileName}`: one of `School.shortcuts` as a download, for the school's
  coordinator (the operator has no web session); anyone else gets the same 404 as for a file that does
  not exist, so the page tells nothing of other schools.

Partner text (product and partner names) reaches the page only through Jinja2's autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from starlette.responses import Response
from starlette.routing import Route

from datasources.graph.own_view import OwnGroup, OwnStudent
from errors import PublicError, Unauthenticated
from resolvers import schools, shortcuts
from resolvers.launch_rules import LaunchableProduct, launch_url
from resolvers.requests import open_request
from resolvers.self_check import self_check
from resolvers.web_sessions import session_viewer
from schema.addresses import client_address
from schema.pages.signin import login_redirect
from schema.pages.templates import PAGE_HEADERS, render

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import HTTPConnection, Request

    from datasources.store.records import SchoolRecord
    from resolvers.context import Context
    from resolvers.requests import Services

SHORTCUTS_PATH: Final = "/snelkoppelingen/{code}/{file_name}"
_NO_SUCH_FILE: Final = (
    "Dit bestand bestaat niet, of alleen de ICT-coördinator van de school kan het downloaden."
)


@dataclass(frozen=True, slots=True)
class GroupOnPage:
    """A group as the start page lists it."""

    group: OwnGroup
    school_code: str
    students: list[OwnStudent]


@dataclass(frozen=True, slots=True)
class TileOnPage:
    """A product tile: its name (partner text, escaped) and the address that opens it."""

    product: LaunchableProduct
    url: str


@dataclass(frozen=True, slots=True)
class ShortcutsOnPage:
    """A school the signed-in coordinator manages, with its shortcut files to download."""

    school_name: str
    school_code: str
    files: list[shortcuts.ShortcutFile]

    def href(self, file: shortcuts.ShortcutFile) -> str:
        """The download address of one of the files."""
        return SHORTCUTS_PATH.format(code=self.school_code, file_name=file.file_name)


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One question of the startcheck, its answer, and whether all is well."""

    question: str
    answer: str
    good: bool


def _groups_nl(count: int) -> str:
    return f"{count} groep" if count == 1 else f"{count} groepen"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _startcheck(
    *, student: bool, school_name: str | None, groups: list[GroupOnPage], tiles: list[TileOnPage]
) -> list[CheckLine]:
    """The startcheck's questions and answers (in Dutch), from what the page shows."""
    ask = "Vraag je juf of meester om hulp." if student else "Vraag je ICT-coördinator om hulp."
    lines = [CheckLine("Kan ik inloggen?", "Ja, je bent ingelogd.", good=True)]
    if school_name:
        lines.append(CheckLine("Zie ik mijn school?", f"Ja: {school_name}.", good=True))
    else:
        missing = f"Nee, je bent (nog) niet aan een school gekoppeld. {ask}"
        lines.append(CheckLine("Zie ik mijn school?", missing, good=False))
    if groups:
        seen = f"Ja, {_plural(len(groups), 'groep', 'groepen')}. Staat er een groep niet bij? {ask}"
        lines.append(CheckLine("Zie ik mijn groepen?", seen, good=True))
    else:
        lines.append(
            CheckLine("Zie ik mijn groepen?", f"Nee, je bent aan geen groep gekoppeld. {ask}", good=False)
        )
    if not student:
        count = len({pupil.id for group in groups for pupil in group.students})
        seen = f"Je ziet {_plural(count, 'leerling', 'leerlingen')}. Kijk hieronder of iedereen erbij staat."
        lines.append(CheckLine("Zie ik al mijn leerlingen?", seen, good=count > 0))
    if tiles:
        lines.append(CheckLine("Zie ik mijn producten?", f"Ja, {len(tiles)}. Mist er een? {ask}", good=True))
        opening = "Klik op een tegel hieronder. Lukt het niet, dan zie je waarom."
        lines.append(CheckLine("Kan ik ze openen?", opening, good=True))
    else:
        none = f"Nee, er is nog geen product aan je groep gekoppeld. {ask}"
        lines.append(CheckLine("Zie ik mijn producten?", none, good=False))
    return lines


async def _managed_shortcuts(ctx: Context) -> list[ShortcutsOnPage]:
    """The shortcut files of the schools the viewer coordinates (none for anyone else), by school code."""
    found: list[SchoolRecord | None] = await ctx.loaders.schools.load_many(
        sorted(ctx.scope.managed_school_ids)
    )
    managed = sorted((school for school in found if school is not None), key=lambda school: school.code)
    return [
        ShortcutsOnPage(school.name, school.code, files)
        for school in managed
        if (files := await shortcuts.shortcuts(ctx, school))
    ]


class _StartPages:
    """The start page and the shortcut downloads, on the process's services."""

    def __init__(self, services: Callable[[HTTPConnection], Services]) -> None:
        self.services = services

    async def start(self, request: Request) -> Response:
        """`GET /`: the self-check of the signed-in person, or the way to `/login`."""
        the_services = self.services(request)
        session = await session_viewer(the_services, request)
        if session is None:
            return login_redirect(request)
        # Where the person is now decides SCHOOL or HOME, as on /graphql and /launch (not sign-in's place).
        address = client_address(request, the_services.settings)
        try:
            async with open_request(the_services, session.viewer, client_address=address) as ctx:
                check = await self_check(ctx)
                if check is None:
                    return login_redirect(request)
                own_schools = await check.schools()
                codes = {school.id: school.code for school in own_schools}
                groups = [
                    GroupOnPage(group, codes[group.school_id], await check.students_of(group))
                    for group in await check.groups()
                ]
                tiles = [
                    TileOnPage(product, launch_url(ctx.settings, product.product_id))
                    for product in await check.products()
                ]
                roles = await check.roles()
                managed = await _managed_shortcuts(ctx)
        except Unauthenticated:
            return login_redirect(request)
        school = own_schools[0] if own_schools else None
        return render(
            request,
            "start.html",
            csrf_token=session.csrf_token,
            student=check.is_student,
            school=school,
            schools=own_schools,
            groups=groups,
            tiles=tiles,
            roles=roles,
            managed=managed,
            startcheck=_startcheck(
                student=check.is_student,
                school_name=school.name if school else None,
                groups=groups,
                tiles=tiles,
            ),
        )

    async def shortcut(self, request: Request) -> Response:
        """`GET /snelkoppelingen/{code}/{fileName}`: a shortcut file of the coordinator's school."""
        the_services = self.services(request)
        session = await session_viewer(the_services, request)
        if session is None:
            return login_redirect(request)
        code, file_name = request.path_params["code"], request.path_params["file_name"]
        try:
            address = client_address(request, the_services.settings)
            async with open_request(the_services, session.viewer, client_address=address) as ctx:
                school = await schools.school_by_code(ctx, code)
                files = [] if school is None else await shortcuts.shortcuts(ctx, school)
        except PublicError:
            files = []  # a malformed code, or a session whose account went: no file, as for any other
        found = next((file for file in files if file.file_name == file_name), None)
        if found is None:
            return render(request, "message.html", 404, title="Snelkoppeling", message=_NO_SUCH_FILE)
        return Response(
            found.content,
            media_type=found.media_type,
            headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{found.file_name}"'},
        )


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The start page's routes; `services` finds the process's services from a request."""
    pages = _StartPages(services)
    return [
        Route("/", pages.start, methods=["GET"]),
        Route(SHORTCUTS_PATH, pages.shortcut, methods=["GET"]),
    ]
