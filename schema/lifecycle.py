"""School lifecycle (operator): mergers (fusie), splits (splitsing), closures (opheffing) and board
transfers (overname), each reported as a `LifecycleReport`. Kept apart from the root `Mutation` of
`schema.mutations` and joined with it in `schema.assembly`."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from auth.categories import DataCategory
from errors import BadUserInput
from resolvers import lifecycle
from schema.classification import public, resolves_public
from schema.context import Info
from schema.relay import from_global_id, to_global_id

if TYPE_CHECKING:
    from datasources.lifecycle.report import LifecycleReport as ReportRecord


@strawberry.enum(description="A school lifecycle operation.")
class LifecycleOperation(enum.Enum):
    """What the operator did."""

    MERGE = strawberry.enum_value("MERGE", description="A merger (fusie): schools became one location.")
    SPLIT = strawberry.enum_value(
        "SPLIT", description="A split (splitsing): groups moved to another location."
    )
    CLOSE = strawberry.enum_value(
        "CLOSE", description="A closure (opheffing): the location stopped for good."
    )
    TRANSFER = strawberry.enum_value("TRANSFER", description="A board transfer (overname).")
    FINISH = strawberry.enum_value(
        "FINISH", description="The end of a merger or split: the automatic LAS coupling resumed."
    )
    PURGE = strawberry.enum_value(
        "PURGE", description="The deletion of a closed location's personal data after the retention period."
    )


@strawberry.enum(description="What became of a partner's consent at a school.")
class ConsentOutcome(enum.Enum):
    """A consent's fate in a lifecycle operation."""

    KEPT = strawberry.enum_value("KEPT", description="The consent stays as it was.")
    COPIED = strawberry.enum_value("COPIED", description="A copy was granted at this school (from a source).")
    ENDED = strawberry.enum_value("ENDED", description="The consent ended (its receipt is revoked).")


@strawberry.type(description="How many of one kind an operation moved, stopped or deleted.")
class LifecycleCount:
    """One count of a report."""

    kind: str = public(
        "What was counted: groups, students, staff, licenses, roles, links, couplings, schools,"
        " consentsKept, consentsCopied, consentsEnded, feedEvents, or deleted.<table>."
    )
    count: int = public("How many.")


@strawberry.type(description="A partner's consent at one school after a lifecycle operation.")
class LifecycleConsent:
    """What became of one consent."""

    partner_id: strawberry.ID = public("The partner, as `Partner.id`.")
    partner_name: str = public("The partner's name.")
    school_code: str = public("The school of the consent (BRIN plus location code).")
    outcome: ConsentOutcome = public("Kept, copied here, or ended.")
    categories: list[DataCategory] = public("The consent's categories (of the copy, for a copy).")


@strawberry.type(
    description=(
        "What a lifecycle operation did, or (in a dry run) would do: exactly what moves, stops or ends."
    )
)
class LifecycleReport:
    """The report of a merger, split, closure, board transfer or its end."""

    operation: LifecycleOperation = public("The operation.")
    dry_run: bool = public("True when nothing was changed: the report says what the operation would do.")
    school_codes: list[str] = public("Every school involved, sources first.")
    target_code: str | None = public("The school the people moved to (or the school itself).")
    counts: list[LifecycleCount] = public("Counts per kind, by kind.")
    consents: list[LifecycleConsent] = public("Per partner and school: the consents kept, copied or ended.")

    @classmethod
    def from_report(cls, info: Info, record: ReportRecord) -> LifecycleReport:
        """The GraphQL object of a report; partner ids as the viewer (the operator) sees them."""
        identifiers = info.context.scope.identifiers
        return cls(
            operation=LifecycleOperation[record.operation],
            dry_run=record.dry_run,
            school_codes=list(record.school_codes),
            target_code=record.target_code,
            counts=[LifecycleCount(kind=kind, count=count) for kind, count in sorted(record.counts.items())],
            consents=[
                LifecycleConsent(
                    partner_id=to_global_id("Partner", identifiers.show("Partner", consent.partner_id)),
                    partner_name=consent.partner_name,
                    school_code=consent.school_code,
                    outcome=ConsentOutcome[consent.outcome],
                    categories=[
                        DataCategory[name] for name in consent.categories if name in DataCategory.__members__
                    ],
                )
                for consent in record.consents
            ],
        )


