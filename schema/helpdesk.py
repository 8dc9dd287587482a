"""The helpdesk's part of the graph: announcements everyone reads (without a token too), and the
operator's writes. Mixed into the root `Query` and `Mutation`."""

from __future__ import annotations

import datetime as dt
import enum
import html
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import helpdesk
from schema.classification import public, resolves_public
from schema.context import Info
from schema.schools import Board

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasources.access.announcements import AnnouncementRecord


@strawberry.enum(description="How much an announcement matters to users.")
class AnnouncementSeverity(enum.Enum):
    """An announcement's severity."""

    INFO = "INFO"
    WARNING = "WARNING"
    OUTAGE = "OUTAGE"


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
            severity=AnnouncementSeverity(record.severity),
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
            severity=severity.value,
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
