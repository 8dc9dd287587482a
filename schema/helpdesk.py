"""The helpdesk's part of the graph: announcements everyone reads (without a token too), and the
operator's writes. Mixed into the root `Query` and `Mutation`."""

from __future__ import annotations

import datetime as dt
import enum
import html
from typing import TYPE_CHECKING, Annotated

import strawberry

from datasources.access.account_requests import SignedRequest
from datasources.access.announcements import AnnouncementRecord
from resolvers import helpdesk
from schema.classification import public, resolves_public
from schema.context import Info
from schema.schools import Board, School

if TYPE_CHECKING:
    from collections.abc import Sequence


@strawberry.enum(description="How much an announcement matters to users.")
class AnnouncementSeverity(enum.Enum):
    """An announcement's severity."""

    INFO = strawberry.enum_value("INFO", description="For information: news, planned changes.")
    WARNING = strawberry.enum_value(
        "WARNING", description="Something users should act on or plan for, such as planned maintenance."
    )
    OUTAGE = strawberry.enum_value("OUTAGE", description="A disruption now: part of the hub does not work.")


@strawberry.type(description="A message of the helpdesk to every user of the hub (maintenance, incidents).")
class Announcement:
    """An announcement while it is current."""

    title: str = public("The title.")
    body: str = public("The message, plain text.")
    severity: AnnouncementSeverity = public("How much it matters.")
    valid_from: dt.datetime = public("When it starts to show.")
    valid_until: dt.datetime | None = public("When it stops showing; null while the helpdesk keeps it up.")

    @classmethod
    def from_record(cls, record: AnnouncementRecord) -> Announcement:
        """The GraphQL object of an announcement record."""
        return cls(
            title=record.title,
            body=record.body,
            severity=AnnouncementSeverity[record.severity],
            valid_from=record.valid_from,
            valid_until=record.valid_until,
        )


@strawberry.type(description="The helpdesk's reads (mixed into Query).")
class HelpdeskQueries:
    """Reads of the helpdesk's messages."""

    @resolves_public(
        "The announcements current by the hub's clock, the most severe first; readable without a token."
    )
    async def announcements(self, info: Info) -> list[Announcement]:
        return [
            Announcement.from_record(record) for record in await helpdesk.current_announcements(info.context)
        ]

    @resolves_public(
        "A board by its DUO number, for a board-wide overview: the operator reads every board, a board"
        " coordinator (bovenschools) its own, with only the schools it manages; null for anyone else."
    )
    async def board(
        self,
        info: Info,
        number: Annotated[str, strawberry.argument(description="DUO's 5-digit board number.")],
    ) -> Board | None:
        record = await helpdesk.board_overview(info.context, number)
        return None if record is None else Board.from_record(record)


