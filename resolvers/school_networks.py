"""School networks: the ranges that count as "at school", the network tokens that keep a dynamic
address current, and the context (`SCHOOL` or `HOME`) of a sign-in or launch from an address."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.networks import (
    NetworkContext,
    NotASchoolNetwork,
    client_address,
    host_network,
    network_context,
    parse_address,
    school_network,
    trusted_proxies,
)
from auth.permissions import may_manage_school_networks, may_read_school_networks
from datasources.access import school_networks
from datasources.access.accounts import school_id_by_code
from datasources.access.school_networks import NetworkTokenRecord
from errors import BadUserInput, Forbidden, Unauthenticated

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import HTTPConnection

    from datasources.access.school_networks import NetworkRecord
    from datasources.store.records import SchoolRecord
    from resolvers.context import Context
    from settings import Settings

#: Network tokens are told apart from hub JWTs at a glance (and by secret scanners) by this prefix.
NETWORK_TOKEN_PREFIX: Final = "lpnet_"  # noqa: S105 - a prefix, not a secret
MAX_LABEL: Final = 200


@dataclass(frozen=True, slots=True)
class NewNetworkToken:
    """A network token just created: `token` is shown this once and stored only as a hash."""

    record: NetworkTokenRecord
    token: str


async def _managed_school(ctx: Context, school_code: str) -> int:
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_manage_school_networks(ctx.viewer, ctx.scope, school_id):
        # One answer for "no such school" and "not yours", so codes cannot be probed.
        raise Forbidden(f"you do not coordinate school {school_code}")
    return school_id


async def add(ctx: Context, school_code: str, cidr: str) -> NetworkRecord:
    """The coordinator registers one of the school's network ranges."""
    school_id = await _managed_school(ctx, school_code)
    try:
        network = school_network(cidr)
    except NotASchoolNetwork as refused:
        raise BadUserInput(str(refused)) from None
    return await school_networks.add_network(ctx.engine, school_id, str(network), now=ctx.now)


async def remove(ctx: Context, school_code: str, cidr: str) -> None:
    """The coordinator removes a registered range (written as it was registered, or any spelling of it)."""
    school_id = await _managed_school(ctx, school_code)
    try:
        network = school_network(cidr)
    except NotASchoolNetwork as refused:
        raise BadUserInput(str(refused)) from None
    await school_networks.remove_network(ctx.engine, school_id, str(network))


async def of_school(ctx: Context, school: SchoolRecord) -> list[NetworkRecord] | None:
    """The school's ranges for its coordinators and the operator; None (not shown) for anyone else."""
    if not may_read_school_networks(ctx.viewer, ctx.scope, school.id):
        return None
    return (await school_networks.networks_of_schools(ctx.engine, [school.id]))[school.id]


async def tokens_of(ctx: Context, school: SchoolRecord) -> list[NetworkTokenRecord] | None:
    """The school's network tokens (never their values) for its coordinators; None for anyone else."""
    if not may_manage_school_networks(ctx.viewer, ctx.scope, school.id):
        return None
    return await school_networks.tokens_of_school(ctx.engine, school.id)


async def create_token(ctx: Context, school_code: str, label: str) -> NewNetworkToken:
    """The coordinator creates a network token for the school's update command."""
    school_id = await _managed_school(ctx, school_code)
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise BadUserInput(f"a network token needs a label of 1 to {MAX_LABEL} characters (where it runs)")
    token = NETWORK_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = await school_networks.create_token(
        ctx.engine, school_id, label=label, token_sha256=_digest(token), now=ctx.now
    )
    return NewNetworkToken(record=record, token=token)


async def revoke_token(ctx: Context, school_code: str, token_id: int) -> NetworkTokenRecord:
    """The coordinator revokes one of the school's network tokens; its dynamic range goes with it."""
    school_id = await _managed_school(ctx, school_code)
    if await school_networks.token_school(ctx.engine, token_id) != school_id:
        # A token of another school answers as an unknown one: ids are not probed across schools.
        raise BadUserInput("the school has no such network token")
    return await school_networks.revoke_token(ctx.engine, token_id, now=ctx.now)


async def update_dynamic_address(engine: AsyncEngine, settings: Settings, token: str, address: str) -> str:
    """A school's update command reports in with its network token from `address`: that address becomes
    the school's dynamic range. Answers the recorded range; `Unauthenticated` for a token that is not a
    live network token (of any school: the token alone names the school, so one school's token can never
    move another's registration)."""
    if not token.startswith(NETWORK_TOKEN_PREFIX) or len(token) > 200:
        raise Unauthenticated("this is not a network token")
    if parse_address(address) is None:
        raise BadUserInput("the address this request came from cannot be read")
    network = host_network(str(parse_address(address)))
    school_id = await school_networks.record_dynamic_address(
        engine, _digest(token), str(network), now=settings.now()
    )
    if school_id is None:
        raise Unauthenticated("the network token is unknown or revoked")
    return str(network)


async def context_at(engine: AsyncEngine, school_id: int, address: str) -> NetworkContext:
    """`SCHOOL` when `address` is in one of the school's registered ranges, else `HOME`."""
    ranges = (await school_networks.networks_of_schools(engine, [school_id]))[school_id]
    return network_context(address, [school_network(network.cidr) for network in ranges])


def connection_address(settings: Settings, connection: HTTPConnection) -> str:
    """The client's address of a request: the peer's, or what a trusted proxy says in `X-Forwarded-For`;
    "" when the server does not know the peer (a test transport without one)."""
    peer = connection.client.host if connection.client else ""
    return request_address(settings, peer, connection.headers.getlist("x-forwarded-for"))


def request_address(settings: Settings, peer: str, forwarded_for: Sequence[str]) -> str:
    """The client's address for a request from `peer`, honouring `X-Forwarded-For` from trusted proxies."""
    return client_address(peer, forwarded_for, trusted_proxies(settings.proxies))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
