"""Who sent a request: the client's network address, for rate limits and for "at school or at home".

Every HTTP handler asks here rather than reading `request.client`, so that a deployment behind a reverse
proxy (`LEERPOORT_TRUSTED_PROXIES`) sees its clients, not its proxy, everywhere at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resolvers.school_networks import connection_address

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from settings import Settings


def client_address(connection: HTTPConnection, settings: Settings) -> str:
    """The client's address: the peer's, or what a trusted proxy says in `X-Forwarded-For`; "" when the
    server does not know the peer (a test transport without one)."""
    return connection_address(settings, connection)
