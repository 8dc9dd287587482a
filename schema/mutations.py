"""The root `Mutation`: registering partners, signing in, and the consent lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from datasources.store.pagination import FEED, encode_cursor
from errors import BadUserInput
from resolvers import accounts, changes, consent, imports
from schema.changes import DeletionAcknowledgement
from schema.classification import public, resolves_public
from schema.consent import ConsentReceipt, ConsentRequest
from schema.context import Info
from schema.enums import DataCategory, PartnerKind
from schema.helpdesk import BoardCoordinatorMutations, HelpdeskMutations, SchoolAccountMutations
from schema.imports import ImportReport
from schema.licenses import Partner
from schema.relay import from_global_id
from schema.schools import Board, School
from schema.staff import StaffMutations


@strawberry.type(description="A new partner's client credentials: the secret is shown only this once.")
class PartnerCredentials:
    """Credentials for the client-credentials grant at `POST /oauth/token`."""

    partner: Partner = public("The registered partner.")
    client_id: str = public("The OAuth client id.")
    client_secret: str = public("The OAuth client secret; store it now, the hub keeps only a hash.")


@strawberry.type(description="A staff (or student) token after a successful sign-in.")
class SignInResult:
    """A bearer token for the staff member (or the student)."""

    token: str = public("The bearer token (an ES256 JWT) to send as `Authorization: Bearer …`.")
    expires_at: dt.datetime = public("When the token expires (8 hours after sign-in).")


def _partner_id(global_id: str) -> str:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != "Partner":
        raise BadUserInput("`partnerId` must be a Partner id this API returned")
    return decoded[1]


_Categories = Annotated[list[DataCategory], strawberry.argument(description="Data categories.")]
_SchoolCode = Annotated[str, strawberry.argument(description="BRIN plus location code, such as 16AH00.")]
_PartnerId = Annotated[strawberry.ID, strawberry.argument(description="The partner's id, as `Partner.id`.")]


@strawberry.type(description="Changes to the hub; each names who may make it.")
class Mutation(StaffMutations, HelpdeskMutations, BoardCoordinatorMutations, SchoolAccountMutations):
    """Root writes."""

    @resolves_public(
        "Register a partner (operator). Returns its client credentials; the secret is shown once."
    )
    async def create_partner(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="The partner's name as schools will see it.")],
        kind: Annotated[PartnerKind, strawberry.argument(description="What kind of partner it is.")],
        declared_categories: _Categories,
        eck_chain: Annotated[
            bool | None,
            strawberry.argument(
                description="Whether the partner is part of the ECK-iD chain (sees `eckId`)."
            ),
        ] = False,
    ) -> PartnerCredentials:
        partner, credentials = await accounts.create(
            # The name, which equals the value: strawberry.enum_value hides the value's type from mypy.
            info.context,
            name,
            kind.name,
            declared_categories,
            bool(eck_chain),
        )
        return PartnerCredentials(
            partner=Partner.from_record(partner),
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        )

    @resolves_public("Record that a board's director signed the data processing agreement (operator).")
    async def record_dpa_signature(
        self,
        info: Info,
        board_number: Annotated[str, strawberry.argument(description="DUO's board number, such as 41851.")],
        signed_by: Annotated[str, strawberry.argument(description="The name of the director who signed.")],
        chamber_of_commerce_number: Annotated[
            str, strawberry.argument(description="The board's Chamber of Commerce (KvK) number.")
        ],
        version: Annotated[str, strawberry.argument(description="The version of the agreement signed.")],
    ) -> Board:
        board = await consent.record_dpa(
            info.context, board_number, signed_by, chamber_of_commerce_number, version
        )
        return Board.from_record(board)

    @resolves_public(
        "Record that a board's data processing agreement was withdrawn (operator): its schools disclose"
        " nothing from now on, and partners with consent there get LEFT_SCOPE in their feed. Consents"
        " stay, and take effect again when the board signs anew (`recordDpaSignature`)."
    )
    async def withdraw_dpa(
        self,
        info: Info,
        board_number: Annotated[str, strawberry.argument(description="DUO's board number, such as 41851.")],
    ) -> Board:
        return Board.from_record(await consent.withdraw_dpa(info.context, board_number))

    @resolves_public("Sign in with e-mail address and password (staff; needs no token).")
    async def sign_in(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="The staff member's e-mail address.")],
        password: Annotated[str, strawberry.argument(description="The staff member's password.")],
    ) -> SignInResult:
        context = info.context
        token, expires_at = await accounts.sign_in(
            context.engine, context.keys, context.settings, email, password, address=context.client_address
        )
        return SignInResult(token=token, expires_at=expires_at)

    @resolves_public(
        "Grant a partner exactly these categories at your school (coordinator): a shorter list than before"
        " narrows the consent. SCHOOL_BASIC is always included. Returns the new receipt."
    )
    async def grant_consent(
        self, info: Info, school_code: _SchoolCode, partner_id: _PartnerId, categories: _Categories
    ) -> ConsentReceipt:
        receipt = await consent.grant(info.context, school_code, _partner_id(partner_id), categories)
        return ConsentReceipt.from_record(receipt)

    @resolves_public("Revoke a partner's consent at your school (coordinator); it reads nothing more of it.")
    async def revoke_consent(
        self, info: Info, school_code: _SchoolCode, partner_id: _PartnerId
    ) -> ConsentReceipt:
        receipt = await consent.revoke(info.context, school_code, _partner_id(partner_id))
        return ConsentReceipt.from_record(receipt)

    @resolves_public(
        "Decline a partner's pending consent request at your school (coordinator): nothing is granted,"
        " the request leaves the list (status DECLINED), and the partner may ask again. A request that is"
        " no longer pending is a CONFLICT; another school's request is NOT_FOUND."
    )
    async def decline_consent_request(
        self,
        info: Info,
        request_id: Annotated[
            strawberry.ID, strawberry.argument(description="The request's id, as `ConsentRequest.id`.")
        ],
    ) -> ConsentRequest:
        decoded = from_global_id(request_id)
        if decoded is None or decoded[0] != "ConsentRequest":
            raise BadUserInput("`requestId` must be a ConsentRequest id this API returned")
        return ConsentRequest.from_record(await consent.decline(info.context, decoded[1]))

    @resolves_public(
        "Ask a school for consent to categories you declared (partner); its coordinator decides."
    )
    async def request_consent(
        self,
        info: Info,
        school_code: _SchoolCode,
        categories: _Categories,
        purpose: Annotated[
            str, strawberry.argument(description="Why you need the data, as the coordinator will read it.")
        ],
    ) -> ConsentRequest:
        return ConsentRequest.from_record(
            await consent.request(info.context, school_code, categories, purpose)
        )

    @resolves_public(
        "Upload a school's EDEXML file, or a ZIP of the CSV template (reference/csv-template), by hand"
        " (coordinator): the file is the whole truth for its school and school year. A multipart request"
        " (GraphQL multipart request spec) that must carry an `Apollo-Require-Preflight` or"
        " `X-Requested-With` header. An import that would remove many students"
        " comes back held: send it again with confirm."
    )
    async def import_edex(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description="The EDEXML file or the CSV template ZIP.")],
        dry_run: Annotated[
            bool | None,
            strawberry.argument(description="Only report what the import would do; change nothing."),
        ] = False,
        confirm: Annotated[
            bool | None, strawberry.argument(description="Apply an import that came back held.")
        ] = False,
    ) -> ImportReport:
        if not isinstance(file, bytes):
            raise BadUserInput("`file` must be an uploaded file (a multipart request)")
        report = await imports.upload(info.context, file, dry_run=bool(dry_run), confirm=bool(confirm))
        return ImportReport.from_record(report)

    @resolves_public(
        "Suspend or resume your school's automatic LAS coupling (coordinator), e.g. during a merger."
    )
    async def set_las_coupling(
        self,
        info: Info,
        school_code: _SchoolCode,
        suspended: Annotated[bool, strawberry.argument(description="True to suspend, false to resume.")],
    ) -> School:
        return School.from_record(await imports.set_coupling(info.context, school_code, suspended))

    @resolves_public(
        "Confirm that you deleted everything that left your scope at a school (partner); the school's"
        " coordinator sees the confirmation."
    )
    async def acknowledge_deletion(self, info: Info, school_code: _SchoolCode) -> DeletionAcknowledgement:
        school, through = await changes.acknowledge(info.context, school_code)
        return DeletionAcknowledgement(
            school=None if school is None else School.from_record(school),
            through_cursor=encode_cursor(info.context.scope, through, FEED),
            acknowledged_at=info.context.now,
        )
