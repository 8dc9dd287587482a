"""A request's loaders read each key once, whether it is asked for alone (`get`) or with a page's others
(`many`): the disclosure audit counts what a loader reads, so a record read twice would be counted twice."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from datasources.graph.loaders import LOADER_NAMES, KeyLoader, Loaders, PageLoader

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class _Rows:
    """A fetch of the squares of keys below 100, remembering which keys each call asked for."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    async def __call__(self, keys: Sequence[int]) -> Mapping[int, int]:
        self.asked.append(list(keys))
        return {key: key * key for key in keys if key < 100}


async def test_many_reads_only_what_was_not_read_and_keeps_what_it_read() -> None:
    fetch = _Rows()
    loader: KeyLoader[int, int] = KeyLoader(fetch)

    assert await loader.get(2) == 4
    assert await loader.many([3, 2, 3, 100, 4]) == {3: 9, 2: 4, 100: None, 4: 16}
    assert await loader.get(4) == 16
    assert await loader.get(100) is None

    assert fetch.asked == [[2], [3, 100, 4]]


async def test_many_waits_for_a_key_another_field_is_still_reading() -> None:
    fetch = _Rows()
    loader: KeyLoader[int, int] = KeyLoader(fetch)

    pending = loader.load(5)  # queued by another field, dispatched on the loop's next turn
    found = await loader.many([5, 6])

    assert found == {5: 25, 6: 36}
    assert await pending == 25
    assert sorted(map(sorted, fetch.asked)) == [[5], [6]]


async def test_a_get_while_many_reads_waits_for_it_instead_of_reading_again() -> None:
    fetch = _Rows()
    loader: KeyLoader[int, int] = KeyLoader(fetch)

    found, alone = await asyncio.gather(loader.many([7, 8]), loader.get(8))

    assert found == {7: 49, 8: 64}
    assert alone == 64
    assert fetch.asked == [[7, 8]]


async def test_a_failed_many_reads_again_next_time() -> None:
    fetch = _Rows()
    failing = True

    async def flaky(keys: Sequence[int]) -> Mapping[int, int]:
        if failing:
            raise ConnectionResetError("the database went away")
        return await fetch(keys)

    loader: KeyLoader[int, int] = KeyLoader(flaky)
    with pytest.raises(ConnectionResetError):
        await loader.many([1, 2])
    failing = False

    assert await loader.many([1, 2]) == {1: 1, 2: 4}
    assert fetch.asked == [[1, 2]]


async def test_every_declared_loader_is_made_of_its_kind_once_and_only_when_asked_for() -> None:
    loaders = Loaders.build(reader=None, scope=None, today=None)  # type: ignore[arg-type]  # never reads
    assert not set(LOADER_NAMES) & set(vars(loaders))  # nothing made before it is asked for

    made = {name: getattr(loaders, name) for name in LOADER_NAMES}

    assert len(LOADER_NAMES) == len(set(LOADER_NAMES)) >= 30
    for name, loader in made.items():
        declared = Loaders.__annotations__[name]
        assert isinstance(loader, KeyLoader if declared.startswith("KeyLoader") else PageLoader), name
        assert getattr(loaders, name) is loader  # made once per request
    assert Loaders.build(None, None, None).schools is not made["schools"]  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        loaders.not_a_loader  # noqa: B018 - the attribute access is what is tried
