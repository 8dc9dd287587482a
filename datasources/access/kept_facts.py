"""A partner's facts kept between its requests while nothing they are read from has changed.

Every partner request needs its facts: its declared categories, every consent in force with the state of
the consenting school and its board, and its allow-list of operations (`viewer_facts.partner_facts`:
three statements, and 80 rows for a partner that 80 schools consented to; with the allow-list's own
connection before, ~15% of a small request's CPU on the server). They change rarely, and only through
the five tables they are read from: `partners`, `consents`, `schools`, `boards` and
`operation_allow_lists`. Every transaction that changes one of them writes a new random stamp into the
one row of `policy_versions`, in that transaction (triggers of migration 0021), so a new stamp becomes
visible together with the change.

A request reads the stamp, then the facts, then the stamp again. When both readings agree, no change
committed in between: the facts are those of the state that stamp names, and are kept under it, by the
process, for as long as the database shows that stamp. A change commits a new stamp, so the next request
reads the facts again: kept facts never outlive a committed change, whatever the clock says (nothing here
is time-based), and every process and worker checks the same row. A stamp names one state for good: a
restored backup, or a replica that lost its last commits, shows the stamp of the state it holds, and the
facts kept under that stamp are that state's (found by the attacker review: a counter that went back with
a restore came to name another state). When the readings differ, the facts (newer than the first
reading) answer this request and are not kept. Without the row nothing is kept.
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

_STAMP = select(POLICY_VERSIONS.c.stamp).where(POLICY_VERSIONS.c.id == 1)


class _KeptFacts:
    """Facts by client id with the stamp they were read under, for one database (one engine)."""

    def __init__(self) -> None:
        self.facts: OrderedDict[str, tuple[str, PartnerFacts]] = OrderedDict()

    def get(self, client_id: str, stamp: str) -> PartnerFacts | None:
        found = self.facts.get(client_id)
        if found is None or found[0] != stamp:
            return None
        self.facts.move_to_end(client_id)
        return found[1]

    def put(self, client_id: str, stamp: str, facts: PartnerFacts | None) -> None:
        if facts is None:
            self.facts.pop(client_id, None)
            return
        self.facts[client_id] = (stamp, facts)
        self.facts.move_to_end(client_id)
        while len(self.facts) > KEPT_PARTNERS:
            self.facts.popitem(last=False)


_KEPT: weakref.WeakKeyDictionary[AsyncEngine, _KeptFacts] = weakref.WeakKeyDictionary()


async def _stamp(reader: Reader) -> str | None:
    found = await reader.rows(_STAMP)
    return str(found[0].stamp) if found else None


async def current_partner_facts(reader: Reader, client_id: str) -> PartnerFacts | None:
    """The partner's facts as `partner_facts` reads them now (None for an unknown partner): kept ones
    when nothing they are read from changed since, else read again (one statement instead of three while
    kept; see the module's docstring)."""
    stamp = await _stamp(reader)
    if stamp is None:
        return await partner_facts(reader, client_id)
    kept = _KEPT.setdefault(reader.engine, _KeptFacts())
    facts = kept.get(client_id, stamp)
    if facts is not None:
        return facts
    facts = await partner_facts(reader, client_id)
    if await _stamp(reader) == stamp:
        kept.put(client_id, stamp, facts)
    return facts
