"""Per-request loaders: every relation of the graph is read in batches, one statement per batch.

Built inside each request (never shared), so their caches hold only what this viewer's scope allowed;
the scope is fixed for the loader's lifetime and therefore part of every cache key. Loaders are named
after what they load and by what key (`students_by_group`), like Saleor's `<Thing>By<Key>Loader`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiodataloader import DataLoader

from datasources.graph import consents, disclosures, groups, licenses, partners, people, readiness, schools
from datasources.graph.disclosures import tally, tally_rows, tally_school_pages
from datasources.graph.readiness import ReadinessFacts
from datasources.store.pagination import PageArgs
from datasources.store.records import (
    BoardRecord,
    ConsentRecord,
    ConsentRequestRecord,
    DisclosureRecord,
    GroupRecord,
    LicenseRecord,
    MemberGroups,
    Page,
    PartnerRecord,
    ProductRecord,
    SchoolRecord,
    StaffRecord,
    StudentRecord,
)

if TYPE_CHECKING:
    import datetime as dt

    from auth.policy import Scope
    from datasources.store.reader import Reader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeyLoader(DataLoader[K, V | None]):
    """Loads one value (or None) per key with one statement per batch of keys."""

    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        found = await self._fetch(list(dict.fromkeys(keys)))
        return [found.get(key) for key in keys]

    async def get(self, key: K) -> V | None:
        """The value for `key`, or None when it does not exist within the scope."""
        return await self.load(key)

    async def many(self, keys: Sequence[K]) -> dict[K, V | None]:
        """The values of keys a caller already holds all at once (a feed page's nodes), by key: those not
        loaded yet in one statement, as a batch of `get`s reads them, but without aiodataloader's queue
        and dispatch per key (a page of 1,000 nodes spent ~9% of its time there). Its keys are in the
        cache from the start, so that a `get` or `many` of the same request that comes while it reads
        waits for it instead of reading (and auditing) the record again (found by the attacker review)."""
        distinct = list(dict.fromkeys(keys))
        # aiodataloader's cache: key -> future (our loaders keep the default identity cache key).
        cached = {key: future for key in distinct if (future := self._cache.get(key)) is not None}
        missing = [key for key in distinct if key not in cached]
        values: dict[K, V | None] = {}
        if missing:
            reading: dict[K, asyncio.Future[V | None]] = {key: self.loop.create_future() for key in missing}
            for key, future in reading.items():
                self._cache[key] = future
            try:
                found = await self._fetch(missing)
            except BaseException as error:
                _fail(self._cache, reading, error)
                raise
            for key, future in reading.items():
                values[key] = value = found.get(key)
                future.set_result(value)
        for key, future in cached.items():
            values[key] = await future
        return {key: values[key] for key in distinct}


def _fail(
    cache: MutableMapping[Any, Any], reading: Mapping[Any, asyncio.Future[Any]], error: BaseException
) -> None:
    """Hand a failed read's error to whoever waits for its keys, and forget the keys (a later `get` reads
    again), as aiodataloader does for a failed batch."""
    for key, future in reading.items():
        cache.pop(key, None)
        if isinstance(error, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting, and asyncio would log it


#: A page request of one parent: (parent id, page arguments, an extra filter such as a school year).
PageKey = tuple[int, PageArgs, Hashable]


class PageLoader(DataLoader[PageKey, Page[V]], Generic[V]):
    """Loads one page per parent; parents that ask for the same page arguments share one statement."""

    def __init__(
        self, fetch: Callable[[Sequence[int], PageArgs, Any], Awaitable[Mapping[int, Page[V]]]]
    ) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: Sequence[PageKey]) -> list[Page[V]]:
        by_arguments: dict[tuple[PageArgs, Hashable], list[int]] = defaultdict(list)
        for parent, args, extra in keys:
            by_arguments[(args, extra)].append(parent)
        pages: dict[PageKey, Page[V]] = {}
        for (args, extra), parents in by_arguments.items():
            found = await self._fetch(list(dict.fromkeys(parents)), args, extra)
            for parent in parents:
                pages[(parent, args, extra)] = found.get(parent, Page.empty())
        return [pages[key] for key in keys]

    async def page(self, parent: int, args: PageArgs, extra: Hashable = None) -> Page[V]:
        """The page of `parent`'s children."""
        return await self.load((parent, args, extra))


