"""Boards (besturen) and school locations (vestigingen)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from datasources.store.records import BoardRecord, SchoolRecord
from resolvers import (
    changes,
    consent,
    home_logins,
    readiness,
    school_networks,
    schools,
    shortcuts,
    web_sessions,
)
from schema.classification import public, resolves_public, resolves_rows, rows
from schema.context import After, First, Info
from schema.entities import lookup
from schema.enums import DataCategory
from schema.readiness import ReadinessCheck
from schema.relay import Connection, Node, connection, to_global_id
from schema.shortcuts import ShortcutFile

if TYPE_CHECKING:
    from schema.changes import DeletionState
    from schema.consent import ConsentReceipt, ConsentRequest, Disclosure
    from schema.groups import Group
    from schema.licenses import License
    from schema.people import StaffMember, Student
    from schema.school_networks import NetworkToken, SchoolNetwork

_Group = Annotated["Group", strawberry.lazy("schema.groups")]
_Student = Annotated["Student", strawberry.lazy("schema.people")]
_StaffMember = Annotated["StaffMember", strawberry.lazy("schema.people")]
_License = Annotated["License", strawberry.lazy("schema.licenses")]
_ConsentReceipt = Annotated["ConsentReceipt", strawberry.lazy("schema.consent")]
_ConsentRequest = Annotated["ConsentRequest", strawberry.lazy("schema.consent")]
_Disclosure = Annotated["Disclosure", strawberry.lazy("schema.consent")]
_DeletionState = Annotated["DeletionState", strawberry.lazy("schema.changes")]
_SchoolNetwork = Annotated["SchoolNetwork", strawberry.lazy("schema.school_networks")]
_NetworkToken = Annotated["NetworkToken", strawberry.lazy("schema.school_networks")]

SCHOOL_BASIC = DataCategory.SCHOOL_BASIC


@strawberry.type(
    description="The data processing agreement (verwerkersovereenkomst) a board signed for its schools."
)
class DataProcessingAgreement:
    """A board's DPA state."""

    signed: bool = public("Whether the board's DPA is signed; unsigned boards disclose nothing to partners.")
    signed_at: dt.datetime | None = public("When the DPA was signed.")
    signed_by: str | None = public("The director who signed, as registered at the Chamber of Commerce (KvK).")
    chamber_of_commerce_number: str | None = public("The board's Chamber of Commerce (KvK) number.")
    version: str | None = public("The version of the agreement that was signed.")


@strawberry.type(description="A school year a school file was applied for, and when its latest file came.")
class ReceivedFile:
    """One entry of a school's import history."""

    school_year: str = public("The school year of the file, such as 2026-2027.")
    received_at: dt.datetime = public("When the latest file for that school year was applied.")


@strawberry.federation.type(
    keys=["id"], description="A school board (bestuur, bevoegd gezag), owner of schools."
)
class Board(Node):
    """A school board."""

    record: strawberry.Private[BoardRecord]
    number: str = public("DUO's 5-digit board number (bevoegd-gezagnummer).")
    name: str = public("The board's name; the board number until a name is known.")
    data_processing_agreement: DataProcessingAgreement = public("The board's data processing agreement.")

    @classmethod
    def from_record(cls, record: BoardRecord) -> Board:
        """The GraphQL object of a board record."""
        return cls(
            record=record,
            id=to_global_id("Board", record.public_id),
            number=record.number,
            name=record.name,
            data_processing_agreement=DataProcessingAgreement(
                signed=record.dpa_signed_at is not None,
                signed_at=record.dpa_signed_at,
                signed_by=record.dpa_signed_by,
                chamber_of_commerce_number=record.dpa_chamber_of_commerce_number,
                version=record.dpa_version,
            ),
        )

    @resolves_public("The board's schools that the viewer may see.")
    async def schools(self, info: Info, first: First = None, after: After = None) -> Connection[School]:
        page = await schools.schools_of_board(info.context, self.record, first, after)
        return connection(info, page, School.from_record)

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> Board | None:
        """Federation: a board by its global id, within the viewer's scope."""
        record = await lookup(info, "Board", representation.get("id"))
        return None if record is None else cls.from_record(record)


