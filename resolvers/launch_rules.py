"""The launch rule, in one place: which products a signed-in teacher or student may open.

`me.products` (and so the tiles on `/`) and `GET /launch/{productId}` (resolvers.launches) both come here,
and nowhere else decides: the decision itself is `auth.launches.refusal_at_school`, the facts come from
`datasources.access.launch_facts`. A tile is therefore shown exactly when its launch passes, and a refused
launch names the reason the rule found.

`{productId}` in `/launch/{productId}` is the `Product.id` a signed-in person is shown (the global id of
the product's row id: `launch_path`), the same for every person: a product id is no personal data, and
the rule, not the id, decides who may open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.identifiers import HubIdentifiers, decode_global_id, global_id
from auth.launches import LaunchContext, LaunchRefusal, most_telling, refusal_at_school
from auth.viewer import Viewer, ViewerKind
from datasources.access import launch_facts
from datasources.access.memberships import staff_memberships, student_memberships
from datasources.store.reader import Reader
from resolvers.school_networks import context_at

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Membership
    from settings import Settings

LAUNCH_PREFIX: Final = "/launch/"
#: A subject id is a database key: more digits than this cannot be one.
_MAX_DIGITS: Final = 18


@dataclass(frozen=True, slots=True)
class LaunchableProduct:
    """A product the person may open now, at one of their schools, with what the launch tells the partner."""

    #: The product's row id; also the `{productId}` of `/launch/{productId}`.
    product_id: int
    #: The partner's text: escape it wherever it is shown.
    name: str
    partner_id: int
    partner_name: str
    allowed_at_home: bool
    #: The product's own address (where the partner's login starts), as the publisher set it.
    target_url: str | None
    #: The partner's OAuth client id and its login-initiation URI (where the launch sends the browser).
    client_id: str
    login_initiation_uri: str | None
    school_id: int
    school_code: str
    instelling_ref: str
    #: "staff" or "student": the kind of the partner pseudonym (`scope.identifiers.pseudonym(kind, person)`).
    member_kind: str
    #: The staff member or student row at that school.
    member_id: int
    person_id: int
    #: The person's current groups at that school that the product is coupled to, sorted.
    group_ids: tuple[int, ...]


def launch_path(product_id: int) -> str:
    """The path that opens a product: `/launch/` and its `Product.id` as staff and students see it."""
    return f"{LAUNCH_PREFIX}{global_id('Product', str(product_id))}"


def launch_url(settings: Settings, product_id: int) -> str:
    """The absolute address that opens a product, on the hub's issuer (where the launch runs)."""
    return f"{settings.issuer.rstrip('/')}{launch_path(product_id)}"


def product_id_from_path(segment: str) -> int | None:
    """The product row id of a `/launch/{productId}` segment (a `Product.id` of `launch_path`); None for
    anything else, such as a partner's sealed id or another type's id."""
    decoded = decode_global_id(segment)
    if decoded is None or decoded[0] != "Product":
        return None
    return HubIdentifiers().resolve("Product", decoded[1])


async def memberships_of(reader: Reader, viewer: Viewer, today: dt.date) -> tuple[Membership, ...]:
    """The current school memberships of a signed-in teacher (every activated staff member with the
    account's address) or student; none for any other viewer, or a subject that names nothing; for a
    viewer a network provider vouched for, only those at its school (`Viewer.school_code`)."""
    subject = viewer.subject_id
    if not (subject.isascii() and subject.isdigit()) or len(subject) > _MAX_DIGITS:
        return ()
    if viewer.kind is ViewerKind.STAFF:
        found = await staff_memberships(reader, int(subject), today)
    elif viewer.kind is ViewerKind.STUDENT:
        found = await student_memberships(reader, int(subject), today)
    else:
        return ()
    if viewer.via_assertion:
        # A network provider vouched for the person at one school: their memberships elsewhere (of the
        # same address, or the same student id) are not its to open.
        return await _at_school(reader, found, viewer.school_code)
    return found


async def _at_school(
    reader: Reader, memberships: tuple[Membership, ...], school_code: str | None
) -> tuple[Membership, ...]:
    """The memberships at the school of `school_code` (none without a code)."""
    if not school_code or not memberships:
        return ()
    wanted = school_code.strip().upper()
    at = await launch_facts.schools_by_id(reader, {membership.school_id for membership in memberships})
    return tuple(m for m in memberships if m.school_id in at and at[m.school_id].code == wanted)


