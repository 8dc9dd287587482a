"""Per-request loaders: every relation of the graph is read in batches, one statement per batch.

Built inside each request (never shared), so their caches hold only what this viewer's scope allowed;
the scope is fixed for the loader's lifetime and therefore part of every cache key. Loaders are named
after what they load and by what key (`students_by_group`), like Saleor's `<Thing>By<Key>Loader`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiodataloader import DataLoader

from datasources.graph import consents, disclosures, groups, licenses, partners, people, readiness, schools
from datasources.graph.disclosures import tally, tally_rows, tally_school_pages
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
    from datasources.graph.readiness import ReadinessFacts
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


class Loaders:
    """The loaders of one request, all bound to the same reader, scope and date. Each is made when the
    request first asks for it: a request uses a few of them, and making all of them (an aiodataloader
    each) cost ~3% of a small request's CPU."""

    _reader: Reader
    _scope: Scope
    _today: dt.date

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

    def __init__(self, reader: Reader, scope: Scope, today: dt.date) -> None:
        self._reader, self._scope, self._today = reader, scope, today

    @classmethod
    def build(cls, reader: Reader, scope: Scope, today: dt.date) -> Loaders:
        """Fresh loaders for one request."""
        return cls(reader, scope, today)

    def __getattr__(self, name: str) -> Any:
        # Only for a loader not made yet: once made it is an attribute of the instance.
        make = _MAKERS.get(name)
        if make is None:
            raise AttributeError(name)
        loader = make(self._reader, self._scope, self._today)
        setattr(self, name, loader)
        return loader


Maker = Callable[["Reader", "Scope", "dt.date"], Any]


# Every record a loader hands out is tallied for the disclosure audit (partners only).
async def _audited(reader: Reader, scope: Scope, found: Awaitable[Mapping[Any, Any]]) -> Mapping[Any, Any]:
    result = await found
    tally(reader, scope, result.values())
    return result


async def _audited_pages(
    reader: Reader, scope: Scope, found: Awaitable[Mapping[int, Page[Any]]]
) -> Mapping[int, Page[Any]]:
    pages = await found
    tally(reader, scope, (item for page in pages.values() for _, item in page.items))
    return pages


async def _audited_student_rows(
    reader: Reader, scope: Scope, found: Awaitable[Mapping[int, Any]]
) -> Mapping[int, Any]:
    rows = await found
    tally_rows(reader, scope, rows.values(), people.STUDENT.school_id)
    return rows


async def _audited_school_pages(
    reader: Reader, scope: Scope, found: Awaitable[Mapping[int, Page[Any]]]
) -> Mapping[int, Page[Any]]:
    pages = await found
    tally_school_pages(reader, scope, pages)
    return pages


def _by_key(fetch: Callable[..., Awaitable[Mapping[Any, Any]]], *, dated: bool = False) -> Maker:
    def make(reader: Reader, scope: Scope, today: dt.date) -> KeyLoader[Any, Any]:
        extra = (today,) if dated else ()
        return KeyLoader(lambda keys: _audited(reader, scope, fetch(reader, scope, keys, *extra)))

    return make


def _paged(fetch: Callable[..., Awaitable[Mapping[int, Page[Any]]]], *, dated: bool = False) -> Maker:
    def make(reader: Reader, scope: Scope, today: dt.date) -> PageLoader[Any]:
        extra = (today,) if dated else ()
        # The key's own `extra` is not used by these relations; it is part of the key for uniformity.
        return PageLoader(
            lambda parents, args, _extra: _audited_pages(
                reader, scope, fetch(reader, scope, parents, args, *extra)
            )
        )

    return make


def _student_rows(*, main_group: bool) -> Maker:
    def make(reader: Reader, scope: Scope, today: dt.date) -> KeyLoader[int, Any]:
        return KeyLoader(
            lambda keys: _audited_student_rows(
                reader, scope, people.student_rows_by_id(reader, scope, keys, today, main_group=main_group)
            )
        )

    return make


def _groups_by_school(reader: Reader, scope: Scope, today: dt.date) -> PageLoader[GroupRecord]:
    return PageLoader(
        lambda parents, args, school_year: _audited_pages(
            reader,
            scope,
            groups.groups_by_school(reader, scope, parents, args, school_year=school_year, today=today),
        )
    )


def _student_rows_by_school(reader: Reader, scope: Scope, today: dt.date) -> PageLoader[Any]:
    return PageLoader(
        lambda parents, args, _extra: _audited_school_pages(
            reader, scope, people.student_rows_by_school(reader, scope, parents, args, today)
        )
    )


#: How each loader of `Loaders` is made, by name.
_MAKERS: dict[str, Maker] = {
    "schools": _by_key(schools.schools_by_id),
    "schools_by_code": _by_key(schools.schools_by_code),
    "instelling_refs": lambda reader, scope, _today: KeyLoader(
        lambda keys: schools.instelling_refs_by_school(reader, scope, keys)
    ),
    "boards": _by_key(schools.boards_by_id),
    "groups": _by_key(groups.groups_by_id),
    "students": _by_key(people.students_by_id, dated=True),
    "student_rows": _student_rows(main_group=True),
    "student_rows_without_main_group": _student_rows(main_group=False),
    "staff": _by_key(people.staff_by_id, dated=True),
    "students_by_person": _by_key(people.students_by_person, dated=True),
    "staff_by_person": _by_key(people.staff_by_person, dated=True),
    "partners": _by_key(partners.partners_by_id),
    "products": _by_key(partners.products_by_id),
    "licenses": _by_key(licenses.licenses_by_id),
    "groups_by_student": _by_key(groups.groups_by_student, dated=True),
    "groups_by_staff": _by_key(groups.groups_by_staff, dated=True),
    "group_ids_by_license": _by_key(licenses.coupled_group_ids, dated=True),
    "license_ids_by_group": _by_key(licenses.license_ids_by_group, dated=True),
    "year_levels_by_license": _by_key(licenses.year_levels_by_license),
    "product_ids_by_student": _by_key(licenses.product_ids_by_student, dated=True),
    "product_ids_by_staff": _by_key(licenses.product_ids_by_staff, dated=True),
    "schools_by_board": _paged(schools.schools_by_board),
    "groups_by_school": _groups_by_school,
    "students_by_school": _paged(people.students_by_school, dated=True),
    "student_rows_by_school": _student_rows_by_school,
    "staff_by_school": _paged(people.staff_by_school, dated=True),
    "students_by_group": _paged(people.students_by_group, dated=True),
    "staff_by_group": _paged(people.staff_by_group, dated=True),
    "licenses_by_school": _paged(licenses.licenses_by_school),
    "consents_by_school": _paged(consents.consents_by_school),
    "consent_requests_by_school": _paged(consents.pending_requests_by_school),
    "disclosures_by_school": _paged(disclosures.disclosures_by_school),
    # Facts about the school's own administration, for its managers only: nothing to audit.
    "seats_used_by_license": lambda reader, scope, today: KeyLoader(
        lambda keys: licenses.seats_used(reader, scope, keys, today)
    ),
    "readiness_by_school": lambda reader, scope, today: KeyLoader(
        lambda keys: readiness.readiness_facts(reader, scope, keys, today)
    ),
}

#: The names of the loaders, in the order they are declared.
LOADER_NAMES: tuple[str, ...] = tuple(name for name in Loaders.__annotations__ if not name.startswith("_"))


__all__ = ["LOADER_NAMES", "KeyLoader", "Loaders", "PageLoader"]
