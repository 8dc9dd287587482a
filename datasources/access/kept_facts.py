"""A partner's facts kept between its requests while nothing they are read from has changed.

Every partner request needs its facts: its declared categories, every consent in force with the state of
the consenting school and its board, and its allow-list of operations (`viewer_facts.partner_facts`:
three statements, and 80 rows for a partner that 80 schools consented to; with the allow-list's own
connection before, ~15% of a small request's CPU on the server). They change rarely, and only through
the five tables they are read from: `partners`, `consents`, `schools`, `boards` and
`operation_allow_lists`.
Triggers on those tables (migration 0021) count every change in the one row of `policy_versions`, inside
the changing transaction, so the count becomes visible together with the change.

A request reads the count first and the facts after it, and keeps the facts under the count it read. A
change committed between the two reads leaves facts newer than their count, which the next request no
longer reads; a change committed later raises the count. Either way the next request reads the facts
again: kept facts never outlive a committed change, whatever the clock says (nothing here is time-based),
and each process, each worker, checks the same count in the database. The row carries a random epoch,
new whenever the row is made again (an emptied or restored database), so that a count that starts over
never matches facts kept before. Without the row nothing is kept.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from datasources.access.viewer_facts import partner_facts
from datasources.store.tables import POLICY_VERSIONS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import PartnerFacts
    from datasources.store.reader import Reader

#: Partners whose facts one process keeps (least recently used out): a few hundred partners at most, each
#: a few KB of facts.
KEPT_PARTNERS: Final = 1024

_COUNT = select(POLICY_VERSIONS.c.epoch, POLICY_VERSIONS.c.version).where(POLICY_VERSIONS.c.id == 1)

#: (epoch, count): what the facts were read under.
Stamp = tuple[str, int]


class _KeptFacts:
    """Facts by client id with the stamp they were read under, for one database (one engine)."""

    def __init__(self) -> None:
        self.facts: OrderedDict[str, tuple[Stamp, PartnerFacts]] = OrderedDict()

    def get(self, client_id: str, stamp: Stamp) -> PartnerFacts | None:
        found = self.facts.get(client_id)
        if found is None or found[0] != stamp:
            return None
        self.facts.move_to_end(client_id)
        return found[1]

    def put(self, client_id: str, stamp: Stamp, facts: PartnerFacts | None) -> None:
        if facts is None:
            self.facts.pop(client_id, None)
            return
        self.facts[client_id] = (stamp, facts)
        self.facts.move_to_end(client_id)
        while len(self.facts) > KEPT_PARTNERS:
            self.facts.popitem(last=False)


_KEPT: weakref.WeakKeyDictionary[AsyncEngine, _KeptFacts] = weakref.WeakKeyDictionary()


async def current_partner_facts(reader: Reader, client_id: str) -> PartnerFacts | None:
    """The partner's facts as `partner_facts` reads them now (None for an unknown partner): kept ones
    when nothing they are read from changed since, else read again (one statement instead of three while
    kept; see the module's docstring)."""
    found = await reader.rows(_COUNT)
    if not found:
        return await partner_facts(reader, client_id)
    stamp: Stamp = (str(found[0].epoch), int(found[0].version))
    kept = _KEPT.setdefault(reader.engine, _KeptFacts())
    facts = kept.get(client_id, stamp)
    if facts is None:
        # Read after the count: a change committed in between is in these facts or raises the count.
        facts = await partner_facts(reader, client_id)
        kept.put(client_id, stamp, facts)
    return facts
