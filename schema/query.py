"""The root `Query`: what a viewer can start reading from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry

from errors import BadUserInput, NotFound
from resolvers import changes, consent, nodes, partners, schools
from schema.assertion_keys import AssertionKeysQuery
from schema.changes import ChangeConnection, feed_connection
from schema.classification import public, resolves_public
from schema.consent import ConsentReceipt
from schema.context import After, First, Info
from schema.enums import ViewerKindEnum
from schema.groups import Group
from schema.helpdesk import HelpdeskQueries
from schema.licenses import License, Partner, Product
from schema.people import StaffMember, Student
from schema.relay import Connection, Node, connection, from_global_id
from schema.schools import Board, School
from schema.self_check import SelfCheckQueries

_CONVERTERS: dict[str, Callable[[Any], Node]] = {
    "Board": Board.from_record,
    "School": School.from_record,
    "Group": Group.from_record,
    "Student": Student.from_record,
    "StaffMember": StaffMember.from_record,
    "Partner": Partner.from_record,
    "Product": Product.from_record,
    "License": License.from_record,
}
assert set(_CONVERTERS) == set(nodes.NODE_TYPES)


@strawberry.type(description="Who is asking, as the hub authenticated them.")
class Viewer:
    """The authenticated subject of this request."""

    kind: ViewerKindEnum = public("The kind of subject: operator, partner, LAS client, staff or student.")
    subject: str = public("The token's subject, such as operator:helpdesk or partner:<client id>.")
    scopes: list[str] = public("The scopes the token grants.")


@strawberry.type(description="The entry points of the Leerpoort graph.")
class Query(HelpdeskQueries, SelfCheckQueries, AssertionKeysQuery):
    """Root reads; every one is limited to what the viewer may see."""

    @resolves_public(
        "An object by its global id. An id this API did not issue is a BAD_USER_INPUT error; an id of an"
        " object that does not exist or that the viewer may not see is a NOT_FOUND error (the two are"
        " indistinguishable), and `node` is null."
    )
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")]
    ) -> Node | None:
        decoded = from_global_id(id)
        if decoded is None or decoded[0] not in _CONVERTERS:
            raise BadUserInput("the id is not a global id this API issued")
        type_name, shown_id = decoded
        record = await nodes.node(info.context, type_name, shown_id)
        if record is None:
            raise NotFound(f"no {type_name} with this id is visible to you")
        return _CONVERTERS[type_name](record)

    @resolves_public("Who is asking.")
    def viewer(self, info: Info) -> Viewer:
        viewer = info.context.viewer
        return Viewer(
            kind=ViewerKindEnum(viewer.kind.value), subject=viewer.subject, scopes=sorted(viewer.scopes)
        )

    @resolves_public("The schools the viewer may see, in a stable order.")
    async def schools(self, info: Info, first: First = None, after: After = None) -> Connection[School]:
        return connection(info, await schools.schools_page(info.context, first, after), School.from_record)

    @resolves_public(
        "One school by its code (BRIN plus location code, such as 16AH00); null when not visible."
    )
    async def school(
        self, info: Info, code: Annotated[str, strawberry.argument(description="BRIN plus location code.")]
    ) -> School | None:
        record = await schools.school_by_code(info.context, code)
        return None if record is None else School.from_record(record)

    @resolves_public("All boards (the hub's operator only).")
    async def boards(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        dpa_signed: Annotated[
            bool | None,
            strawberry.argument(
                description="Only boards that signed the data processing agreement (true) or that did not"
                " (false, the helpdesk's list to chase); every board when left out."
            ),
        ] = None,
    ) -> Connection[Board]:
        page = await schools.boards_page(info.context, first, after, dpa_signed=dpa_signed)
        return connection(info, page, Board.from_record)

    @resolves_public(
        "Your change feed (partners; also coordinators and the operator): the events you may see, in order,"
        " after a cursor. Start without `after`; keep the last `endCursor`. A cursor older than the feed"
        " keeps events is refused: resync with a full query."
    )
    async def changes(self, info: Info, after: After = None, first: First = None) -> ChangeConnection:
        return await feed_connection(info, await changes.feed(info.context, after, first), after)

    @resolves_public(
        "Your own consent receipts at every school, oldest first (partners only): what each school granted"
        " you, and when and by whom each receipt was revoked or superseded. Revoked receipts stay here"
        " after you lost the school, whose `school` is then null (`schoolCode` still names it)."
    )
    async def consent_history(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ConsentReceipt]:
        return connection(info, await consent.history(info.context, first, after), ConsentReceipt.from_record)

    @resolves_public("All partners (the hub's operator only).")
    async def partners(self, info: Info, first: First = None, after: After = None) -> Connection[Partner]:
        return connection(info, await partners.partners_page(info.context, first, after), Partner.from_record)
