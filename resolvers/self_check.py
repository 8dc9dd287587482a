"""The self-check (`me`, and the page at `/`): what a signed-in teacher or student sees of themselves.

The start-of-year check coordinators ask every teacher to do: can I sign in, do I see my school, my new
groups and all my students, do I see every product and can I open it. The policy decides who has an own
view and what it holds (`auth.policy.own_view`); the products come from the launch rule
(`resolvers.launch_rules`), so a product shown here is one whose launch passes.

Nothing of this reaches a partner: a partner, a LAS client or the operator has no own view (`me` is null
for them) and nothing is read for it. The own view carries no pseudonyms and is no disclosure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiodataloader import DataLoader

from auth.policy import OwnView, own_view
from datasources.access import launch_facts
from datasources.access.launch_facts import SchoolFacts
from datasources.graph import own_view as own_reads
from datasources.graph.own_view import OwnGroup
from resolvers.context import Context
from resolvers.launch_rules import LaunchableProduct, launchable_products_on, memberships_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasources.graph.own_view import OwnStudent


class _StudentsByGroup(DataLoader[int, "list[OwnStudent]"]):
    """The students of a teacher's groups, one statement for every group of the request."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self._ctx = ctx

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[OwnStudent]]:
        found = await own_reads.students_by_group(
            self._ctx.reader, list(dict.fromkeys(keys)), self._ctx.today
        )
        return [found.get(key, []) for key in keys]


@dataclass
class SelfCheck:
    """One person's own view within one request, with its reads remembered (each is made at most once)."""

    ctx: Context
    view: OwnView
    _schools: list[SchoolFacts] | None = None
    _groups: list[OwnGroup] | None = None
    _products: list[LaunchableProduct] | None = None
    _students: _StudentsByGroup | None = field(default=None, repr=False)

    @property
    def is_student(self) -> bool:
        """Whether the person signed in as a student."""
        return self.view.is_student

    async def schools(self) -> list[SchoolFacts]:
        """The person's schools, by code."""
        if self._schools is None:
            found = await launch_facts.schools_by_id(self.ctx.reader, self.view.school_ids)
            self._schools = sorted(found.values(), key=lambda school: school.code)
        return self._schools

    async def school(self) -> SchoolFacts | None:
        """The person's school: the only one, or the first by code of several; None without one."""
        schools = await self.schools()
        return schools[0] if schools else None

    async def roles(self) -> list[str]:
        """A staff member's hub roles at their schools (none for a student)."""
        if self.view.is_student:
            return []
        return await own_reads.staff_roles(
            self.ctx.reader, [membership.member_id for membership in self.view.memberships]
        )

    async def groups(self) -> list[OwnGroup]:
        """The person's current groups (a staff member's links in force, a substitute's until its date)."""
        if self._groups is None:
            self._groups = await own_reads.own_groups(self.ctx.reader, self.view.memberships, self.ctx.today)
        return self._groups

    async def students_of(self, group: OwnGroup) -> list[OwnStudent]:
        """The students of one of the person's groups: for a teacher; none for a student (the policy)."""
        if not self.view.sees_group_members or group.id not in {own.id for own in await self.groups()}:
            return []
        if self._students is None:
            self._students = _StudentsByGroup(self.ctx)
        return await self._students.load(group.id)

    async def products(self) -> list[LaunchableProduct]:
        """The products the person may open now (the launch rule), by name."""
        if self._products is None:
            self._products = await launchable_products_on(
                self.ctx.reader,
                self.ctx.settings,
                self.ctx.viewer,
                today=self.ctx.today,
                memberships=self.view.memberships,
                # Where the person is, by their school's networks: what `/launch` will decide too.
                address=self.ctx.client_address or None,
            )
        return self._products


async def self_check(ctx: Context) -> SelfCheck | None:
    """The viewer's self-check; None for anyone who is not a signed-in teacher or student."""
    view = own_view(ctx.viewer, ())
    if view is None:
        return None  # no read at all for a partner, a LAS client or the operator
    view = own_view(ctx.viewer, await memberships_of(ctx.reader, ctx.viewer, ctx.today))
    assert view is not None
    return SelfCheck(ctx, view)