@strawberry.type(description="The helpdesk's writes (mixed into Mutation).")
class HelpdeskMutations:
    """Writes of the hub's operator."""

    @resolves_public("Post an announcement that every user reads while it is current (operator).")
    async def post_announcement(
        self,
        info: Info,
        *,
        title: Annotated[str, strawberry.argument(description="The title, at most 200 characters.")],
        body: Annotated[str, strawberry.argument(description="The message, plain text, at most 4,000.")],
        severity: Annotated[AnnouncementSeverity, strawberry.argument(description="How much it matters.")],
        valid_from: Annotated[
            dt.datetime | None, strawberry.argument(description="When it starts to show; now by default.")
        ] = None,
        valid_until: Annotated[
            dt.datetime | None,
            strawberry.argument(description="When it stops showing; it shows until further notice without."),
        ] = None,
    ) -> Announcement:
        record = await helpdesk.post_announcement(
            info.context,
            title=title,
            body=body,
            severity=severity.name,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return Announcement.from_record(record)


_SchoolCodes = Annotated[
    list[str] | None,
    strawberry.argument(
        description="The board's schools it manages (BRIN plus location code); all of them, also later"
        " ones, when left out."
    ),
]


@strawberry.type(description="The operator's writes on board coordinators (mixed into Mutation).")
class BoardCoordinatorMutations:
    """Making board coordinators."""

    @resolves_public(
        "Make the account of an e-mail address the board coordinator (bovenschools) of a board (operator):"
        " it manages all the board's schools, or the chosen ones. A new account has no password until its"
        " holder sets one. Given again, the choice of schools replaces the earlier one."
    )
    async def add_board_coordinator(
        self,
        info: Info,
        board_number: Annotated[str, strawberry.argument(description="DUO's 5-digit board number.")],
        email: Annotated[str, strawberry.argument(description="The board coordinator's e-mail address.")],
        school_codes: _SchoolCodes = None,
    ) -> Board:
        return Board.from_record(
            await helpdesk.add_board_coordinator(info.context, board_number, email, school_codes)
        )


@strawberry.input(description="A board's signed request to open a school account and its first coordinator.")
class AccountRequestInput:
    """The particulars of the signed request, as the helpdesk received it."""

    board_name: str = public("The board's name (bestuur) as the request gives it.")
    board_number: str = public("DUO's board number (bevoegd-gezagnummer) of the school.")
    school_name: str = public("The school's name as the request gives it.")
    brin: str = public("The school's BRIN, such as 16AH.")
    location_code: str = public("The location code (vestigingsnummer), such as 00.")
    director_name: str = public("The director (directeur) on whose behalf it was signed.")
    coordinator_name: str = public("The name of the school's first ICT coordinator.")
    coordinator_email: str = public("The coordinator's e-mail address (their sign-in).")
    document_sha256: str = public(
        "The SHA-256 of the signed document, 64 hexadecimal digits; the document stays with the helpdesk."
    )
    received_at: dt.datetime = public("When the signed document arrived.")


@strawberry.type(description="A recorded account request and the school account it opened.")
class AccountRequest:
    """The request as recorded, with the school whose account it opened."""

    id: strawberry.ID = public("The request's id.")
    school: School = public("The school whose account the request opened.")
    coordinator_email: str = public("The first coordinator's e-mail address.")
    director_name: str = public("The director on whose behalf the request was signed.")
    document_sha256: str = public("The SHA-256 of the signed document.")
    received_at: dt.datetime = public("When the signed document arrived.")


@strawberry.type(
    description="The operator's helpdesk writes on school accounts and locations (mixed into Mutation)."
)
class SchoolAccountMutations:
    """School accounts and managed locations."""

    @resolves_public(
        "Open a school account and its first ICT coordinator (operator), only with the board's signed"
        " request recorded. The location must be in the hub and belong to the named board; the"
        " coordinator's account has no password until its holder sets one."
    )
    async def create_school_account(
        self,
        info: Info,
        request: Annotated[AccountRequestInput, strawberry.argument(description="The signed request.")],
    ) -> AccountRequest:
        recorded = await helpdesk.create_school_account(
            info.context,
            SignedRequest(
                board_name=request.board_name,
                board_number=request.board_number,
                school_name=request.school_name,
                brin=request.brin,
                location_code=request.location_code,
                director_name=request.director_name,
                coordinator_name=request.coordinator_name,
                coordinator_email=request.coordinator_email,
                document_sha256=request.document_sha256,
                received_at=request.received_at,
            ),
        )
        school = await info.context.loaders.schools.get(recorded.school_id)
        assert school is not None  # the operator sees every school
        return AccountRequest(
            id=strawberry.ID(str(recorded.id)),
            school=School.from_record(school),
            coordinator_email=recorded.request.coordinator_email,
            director_name=recorded.request.director_name,
            document_sha256=recorded.request.document_sha256,
            received_at=recorded.request.received_at,
        )

    @resolves_public("Rename a managed location, one DUO does not list (operator).")
    async def rename_location(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="BRIN plus location code, such as 99ZX00.")],
        name: Annotated[str, strawberry.argument(description="The new name.")],
    ) -> School:
        return School.from_record(await helpdesk.rename_location(info.context, code, name))

    @resolves_public(
        "End a managed location, one DUO does not list (operator): it stays with its history but is no"
        " longer active, so partners read nothing more of it."
    )
    async def end_location(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="BRIN plus location code, such as 99ZX00.")],
    ) -> School:
        return School.from_record(await helpdesk.end_location(info.context, code))


def explorer_with_announcements(page: str, records: Sequence[AnnouncementRecord]) -> str:
    """The explorer's HTML page with the current announcements above it, every text escaped (an
    announcement is shown as text, never as markup)."""
    if not records:
        return page
    items = "".join(
        f'<li class="lp-{html.escape(record.severity.lower())}"><strong>{html.escape(record.title)}</strong>'
        f" {html.escape(record.body)}</li>"
        for record in records
    )
    banner = (
        '<aside id="leerpoort-announcements" role="status" style="font-family:sans-serif;'
        'padding:0.5em 1em;background:#fff3cd;border-bottom:1px solid #c9a227">'
        f'<ul style="margin:0;padding-left:1em">{items}</ul></aside>'
    )
    head, body_tag, rest = page.partition("<body>")
    return f"{head}{body_tag}{banner}{rest}" if body_tag else banner + page