async def _decide(
    reader: Reader,
    settings: Settings,
    viewer: Viewer,
    today: dt.date,
    *,
    context: LaunchContext,
    only_product: int | None,
    memberships: tuple[Membership, ...] | None = None,
    address: str | None = None,
    school_code: str | None = None,
) -> tuple[list[LaunchableProduct], LaunchRefusal]:
    """The launchable products of the viewer (or of one product), and the most telling refusal otherwise;
    `memberships` are the viewer's, when the caller has read them already; `school_code` keeps only the
    membership at that school (a session a network provider started vouches for that school alone)."""
    if only_product is not None and not await launch_facts.products_by_id(reader, {only_product}):
        return [], LaunchRefusal.UNKNOWN_PRODUCT  # whoever asks: an unknown product is not found
    read_here = memberships is None
    if memberships is None:
        memberships = await memberships_of(reader, viewer, today)
    # A network provider's viewer is confined to its school by `memberships_of` already (the same code as
    # its session's); anyone else's session school narrows here.
    if school_code is not None and not (read_here and viewer.via_assertion):
        memberships = await _at_school(reader, memberships, school_code)
    if not memberships:
        return [], LaunchRefusal.NOT_A_MEMBER
    coupled = await launch_facts.coupled_groups(reader, memberships, today)
    product_ids = {product for product, _ in coupled} if only_product is None else {only_product}
    products = await launch_facts.products_by_id(reader, product_ids)
    by_school = {membership.school_id: membership for membership in memberships}
    consents = await launch_facts.consents_in_force(
        reader, by_school, {product.partner_id for product in products.values()}
    )
    schools = await launch_facts.schools_by_id(reader, by_school)
    allowed: list[LaunchableProduct] = []
    refusals: list[LaunchRefusal] = []
    #: With the client's address, each school's own networks decide where the person is.
    contexts: dict[int, LaunchContext] = {}
    for product in sorted(products.values(), key=lambda product: (product.name.casefold(), product.id)):
        for school_id, membership in sorted(by_school.items()):
            groups = coupled.get((product.id, school_id), ())
            school = schools[school_id]
            if address is not None:
                if school_id not in contexts:
                    contexts[school_id] = await context_at(reader.engine, school_id, address)
                context = contexts[school_id]
            refusal = refusal_at_school(
                consents.get((school_id, product.partner_id)),
                product.declared,
                require_dpa=settings.dpa_required,
                coupled=bool(groups),
                allowed_at_home=product.allowed_at_home,
                home_login=school.home_login,
                student=membership.kind == "student",
                context=context,
                connected=product.connected,
            )
            if refusal is not None:
                refusals.append(refusal)
                continue
            allowed.append(
                LaunchableProduct(
                    product_id=product.id,
                    name=product.name,
                    partner_id=product.partner_id,
                    partner_name=product.partner_name,
                    allowed_at_home=product.allowed_at_home,
                    target_url=product.target_url,
                    client_id=product.client_id,
                    login_initiation_uri=product.login_initiation_uri,
                    school_id=school_id,
                    school_code=school.code,
                    instelling_ref=school.instelling_ref,
                    member_kind=membership.kind,
                    member_id=membership.member_id,
                    person_id=membership.person_id,
                    group_ids=groups,
                )
            )
            break  # one school suffices to open it; the first (by school id) is the one launched
    return allowed, most_telling(refusals)


async def launchable_products_on(
    reader: Reader,
    settings: Settings,
    viewer: Viewer,
    *,
    today: dt.date,
    context: LaunchContext = LaunchContext.SCHOOL,
    memberships: tuple[Membership, ...] | None = None,
    address: str | None = None,
) -> list[LaunchableProduct]:
    """The products the viewer may open on `today`, by name, on an open reader (a request's own);
    `memberships` are the viewer's (`memberships_of`), when the caller has read them already; `address`
    as for `launchable_products`."""
    allowed, _ = await _decide(
        reader,
        settings,
        viewer,
        today,
        context=context,
        only_product=None,
        memberships=memberships,
        address=address,
    )
    return allowed


async def launchable_products(
    engine: AsyncEngine,
    settings: Settings,
    viewer: Viewer,
    *,
    now: dt.datetime,
    context: LaunchContext = LaunchContext.SCHOOL,
    address: str | None = None,
) -> list[LaunchableProduct]:
    """The products a signed-in teacher or student may open now, by name (none for any other viewer).
    With the client's network `address`, each school's registered networks decide whether the person is
    at school or at home there (`resolvers.school_networks.context_at`), in place of `context`."""
    reader = Reader(engine)
    try:
        return await launchable_products_on(
            reader, settings, viewer, today=now.date(), context=context, address=address
        )
    finally:
        await reader.close()


async def launch_decision(
    engine: AsyncEngine,
    settings: Settings,
    viewer: Viewer,
    product_id: int,
    *,
    now: dt.datetime,
    context: LaunchContext = LaunchContext.SCHOOL,
    address: str | None = None,
    school_code: str | None = None,
) -> LaunchableProduct | LaunchRefusal:
    """Whether the viewer may open this product now: the product at the first school where the rule lets
    them, or the refusal that came furthest through the rule at their schools. `address` as for
    `launchable_products` (pass the client's address so the launch decides as `me` does); `school_code`
    (a session's school) keeps only the membership there."""
    reader = Reader(engine)
    try:
        allowed, refusal = await _decide(
            reader,
            settings,
            viewer,
            now.date(),
            context=context,
            only_product=product_id,
            address=address,
            school_code=school_code,
        )
    finally:
        await reader.close()
    return allowed[0] if allowed else refusal


__all__ = [
    "LaunchContext",
    "LaunchRefusal",
    "LaunchableProduct",
    "launch_decision",
    "launch_path",
    "launch_url",
    "launchable_products",
    "launchable_products_on",
    "memberships_of",
    "product_id_from_path",
]