@dataclass(frozen=True)
class Loaders:
    """The loaders of one request, all bound to the same reader, scope and date."""

    schools: KeyLoader[int, SchoolRecord]
    schools_by_code: KeyLoader[str, SchoolRecord]
    #: Not audited: it answers managers only (a school's coordinators, the operator), never a partner.
    instelling_refs: KeyLoader[int, str]
    boards: KeyLoader[int, BoardRecord]
    groups: KeyLoader[int, GroupRecord]
    students: KeyLoader[int, StudentRecord]
    #: The same students as rows, for the compiled feed (`schema.compiled_feed`); tallied alike.
    student_rows: KeyLoader[int, Any]
    #: The same rows with the main group's columns null, for a feed that does not ask for it.
    student_rows_without_main_group: KeyLoader[int, Any]
    staff: KeyLoader[int, StaffRecord]
    students_by_person: KeyLoader[int, StudentRecord]
    staff_by_person: KeyLoader[int, StaffRecord]
    partners: KeyLoader[int, PartnerRecord]
    products: KeyLoader[int, ProductRecord]
    licenses: KeyLoader[int, LicenseRecord]
    groups_by_student: KeyLoader[int, MemberGroups]
    groups_by_staff: KeyLoader[int, MemberGroups]
    group_ids_by_license: KeyLoader[int, list[int]]
    license_ids_by_group: KeyLoader[int, list[int]]
    year_levels_by_license: KeyLoader[int, list[str]]
    product_ids_by_student: KeyLoader[int, list[int]]
    product_ids_by_staff: KeyLoader[int, list[int]]
    schools_by_board: PageLoader[SchoolRecord]
    groups_by_school: PageLoader[GroupRecord]
    students_by_school: PageLoader[StudentRecord]
    #: The same pages as rows, for the compiled read path (`schema.compiled`); tallied alike.
    student_rows_by_school: PageLoader[Any]
    staff_by_school: PageLoader[StaffRecord]
    students_by_group: PageLoader[StudentRecord]
    staff_by_group: PageLoader[StaffRecord]
    licenses_by_school: PageLoader[LicenseRecord]
    consents_by_school: PageLoader[ConsentRecord]
    consent_requests_by_school: PageLoader[ConsentRequestRecord]
    disclosures_by_school: PageLoader[DisclosureRecord]
    readiness_by_school: KeyLoader[int, ReadinessFacts]
    seats_used_by_license: KeyLoader[int, int]

    @classmethod
    def build(cls, reader: Reader, scope: Scope, today: dt.date) -> Loaders:
        """Fresh loaders for one request."""

        # Every record a loader hands out is tallied for the disclosure audit (partners only).
        async def audited(found: Awaitable[Mapping[Any, Any]]) -> Mapping[Any, Any]:
            result = await found
            tally(reader, scope, result.values())
            return result

        async def audited_pages(found: Awaitable[Mapping[int, Page[Any]]]) -> Mapping[int, Page[Any]]:
            pages = await found
            tally(reader, scope, (item for page in pages.values() for _, item in page.items))
            return pages

        async def audited_student_rows(found: Awaitable[Mapping[int, Any]]) -> Mapping[int, Any]:
            rows = await found
            tally_rows(reader, scope, rows.values(), people.STUDENT.school_id)
            return rows

        async def audited_school_pages(found: Awaitable[Mapping[int, Page[Any]]]) -> Mapping[int, Page[Any]]:
            pages = await found
            tally_school_pages(reader, scope, pages)
            return pages

        def by_key(fetch: Callable[..., Awaitable[Mapping[Any, Any]]], *extra: Any) -> KeyLoader[Any, Any]:
            return KeyLoader(lambda keys: audited(fetch(reader, scope, keys, *extra)))

        def paged(fetch: Callable[..., Awaitable[Mapping[int, Page[Any]]]], *extra: Any) -> PageLoader[Any]:
            # The key's own `extra` is not used by these relations; it is part of the key for uniformity.
            return PageLoader(
                lambda parents, args, _extra: audited_pages(fetch(reader, scope, parents, args, *extra))
            )

        return cls(
            schools=by_key(schools.schools_by_id),
            schools_by_code=by_key(schools.schools_by_code),
            instelling_refs=KeyLoader(lambda keys: schools.instelling_refs_by_school(reader, scope, keys)),
            boards=by_key(schools.boards_by_id),
            groups=by_key(groups.groups_by_id),
            students=by_key(people.students_by_id, today),
            student_rows=KeyLoader(
                lambda keys: audited_student_rows(people.student_rows_by_id(reader, scope, keys, today))
            ),
            student_rows_without_main_group=KeyLoader(
                lambda keys: audited_student_rows(
                    people.student_rows_by_id(reader, scope, keys, today, main_group=False)
                )
            ),
            staff=by_key(people.staff_by_id, today),
            students_by_person=by_key(people.students_by_person, today),
            staff_by_person=by_key(people.staff_by_person, today),
            partners=by_key(partners.partners_by_id),
            products=by_key(partners.products_by_id),
            licenses=by_key(licenses.licenses_by_id),
            groups_by_student=by_key(groups.groups_by_student, today),
            groups_by_staff=by_key(groups.groups_by_staff, today),
            group_ids_by_license=by_key(licenses.coupled_group_ids, today),
            license_ids_by_group=by_key(licenses.license_ids_by_group, today),
            year_levels_by_license=by_key(licenses.year_levels_by_license),
            product_ids_by_student=by_key(licenses.product_ids_by_student, today),
            product_ids_by_staff=by_key(licenses.product_ids_by_staff, today),
            schools_by_board=paged(schools.schools_by_board),
            groups_by_school=PageLoader(
                lambda parents, args, school_year: audited_pages(
                    groups.groups_by_school(
                        reader, scope, parents, args, school_year=school_year, today=today
                    )
                )
            ),
            students_by_school=paged(people.students_by_school, today),
            student_rows_by_school=PageLoader(
                lambda parents, args, _extra: audited_school_pages(
                    people.student_rows_by_school(reader, scope, parents, args, today)
                )
            ),
            staff_by_school=paged(people.staff_by_school, today),
            students_by_group=paged(people.students_by_group, today),
            staff_by_group=paged(people.staff_by_group, today),
            licenses_by_school=paged(licenses.licenses_by_school),
            consents_by_school=paged(consents.consents_by_school),
            consent_requests_by_school=paged(consents.pending_requests_by_school),
            disclosures_by_school=paged(disclosures.disclosures_by_school),
            # Facts about the school's own administration, for its managers only: nothing to audit.
            seats_used_by_license=KeyLoader(lambda keys: licenses.seats_used(reader, scope, keys, today)),
            readiness_by_school=KeyLoader(lambda keys: readiness.readiness_facts(reader, scope, keys, today)),
        )


__all__ = ["KeyLoader", "Loaders", "PageLoader"]
