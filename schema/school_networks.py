"""A school's networks: the ranges that count as "at school" and the tokens of its update command.

Kept apart from the root `Mutation` of `schema.mutations` and joined with it in `schema.assembly`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from datasources.access.school_networks import NetworkRecord, NetworkTokenRecord
from errors import BadUserInput
from resolvers import home_logins, school_networks, web_sessions
from schema.classification import public, resolves_public
from schema.context import Info
from schema.relay import from_global_id, to_global_id

_SchoolCode = Annotated[str, strawberry.argument(description="BRIN plus location code, such as 16AH00.")]
_Cidr = Annotated[
    str,
    strawberry.argument(
        description="The range as a CIDR (192.0.2.0/24, 2001:db8:12::/48) or a single address; at most"
        " a /16 (IPv4) or a /48 (IPv6), without address bits set past the prefix."
    ),
]


@strawberry.type(
    description="An address range a school's network reaches the internet from: a sign-in or launch from"
    " it is at school (`SCHOOL`), from anywhere else at home (`HOME`)."
)
class SchoolNetwork:
    """One registered range."""

    cidr: str = public("The range, normalised (192.0.2.0/24).")
    dynamic: bool = public(
        "Whether the school's update command recorded it (one address, replaced on every update) rather"
        " than a coordinator."
    )
    added_at: dt.datetime = public("When the range was registered or last recorded.")

    @classmethod
    def from_record(cls, record: NetworkRecord) -> SchoolNetwork:
        """The GraphQL object of a registered range."""
        return cls(cidr=record.cidr, dynamic=record.dynamic, added_at=record.added_at)


@strawberry.type(
    description="A school-bound token for `python server.py school-network update`, which records the"
    " address the school's network has now (for schools with a dynamic address)."
)
class NetworkToken:
    """A network token as its coordinator sees it; the token itself is shown once, at creation."""

    id: strawberry.ID = public("The token's id (to revoke it).")
    label: str = public("Where the token runs, as the coordinator named it.")
    created_at: dt.datetime = public("When the token was created.")
    revoked_at: dt.datetime | None = public("When the token was revoked; null while it is live.")
    last_used_at: dt.datetime | None = public("When the update command last reported in with it.")

    @classmethod
    def from_record(cls, record: NetworkTokenRecord) -> NetworkToken:
        """The GraphQL object of a network token."""
        return cls(
            id=strawberry.ID(to_global_id("NetworkToken", str(record.id))),
            label=record.label,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
            last_used_at=record.last_used_at,
        )


@strawberry.type(description="A network token just created: the token is shown this once.")
class NewNetworkToken:
    """The token and its record."""

    network_token: NetworkToken = public("The token's record.")
    token: str = public(
        "The token, for the update command's standard input; store it now, the hub keeps only a hash."
    )


@strawberry.type(description="A school's network ranges, network tokens, home login and session binding.")
class SchoolNetworkMutation:
    """The coordinator's changes to which addresses count as "at school"."""

    @resolves_public(
        "Register one of your school's network ranges (coordinator); registering a range the school has"
        " changes nothing. Refused (BAD_USER_INPUT) when it is not a CIDR or is wider than a /16."
    )
    async def add_school_network(self, info: Info, school_code: _SchoolCode, cidr: _Cidr) -> SchoolNetwork:
        return SchoolNetwork.from_record(await school_networks.add(info.context, school_code, cidr))

    @resolves_public("Remove one of your school's network ranges (coordinator). Answers the removed range.")
    async def remove_school_network(self, info: Info, school_code: _SchoolCode, cidr: _Cidr) -> str:
        await school_networks.remove(info.context, school_code, cidr)
        return cidr.strip()

    @resolves_public(
        "Switch home login for your school's students on or off (coordinator). On: you print activation"
        " codes per group and parents activate home login at /thuis. Off: home sign-ins end at once."
        " Answers the new state."
    )
    async def set_home_login(
        self,
        info: Info,
        school_code: _SchoolCode,
        enabled: Annotated[
            bool, strawberry.argument(description="True to allow home login, false to stop it.")
        ],
    ) -> bool:
        return await home_logins.set_home_login(info.context, school_code, enabled)

    @resolves_public(
        "Bind your school's sessions to the network address they started from, or stop doing so"
        " (coordinator). On: a request of a session from another address (Wi-Fi to 4G, a copied cookie)"
        " ends that session, and the person is asked to sign in again (a GraphQL request gets 401"
        " UNAUTHENTICATED). Applies to running sessions from their next request. Answers the new state."
    )
    async def set_session_binding(
        self,
        info: Info,
        school_code: _SchoolCode,
        enabled: Annotated[
            bool, strawberry.argument(description="True to bind sessions to their start address.")
        ],
    ) -> bool:
        return await web_sessions.set_session_binding(info.context, school_code, enabled)

    @resolves_public(
        "Create a network token for your school's update command (coordinator); the token is shown once."
    )
    async def create_network_token(
        self,
        info: Info,
        school_code: _SchoolCode,
        label: Annotated[
            str, strawberry.argument(description="Where the token runs (1 to 200 characters), for you.")
        ],
    ) -> NewNetworkToken:
        created = await school_networks.create_token(info.context, school_code, label)
        return NewNetworkToken(network_token=NetworkToken.from_record(created.record), token=created.token)

    @resolves_public(
        "Revoke a network token of your school (coordinator): the update command stops working and the"
        " address it recorded no longer counts as at school."
    )
    async def revoke_network_token(
        self,
        info: Info,
        school_code: _SchoolCode,
        network_token_id: Annotated[
            strawberry.ID, strawberry.argument(description="The token, as `NetworkToken.id`.")
        ],
    ) -> NetworkToken:
        decoded = from_global_id(network_token_id)
        if decoded is None or decoded[0] != "NetworkToken" or not decoded[1].isdigit():
            raise BadUserInput("`networkTokenId` must be a NetworkToken id this API returned")
        record = await school_networks.revoke_token(info.context, school_code, int(decoded[1]))
        return NetworkToken.from_record(record)
