"""Single sign-on: who a signed-in person is for a partner, computed through that partner's scope.

A partner is told, in the id_token and at the userinfo endpoint, exactly these claims (and only where the
school granted their category to it, the graph's rules):

- `sub`: the person's pseudonym for this partner, the very value the graph shows the partner as
  `Student.pseudonym` / `StaffMember.pseudonym` (read by the graph's own `students_by_id` / `staff_by_id`
  with the partner's scope);
- `instelling_ref`: the school's INSTELLING_REF;
- `role`: OneRoster 1.2's role vocabulary, as the hub's OneRoster binding shows the same person:
  `student`, or for staff `teacher`, `siteAdministrator` (ICT coordinator), `counselor` (internal
  supervisor) or `aide` (intern, support staff);
- `context`: `SCHOOL` or `HOME`, from the person's address at the authorize request and the school's
  registered networks (auth.sign_on.sign_in_context);
- `groups`: the global ids (`Group.id` as the partner sees it) of the person's current groups that a
  license of one of the partner's products is coupled to; only with group.basic;
- `eck_id`: the ECK-iD, only for a partner in the ECK chain with student.basic / staff.basic, when the
  LAS delivered one;
- `given_name`, `voorvoegsel`, `family_name` (and a student's `initials`): only where the school granted
  student.name / staff.name, each only when the school's data has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from auth.categories import DataCategory
from auth.identifiers import global_id
from auth.networks import NetworkContext
from auth.policy import Scope
from auth.sign_on import NAMES, Refusal, disclosed_categories, sign_in_context, sign_on_refusal
from auth.viewer import Viewer, ViewerKind
from datasources.access import sign_on as store
from datasources.graph.disclosures import record_disclosures
from datasources.graph.groups import groups_by_staff, groups_by_student
from datasources.graph.people import staff_by_id, students_by_id
from datasources.oneroster.vocabulary import staff_role_of
from datasources.store.reader import Reader
from datasources.store.records import GroupRecord, StaffRecord, StudentRecord
from resolvers.viewers import scope_of

if TYPE_CHECKING:
    import datetime as dt

    from resolvers.requests import Services

#: Every identity claim the hub may send (the id_token adds iss, aud, exp, iat, auth_time, nonce).
IDENTITY_CLAIMS: Final = (
    "sub", "instelling_ref", "role", "context", "groups", "eck_id",
    "given_name", "voorvoegsel", "family_name", "initials",
)  # fmt: skip

#: The kind of signed-in person of each kind of session viewer.
PERSON_KINDS: Final = {ViewerKind.STUDENT: store.STUDENT, ViewerKind.STAFF: store.STAFF}


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in person as one partner may know them: the records the graph would show that partner."""

    scope: Scope
    member: store.Member
    person: StudentRecord | StaffRecord
    instelling_ref: str
    #: The person's current groups (visible to the partner) that its licensed products are coupled to.
    groups: tuple[GroupRecord, ...]
    #: Where the person signed in to the partner from (the claims' `context`).
    context: NetworkContext = NetworkContext.SCHOOL

    @property
    def pseudonym(self) -> str:
        """The person's pseudonym for this partner (`sub`)."""
        assert self.person.pseudonym is not None  # a refused basic category never becomes an Identity
        return self.person.pseudonym

    @property
    def shows_groups(self) -> bool:
        """Whether the partner may read groups at the school (group.basic), and so gets `groups`."""
        return DataCategory.GROUP_BASIC in self.scope.categories_for(self.member.school_id)

    @property
    def shows_names(self) -> bool:
        """Whether the school granted the partner the person's names."""
        return NAMES[self.member.kind] in self.scope.categories_for(self.member.school_id)

    def claims(self) -> dict[str, Any]:
        """The identity claims, exactly and only those the grants allow (module docstring)."""
        person = self.person
        role = (
            "student"
            if self.member.kind == store.STUDENT
            else staff_role_of(getattr(person, "roles", ()) or ())
        )
        claims: dict[str, Any] = {
            "sub": self.pseudonym,
            "instelling_ref": self.instelling_ref,
            "role": role,
            "context": sign_in_context(self.context),
        }
        if self.shows_groups:
            claims["groups"] = [global_id("Group", group.public_id) for group in self.groups]
        if person.eck_id is not None:
            claims["eck_id"] = person.eck_id
        if self.shows_names:
            names = {
                "given_name": person.first_name,
                "voorvoegsel": person.prefix,
                "family_name": person.last_name,
                "initials": getattr(person, "initials", None),
            }
            claims.update({name: value for name, value in names.items() if value})
        return claims

    def disclosed(self) -> frozenset[DataCategory]:
        """The categories these claims disclose, for the school's audit."""
        return disclosed_categories(
            self.scope,
            self.member.school_id,
            self.member.kind,
            names=self.shows_names
            and any(getattr(self.person, name, None) for name in ("first_name", "prefix", "last_name")),
            groups=self.shows_groups and bool(self.groups),
        )


async def partner_scope(services: Services, client_id: str) -> Scope:
    """The scope of the partner whose client id this is, as its own token would have it (the one policy);
    `Unauthenticated` when there is no such partner."""
    reader = Reader(services.engine)
    try:
        return await scope_of(reader, Viewer(ViewerKind.PARTNER, client_id), services.settings)
    finally:
        await reader.close()


async def identity(
    services: Services, scope: Scope, member: store.Member, *, today: dt.date
) -> Identity | Refusal:
    """Who `member` is for the partner of `scope`, or why the partner may not be told."""
    refused = sign_on_refusal(scope, member.school_id, member.kind)
    if refused is not None:
        return refused
    assert scope.partner_id is not None
    reader = Reader(services.engine)
    try:
        person: StudentRecord | StaffRecord | None
        if member.kind == store.STUDENT:
            person = (await students_by_id(reader, scope, [member.member_id], today)).get(member.member_id)
            memberships = await groups_by_student(reader, scope, [member.member_id], today)
        else:
            person = (await staff_by_id(reader, scope, [member.member_id], today)).get(member.member_id)
            memberships = await groups_by_staff(reader, scope, [member.member_id], today)
    finally:
        await reader.close()
    if person is None or person.pseudonym is None:
        return Refusal.NOT_GRANTED
    licensed = set(
        await store.licensed_group_ids(services.engine, member, partner_id=scope.partner_id, today=today)
    )
    groups = tuple(group for group in memberships[member.member_id].groups if group.id in licensed)
    reference = await store.instelling_ref(services.engine, member.school_id)
    return Identity(scope, member, person, reference, groups)


async def first_identity(
    services: Services, scope: Scope, members: list[store.Member], *, today: dt.date
) -> Identity | Refusal:
    """The identity of the first of a person's memberships the partner may know, else the refusal of
    the first (a teacher at two schools signs in through the school that consented)."""
    refusals: list[Refusal] = []
    for member in members:
        found = await identity(services, scope, member, today=today)
        if isinstance(found, Identity):
            return found
        refusals.append(found)
    return refusals[0] if refusals else Refusal.NO_CONSENT


async def audit(
    services: Services, found: Identity, operation: str, *, categories: frozenset[DataCategory] | None = None
) -> None:
    """Record in the school's disclosure audit what the partner was told: the categories of the claims,
    or `categories` when it was told less (a launch tells only the pseudonym)."""
    assert found.scope.partner_id is not None
    await record_disclosures(
        services.engine,
        partner_id=found.scope.partner_id,
        operation_name=operation,
        records_by_school={found.member.school_id: 1},
        categories_by_school={
            found.member.school_id: found.disclosed() if categories is None else categories
        },
        at=services.settings.now(),
    )
