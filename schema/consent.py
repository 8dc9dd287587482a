"""Consent: receipts of grants, partners' requests, and the audit of what left a school."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from datasources.store.records import ConsentRecord, ConsentRequestRecord, DisclosureRecord
from resolvers import partners
from schema.classification import public, resolves_public
from schema.context import Info
from schema.enums import DataCategory
from schema.licenses import Partner, school_of
from schema.relay import to_global_id

if TYPE_CHECKING:
    from schema.schools import School

_School = Annotated["School", strawberry.lazy("schema.schools")]


async def _partner(info: Info, partner_id: int) -> Partner | None:
    record = await partners.partner_by_id(info.context, partner_id)
    return None if record is None else Partner.from_record(record)


@strawberry.type(
    description="A receipt of a school's consent to a partner: what was granted, by whom and when."
)
class ConsentReceipt:
    """A consent receipt; the newest one that is not revoked is in force."""

    record: strawberry.Private[ConsentRecord]
    id: strawberry.ID = public("The receipt's id.")
    categories: list[DataCategory] = public("The data categories granted.")
    granted_by: str = public(
        "Who granted the consent on the school's behalf: the role and the school's name, such as"
        " 'ICT-coördinator, De Regenboog' (never a person or an account)."
    )
    granted_at: dt.datetime = public("When the consent was granted.")
    revoked_at: dt.datetime | None = public(
        "When the consent was revoked or superseded; null while in force."
    )
    revoked_by: str | None = public(
        "Who revoked the consent on the school's behalf, or granted the receipt that superseded it; null"
        " while in force."
    )
    policy_version: str = public("The version of the hub's consent policy the grant was made under.")
    school_code: str = public(
        "The code of the school that granted it (BRIN plus location code), also once you no longer see"
        " the school."
    )

    @classmethod
    def from_record(cls, record: ConsentRecord) -> ConsentReceipt:
        """The GraphQL object of a consent record."""
        return cls(
            record=record,
            id=to_global_id("ConsentReceipt", record.public_id),
            categories=[DataCategory[name] for name in record.categories],
            granted_by=record.granted_by,
            granted_at=record.granted_at,
            revoked_at=record.revoked_at,
            revoked_by=record.revoked_by,
            policy_version=record.policy_version,
            school_code=record.school_code,
        )

    @resolves_public("The school that granted the consent; null when you no longer see it.")
    async def school(self, info: Info) -> _School | None:
        return await school_of(info, self.record.school_id)

    @resolves_public("The partner the consent was granted to.")
    async def partner(self, info: Info) -> Partner | None:
        return await _partner(info, self.record.partner_id)


@strawberry.type(description="A partner's request for a school's consent, waiting for the coordinator.")
class ConsentRequest:
    """A pending consent request."""

    record: strawberry.Private[ConsentRequestRecord]
    id: strawberry.ID = public("The request's id.")
    categories: list[DataCategory] = public("The data categories the partner asks for.")
    purpose: str = public("What the partner says it needs the data for.")
    requested_at: dt.datetime = public("When the partner asked.")
    status: str = public(
        "PENDING until granted (GRANTED), declined by the school (DECLINED) or replaced by a newer request"
        " (SUPERSEDED)."
    )

    @classmethod
    def from_record(cls, record: ConsentRequestRecord) -> ConsentRequest:
        """The GraphQL object of a consent request record."""
        return cls(
            record=record,
            id=to_global_id("ConsentRequest", record.public_id),
            categories=[DataCategory[name] for name in record.categories],
            purpose=record.purpose,
            requested_at=record.requested_at,
            status=record.status,
        )

    @resolves_public("The school asked.")
    async def school(self, info: Info) -> _School | None:
        return await school_of(info, self.record.school_id)

    @resolves_public("The partner that asks; pass its id to grantConsent.")
    async def partner(self, info: Info) -> Partner | None:
        return await _partner(info, self.record.partner_id)


@strawberry.type(description="One entry of a school's disclosure audit: what a partner request read.")
class Disclosure:
    """A disclosure to a partner."""

    record: strawberry.Private[DisclosureRecord]
    categories: list[DataCategory] = public("The categories the partner could read at the school then.")
    operation_name: str | None = public("The GraphQL operation name the partner sent, if any.")
    records: int = public("How many records of the school the request returned.")
    at: dt.datetime = public("When.")

    @classmethod
    def from_record(cls, record: DisclosureRecord) -> Disclosure:
        """The GraphQL object of a disclosure record."""
        return cls(
            record=record,
            categories=[DataCategory[name] for name in record.categories if name in DataCategory.__members__],
            operation_name=record.operation_name,
            records=record.records,
            at=record.at,
        )

    @resolves_public("The partner that read.")
    async def partner(self, info: Info) -> Partner | None:
        return await _partner(info, self.record.partner_id)
