"""Registering partners, and staff signing in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auth.credentials import hash_secret, new_client_id, new_client_secret, verify_secret
from auth.permissions import may_register_partners
from auth.viewer import Viewer, ViewerKind
from datasources.access.accounts import account_secret, coordinated_school_codes, create_partner
from errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from resolvers.credential_checks import credential_check

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.categories import DataCategory
    from datasources.store.records import PartnerRecord
    from resolvers.context import Context
    from resolvers.signing import Keys
    from settings import Settings

PARTNER_KINDS = ("PUBLISHER", "NETWORK_PROVIDER")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A new client's credentials; the secret is shown once and stored only as a hash."""

    partner_id: int
    client_id: str
    client_secret: str


async def register_partner(
    engine: AsyncEngine,
    *,
    name: str,
    kind: str,
    categories: Sequence[DataCategory],
    eck_chain: bool,
    now: dt.datetime,
) -> Credentials:
    """Register a partner and hand out its client credentials (for the mutation and the command line)."""
    if kind not in PARTNER_KINDS:
        raise BadUserInput(f"a partner is a {' or a '.join(PARTNER_KINDS)}")
    client_id, secret = new_client_id(name), new_client_secret()
    partner_id = await create_partner(
        engine,
        name=name,
        kind=kind,
        declared=categories,
        eck_chain=eck_chain,
        client_id=client_id,
        secret_hash=hash_secret(secret),
        now=now,
    )
    return Credentials(partner_id=partner_id, client_id=client_id, client_secret=secret)


async def create(
    ctx: Context, name: str, kind: str, categories: Sequence[DataCategory], eck_chain: bool
) -> tuple[PartnerRecord, Credentials]:
    """The operator registers a partner."""
    if not may_register_partners(ctx.viewer):
        raise Forbidden("only the hub's operator registers partners")
    credentials = await register_partner(
        ctx.engine, name=name, kind=kind, categories=categories, eck_chain=eck_chain, now=ctx.now
    )
    partner = await ctx.loaders.partners.get(credentials.partner_id)
    if partner is None:
        raise NotFound("the partner was not stored")
    return partner, credentials


async def authenticate_staff(
    engine: AsyncEngine, settings: Settings, email: str, password: str, *, address: str
) -> Viewer:
    """The staff viewer (with the scopes a `signIn` token carries) for a coordinator's e-mail address and
    password, from network `address`. Wrong address and wrong password get the same answer in the same
    time; too many failures for the e-mail address or from the network address are refused
    (`RateLimited`) before the password is checked or the account looked up, so the refusal says nothing
    about whether the account exists. The sign-in page and `signIn` both come in here."""
    async with credential_check(
        engine, settings, subject_kind="account", subject=email, address=address
    ) as check:
        try:
            stored = await account_secret(engine, email)
        except BadUserInput:
            stored = None
        if (
            not verify_secret(stored.secret_hash if stored else None, password)
            or stored is None
            or not stored.active
        ):
            raise Unauthenticated("the e-mail address or the password is not right")
        check.passed()
    return Viewer(
        ViewerKind.STAFF, str(stored.subject_id), frozenset(await staff_scopes(engine, stored.subject_id))
    )


async def staff_scopes(engine: AsyncEngine, account_id: int) -> list[str]:
    """The scopes of a staff account's token or session: staff, and coordinator of which schools."""
    schools = await coordinated_school_codes(engine, account_id)
    return ["staff", *(["coordinator"] if schools else []), *(f"school:{code}" for code in schools)]


async def sign_in(
    engine: AsyncEngine, keys: Keys, settings: Settings, email: str, password: str, *, address: str
) -> tuple[str, dt.datetime]:
    """A staff token for a coordinator's e-mail address and password (`authenticate_staff`)."""
    viewer = await authenticate_staff(engine, settings, email, password, address=address)
    return await keys.mint(ViewerKind.STAFF, viewer.subject_id, sorted(viewer.scopes, key=_scope_order))


def _scope_order(scope: str) -> tuple[int, str]:
    """Scopes in the order tokens always listed them: staff, coordinator, then the schools."""
    return ({"staff": 0, "coordinator": 1}.get(scope, 2), scope)