@strawberry.federation.type(
    keys=["id", "code"], description="A school location (vestiging): a BRIN plus a location code."
)
class School(Node):
    """A school location."""

    record: strawberry.Private[SchoolRecord]
    code: str = rows(SCHOOL_BASIC, "BRIN plus location code, such as 16AH00.")
    brin: str = rows(SCHOOL_BASIC, "The school's BRIN (two digits, two letters), such as 16AH.")
    location_code: str = rows(SCHOOL_BASIC, "The two-digit location code (vestigingsnummer), such as 00.")
    name: str = rows(SCHOOL_BASIC, "The official name of the location (from DUO, or as managed).")
    active: bool = rows(
        SCHOOL_BASIC, "False once the location has closed (opheffing) or merged into another."
    )

    @classmethod
    def from_record(cls, record: SchoolRecord) -> School:
        """The GraphQL object of a school record."""
        return cls(
            record=record,
            id=to_global_id("School", record.public_id),
            code=record.code,
            brin=record.brin,
            location_code=record.location_code,
            name=record.name,
            active=record.active,
        )

    @resolves_rows(SCHOOL_BASIC, "The board the school belongs to (its number is under SCHOOL_BASIC).")
    async def board(self, info: Info) -> Board | None:
        record = await schools.board_of(info.context, self.record)
        return None if record is None else Board.from_record(record)

    @resolves_rows(
        SCHOOL_BASIC, "The location this one merged into (fusie), when it did and that one is visible."
    )
    async def merged_into(self, info: Info) -> School | None:
        record = await schools.merged_into(info.context, self.record)
        return None if record is None else School.from_record(record)

    @resolves_public(
        "The data categories this viewer may read at this school: a field outside them is null (withheld),"
        " which tells it apart from a value that is empty."
    )
    def granted_categories(self, info: Info) -> list[DataCategory]:
        return sorted(info.context.scope.categories_for(self.record.id), key=lambda category: category.value)

    @resolves_rows(
        DataCategory.GROUP_BASIC, "The school's groups of a school year (the current one when omitted)."
    )
    async def groups(
        self,
        info: Info,
        school_year: Annotated[
            str | None,
            strawberry.argument(description="A school year such as 2026-2027; the current one if omitted."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[_Group]:
        from schema.groups import Group  # noqa: PLC0415 - schools and groups refer to each other

        page = await schools.groups_of_school(info.context, self.record, school_year, first, after)
        return connection(info, page, Group.from_record)

    @resolves_public(
        "A warning about the school year, for the school's coordinators and the operator only (null for"
        " others, and when all is well): set when the school administration system (LAS) has not sent a"
        " file for the school year that has begun, so the school still shows the last year's groups."
    )
    async def school_year_warning(self, info: Info) -> str | None:
        return await schools.school_year_warning(info.context, self.record)

    @resolves_public(
        "The start-of-year readiness check (startcheck), for the school's coordinators, its board"
        " coordinator and the operator only (an empty list for anyone else): next year's groups, students"
        " moved up, a teacher for every group, teachers' addresses and accounts, the location, an active"
        " coordinator, licenses coupled, consent requests waiting, the board's DPA and the LAS coupling."
        " Computed on the hub's date; each check has a stable code, a status and a Dutch message."
    )
    async def readiness(self, info: Info) -> list[ReadinessCheck]:
        checks = await readiness.readiness_of(info.context, self.record)
        return [ReadinessCheck.from_record(check) for check in checks]

    @resolves_public(
        "Whether the school's automatic LAS coupling is suspended (its coordinator's `setLasCoupling`, or a"
        " merger or split until the operator finishes it); the school's coordinators, its board coordinator"
        " and the operator only, null for anyone else."
    )
    async def las_coupling_suspended(self, info: Info) -> bool | None:
        return await schools.las_coupling_suspended(info.context, self.record)

    @resolves_public(
        "The school's import history as the hub keeps it: each school year a file (a LAS push or a hand"
        " upload) was applied for, newest first, with when its latest file arrived (the school's"
        " coordinators, its board coordinator and the operator only; empty for others)."
    )
    async def received_files(self, info: Info) -> list[ReceivedFile]:
        return [
            ReceivedFile(school_year=year, received_at=at)
            for year, at in await schools.received_files(info.context, self.record)
        ]

    @resolves_public(
        "The school's INSTELLING_REF: an opaque, unique reference that never changes (not at a school-year"
        " transition, not with a new BRIN), carried by the school's sign-in links and shortcuts. For the"
        " school's coordinators and the operator; null for everyone else (a partner receives it only in a"
        " sign-in's id_token)."
    )
    async def instelling_ref(self, info: Info) -> str | None:
        return await shortcuts.instelling_ref(info.context, self.record)

    @resolves_public(
        "The school's sign-in shortcuts, to download and hand out: for staff and for students, a Windows"
        " .url, an Apple web clip profile (.mobileconfig) and a managed-bookmarks JSON list for Chromebooks"
        " and Android. For the school's coordinators and the operator; empty for everyone else."
    )
    async def shortcuts(self, info: Info) -> list[ShortcutFile]:
        return [ShortcutFile.of(file) for file in await shortcuts.shortcuts(info.context, self.record)]

    @resolves_rows(DataCategory.STUDENT_BASIC, "The school's students (leerlingen).")
    async def students(self, info: Info, first: First = None, after: After = None) -> Connection[_Student]:
        from schema.people import Student  # noqa: PLC0415

        page = await schools.students_of_school(info.context, self.record, first, after)
        return connection(info, page, Student.from_record)

    @resolves_rows(DataCategory.STAFF_BASIC, "The school's staff members.")
    async def staff(self, info: Info, first: First = None, after: After = None) -> Connection[_StaffMember]:
        from schema.people import StaffMember  # noqa: PLC0415

        page = await schools.staff_of_school(info.context, self.record, first, after)
        return connection(info, page, StaffMember.from_record)

    @resolves_rows(
        DataCategory.LICENSE, "The school's licenses; a partner sees those of its own products only."
    )
    async def licenses(self, info: Info, first: First = None, after: After = None) -> Connection[_License]:
        from schema.licenses import License  # noqa: PLC0415

        page = await schools.licenses_of_school(info.context, self.record, first, after)
        return connection(info, page, License.from_record)

    @resolves_public("The consent receipts of this school, oldest first; a partner sees its own.")
    async def consents(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[_ConsentReceipt]:
        from schema.consent import ConsentReceipt  # noqa: PLC0415

        page = await schools.consents_of_school(info.context, self.record, first, after)
        return connection(info, page, ConsentReceipt.from_record)

    @resolves_public("Partners' pending consent requests (the school's coordinators and the operator only).")
    async def consent_requests(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[_ConsentRequest]:
        from schema.consent import ConsentRequest  # noqa: PLC0415

        page = await consent.requests_of_school(info.context, self.record, first, after)
        return connection(info, page, ConsentRequest.from_record)

    @resolves_public(
        "Per partner that lost (part of) its scope here: whether it confirmed deleting it"
        " (the school's coordinators and the operator only)."
    )
    async def deletion_confirmations(self, info: Info) -> list[_DeletionState]:
        from schema.changes import DeletionState  # noqa: PLC0415

        statuses = await changes.deletion_statuses(info.context, self.record)
        return [DeletionState.from_record(status) for status in statuses]

    @resolves_public(
        "What left this school to which partner (the school's coordinators and the operator only)."
    )
    async def disclosures(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[_Disclosure]:
        from schema.consent import Disclosure  # noqa: PLC0415

        page = await consent.disclosures_of_school(info.context, self.record, first, after)
        return connection(info, page, Disclosure.from_record)

    @resolves_public(
        "The address ranges that count as at school (a sign-in from anywhere else is at home); the"
        " school's coordinators and the operator only, null for everyone else."
    )
    async def networks(self, info: Info) -> list[_SchoolNetwork] | None:
        from schema.school_networks import SchoolNetwork  # noqa: PLC0415

        found = await school_networks.of_school(info.context, self.record)
        return None if found is None else [SchoolNetwork.from_record(network) for network in found]

    @resolves_public(
        "Whether the school's students may sign in at home (`setHomeLogin`); the school's coordinators and"
        " the operator only, null for everyone else."
    )
    async def home_login(self, info: Info) -> bool | None:
        return await home_logins.home_login_of(info.context, self.record.id)

    @resolves_public(
        "Whether the school's sessions are bound to the network address they started from"
        " (`setSessionBinding`); the school's coordinators and the operator only, null for everyone else."
    )
    async def session_binding(self, info: Info) -> bool | None:
        return await web_sessions.session_binding_of(info.context, self.record.id)

    @resolves_public(
        "The network tokens of the school's update command, live and revoked, newest first (never the"
        " tokens themselves); the school's coordinators only, null for everyone else."
    )
    async def network_tokens(self, info: Info) -> list[_NetworkToken] | None:
        from schema.school_networks import NetworkToken  # noqa: PLC0415

        found = await school_networks.tokens_of(info.context, self.record)
        return None if found is None else [NetworkToken.from_record(token) for token in found]

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> School | None:
        """Federation: a school by its global id or its code, within the viewer's scope."""
        code = representation.get("code")
        if isinstance(code, str) and "id" not in representation:
            record = await schools.school_by_code(info.context, code)
        else:
            record = await lookup(info, "School", representation.get("id"))
        return None if record is None else cls.from_record(record)