def _inner(values: list[strawberry.ID] | None, type_name: str, argument: str) -> list[str]:
    inner = []
    for value in values or ():
        decoded = from_global_id(value)
        if decoded is None or decoded[0] != type_name:
            raise BadUserInput(f"`{argument}` must hold {type_name} ids this API returned")
        inner.append(decoded[1])
    return inner


_Code = Annotated[str, strawberry.argument(description="BRIN plus location code, such as 16AH00.")]
_DryRun = Annotated[
    bool | None, strawberry.argument(description="Only report what the operation would do; change nothing.")
]


@strawberry.type(description="The operator's school lifecycle operations (mixed into Mutation).")
class LifecycleMutation:
    """Mergers, splits, closures and board transfers: operator only, each in one transaction."""

    @resolves_public(
        "Merge schools into one location (fusie), an existing one or one with a new BRIN from the registry"
        " (operator). People, groups, licenses, hub roles and consents move; everyone keeps their identity,"
        " so every partner sees the same ids and pseudonyms; the sources say `mergedInto`; the automatic LAS"
        " coupling of every school involved is suspended until `finishLifecycle`."
    )
    async def merge_schools(
        self,
        info: Info,
        source_codes: Annotated[list[str], strawberry.argument(description="The schools that merge away.")],
        target_code: Annotated[str, strawberry.argument(description="The merged location.")],
        dry_run: _DryRun = False,
    ) -> LifecycleReport:
        report = await lifecycle.merge(info.context, source_codes, target_code, dry_run=bool(dry_run))
        return LifecycleReport.from_report(info, report)

    @resolves_public(
        "Move chosen groups of a school, with their people, to another location (splitsing; operator). The"
        " children keep their identities; the new location gets copies of only the consents chosen in"
        " `copyConsentsOf`, and partners whose consent was not copied get LEFT_SCOPE for them."
    )
    async def split_school(  # noqa: PLR0917 - GraphQL arguments, passed by name
        self,
        info: Info,
        source_code: Annotated[str, strawberry.argument(description="The school that splits.")],
        target_code: Annotated[str, strawberry.argument(description="The location the groups move to.")],
        group_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The groups that move, as `Group.id`.")
        ],
        copy_consents_of: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Partners (`Partner.id`) whose consent at the source is copied."),
        ] = None,
        dry_run: _DryRun = False,
    ) -> LifecycleReport:
        report = await lifecycle.split(
            info.context,
            source_code,
            target_code,
            _inner(group_ids, "Group", "groupIds"),
            _inner(copy_consents_of, "Partner", "copyConsentsOf"),
            dry_run=bool(dry_run),
        )
        return LifecycleReport.from_report(info, report)

    @resolves_public(
        "Close a location for good (opheffing; operator): every flow stops at once (partners get"
        " LEFT_SCOPE), its consents end, its people lose access, and its personal data is deleted after"
        " LEERPOORT_CLOSED_RETENTION_DAYS."
    )
    async def close_school(self, info: Info, code: _Code, dry_run: _DryRun = False) -> LifecycleReport:
        report = await lifecycle.close(info.context, code, dry_run=bool(dry_run))
        return LifecycleReport.from_report(info, report)

    @resolves_public(
        "Move a location to another board (overname; operator): from then on that board's DPA governs"
        " its flows, with feed events either way."
    )
    async def transfer_school(
        self,
        info: Info,
        code: _Code,
        board_number: Annotated[str, strawberry.argument(description="The new board's DUO number.")],
        dry_run: _DryRun = False,
    ) -> LifecycleReport:
        report = await lifecycle.transfer(info.context, code, board_number, dry_run=bool(dry_run))
        return LifecycleReport.from_report(info, report)

    @resolves_public("End a merger or split at a location (operator): its automatic LAS coupling resumes.")
    async def finish_lifecycle(self, info: Info, code: _Code) -> LifecycleReport:
        return LifecycleReport.from_report(info, await lifecycle.finish(info.context, code))
