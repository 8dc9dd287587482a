"""Who may do what: every allow-or-deny decision on an operation, one named function each.

The policy (`auth.policy`) decides what a viewer may *read*; this module decides which *operations* a
viewer may perform at all: list the hub's registers, change consent, import a school's file, follow the
feed. Each function is pure and synchronous, so it is cheap to call and tested exhaustively without a
database (tests/auth/test_permissions.py). Where a decision needs facts from the store (the schools a
LAS client serves), the caller loads them and passes them in. The caller also chooses the refusal (its
message and error code), so the answers partners and schools already rely on stay as they are.

The kinds of viewer (`ViewerKind`): the hub's operator (its helpdesk), partners (publishers and network
providers, reading under consent), LAS clients (school administration systems pushing files), school staff
(a school's ICT coordinator), students, and anonymous callers (no token). Students and anonymous callers
may do none of the operations below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from auth.categories import DataCategory
from auth.viewer import Viewer, ViewerKind

if TYPE_CHECKING:
    from collections.abc import Collection

    from auth.policy import Scope

#: Who follows the change feed: those whose scope has schools to tell about.
_FEED_READERS: Final = frozenset({ViewerKind.PARTNER, ViewerKind.STAFF, ViewerKind.OPERATOR})

#: Who hands a school's file to the hub through the graph (EDEXML or the CSV template).
_UPLOADERS: Final = frozenset({ViewerKind.STAFF, ViewerKind.OPERATOR})


def _is_operator(viewer: Viewer) -> bool:
    return viewer.kind is ViewerKind.OPERATOR


def _coordinates(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A member of the school's own staff who coordinates it (the operator manages every school in its
    scope, but is not the school: decisions that are the school's own stay with its coordinator)."""
    return viewer.kind is ViewerKind.STAFF and scope.manages(school_id)


def may_list_boards(viewer: Viewer) -> bool:
    """Only the operator lists the boards (besturen): the register of every board is the hub's own
    administration; partners and schools reach a board through the schools they see."""
    return _is_operator(viewer)


def may_list_partners(viewer: Viewer) -> bool:
    """Only the operator lists the partners: which publishers and networks use the hub is the hub's own
    business; a school sees the partners it deals with through its consents and requests."""
    return _is_operator(viewer)


def may_register_partners(viewer: Viewer) -> bool:
    """Only the operator registers a partner (and so hands out client credentials): a partner that could
    register itself or others would choose its own access."""
    return _is_operator(viewer)


def may_record_dpa(viewer: Viewer) -> bool:
    """Only the operator records a board's signed data processing agreement (DPA, verwerkersovereenkomst):
    the signature unlocks disclosure for every school of the board, so no school or partner may claim it."""
    return _is_operator(viewer)


def may_read_feed(viewer: Viewer) -> bool:
    """Partners, school staff and the operator follow the change feed (query and subscription alike);
    each sees only the events of its own scope. LAS clients, students and anonymous callers have no feed:
    they have no scope to be told about."""
    return viewer.kind in _FEED_READERS


def may_read_rosters(viewer: Viewer) -> bool:
    """Only a partner reads OneRoster (the REST rostering endpoints and the bulk export): the binding is
    for partners' tools, and its sourcedIds are the partner's own sealed ids, which other viewers lack."""
    return viewer.kind is ViewerKind.PARTNER


def may_acknowledge_deletion(viewer: Viewer) -> bool:
    """Only a partner confirms that it deleted what left its scope: the confirmation is the partner's own
    statement, which the school's coordinator then reads."""
    return viewer.kind is ViewerKind.PARTNER


def may_read_consent_history(viewer: Viewer) -> bool:
    """Only a partner reads a consent history, and only its own (the query is limited to it): every receipt
    it was given, revocations included, also of schools it lost; so it can prove what it was allowed and
    learn what to delete. Another partner's receipts are that partner's business and the schools'."""
    return viewer.kind is ViewerKind.PARTNER


def may_request_consent(viewer: Viewer) -> bool:
    """Only a partner asks a school for consent, for itself (the categories it declared)."""
    return viewer.kind is ViewerKind.PARTNER


def may_manage_consent(viewer: Viewer) -> bool:
    """Whether this viewer is of the kind that grants and revokes consent at all: only a school's own
    staff. Consent is the school's decision: the operator, though it manages every school, does not take
    it on the school's behalf, and a partner never grants itself. Which schools: `may_manage_consent_at`."""
    return viewer.kind is ViewerKind.STAFF


def may_manage_consent_at(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's ICT coordinator grants and revokes consent at the schools it coordinates, and only there
    (a coordinator of another school may not)."""
    return _coordinates(viewer, scope, school_id)


def may_set_coupling(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's ICT coordinator suspends and resumes the school's automatic LAS coupling, at the schools
    it coordinates only. The coupling is the school's choice of supplier, not the operator's or the LAS's."""
    return _coordinates(viewer, scope, school_id)


def may_upload_imports(viewer: Viewer) -> bool:
    """A school's coordinator and the operator upload a school's file by hand (through the graph); a LAS
    client pushes to its own endpoint instead, and partners never write a school's data."""
    return viewer.kind in _UPLOADERS


def may_push_school_files(viewer: Viewer) -> bool:
    """Only a LAS client pushes a school's file to the LAS endpoint (`POST /las/edex`): the endpoint is
    the automatic coupling, and people upload through the graph."""
    return viewer.kind is ViewerKind.LAS


def may_import(
    viewer: Viewer, scope: Scope | None, school_id: int, *, las_school_ids: Collection[int]
) -> bool:
    """Whether the viewer may import a file for this (known) school: the operator for any school; a
    coordinator for the schools it coordinates (its `scope`); a LAS client for the schools it serves
    (`las_school_ids`, loaded by the caller for a LAS client). Whether a suspended coupling stops the
    import is a second decision: `stopped_by_suspended_coupling`."""
    if _is_operator(viewer):
        return True
    if viewer.kind is ViewerKind.STAFF:
        return scope is not None and scope.manages(school_id)
    if viewer.kind is ViewerKind.LAS:
        return school_id in las_school_ids
    return False


def may_import_unknown_school(viewer: Viewer) -> bool:
    """Only the operator imports for a school the hub does not hold yet (the import takes the school from
    the DUO registry): anyone else could make the hub adopt a school it has no agreement with."""
    return _is_operator(viewer)


def stopped_by_suspended_coupling(viewer: Viewer) -> bool:
    """A school that suspended its automatic coupling refuses the LAS client's pushes only: its
    coordinator's and the operator's hand uploads still go through (that is how a school moves off a LAS)."""
    return viewer.kind is ViewerKind.LAS


def may_read_schema(viewer: Viewer, *, sandbox: bool) -> bool:
    """Whether the viewer may read the schema itself (introspection, `_service { sdl }`): partners in
    production may not, they build against the published SDL (`python server.py export-schema`), so the
    live schema is no map for probing; in the sandbox partners may, and other viewers always may."""
    return sandbox or viewer.kind is not ViewerKind.PARTNER


def may_query_graph(viewer: Viewer) -> bool:
    """Everyone but a LAS client asks the graph over HTTP (`POST /graphql`): a LAS client's token is for
    pushing its schools' files to `POST /las/edex` only, so a leaked one reads nothing of the graph."""
    return viewer.kind is not ViewerKind.LAS


def may_look_up_partner(
    viewer: Viewer, scope: Scope, partner_id: int, *, partners_at_schools: Collection[int]
) -> bool:
    """Whether a lookup by id (`node`, `_entities`) of a partner, or of one of its products, answers this
    viewer. The operator sees every partner; a partner sees itself; a school's coordinator sees the
    partners that asked consent of, hold or held consent at, or license products to the schools it
    coordinates (`partners_at_schools`, loaded by the caller for staff), so every partner id it was shown
    resolves. Nobody else: the directory of partners cannot be walked id by id."""
    if _is_operator(viewer):
        return True
    if viewer.kind is ViewerKind.PARTNER:
        return scope.partner_id == partner_id
    if viewer.kind is ViewerKind.STAFF:
        return partner_id in partners_at_schools
    return False


def may_send_activation_mails(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's ICT coordinator invites the school's staff to activate their accounts, at the schools
    it coordinates only: the invitation vouches that the address in the LAS is the person's own, which is
    the school's word. The operator does not (it is not the school), nor any partner."""
    return _coordinates(viewer, scope, school_id)


def may_manage_staff_roles_at(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's coordinator (or a board coordinator managing the school) gives and takes the roles the
    LAS does not deliver, adds staff members the LAS does not know, and makes others coordinator, at the
    schools it manages only: a role on a person of another school is refused. The operator does not: who
    does what at a school is the school's own decision."""
    return _coordinates(viewer, scope, school_id)


def may_add_board_coordinators(viewer: Viewer) -> bool:
    """Only the operator makes an account the board coordinator (bovenschools) of a board: it opens every
    chosen school of the board to that account, which only the board's signed request to the helpdesk
    justifies."""
    return _is_operator(viewer)


def may_read_board(viewer: Viewer, scope: Scope, board_id: int) -> bool:
    """The operator reads every board's overview; a board coordinator the boards it coordinates (and
    there only the schools it manages). Others reach a board through a school they see."""
    return _is_operator(viewer) or (viewer.kind is ViewerKind.STAFF and board_id in scope.managed_board_ids)


def may_open_school_accounts(viewer: Viewer) -> bool:
    """Only the operator (the helpdesk) opens a school account and its first coordinator, and only with
    the board's signed request recorded: a school cannot open itself, nor a partner a school."""
    return _is_operator(viewer)


def may_manage_locations(viewer: Viewer) -> bool:
    """Only the operator adds, renames and ends the managed locations DUO does not list: the register of
    school locations is the hub's own administration."""
    return _is_operator(viewer)


def may_post_announcements(viewer: Viewer) -> bool:
    """Only the operator posts announcements (maintenance, incidents) that every user of the hub reads."""
    return _is_operator(viewer)


def may_read_announcements(viewer: Viewer) -> bool:
    """Everyone reads the current announcements, without a token too: a notice of an outage must reach
    those who cannot sign in."""
    del viewer  # every kind, the anonymous caller included
    return True


def may_create_products(viewer: Viewer, scope: Scope, *, publisher: bool) -> bool:
    """Only a publisher (uitgeverij) creates products, and always its own (`publisher`: the caller loaded
    the partner's kind): a network provider offers access, not licensed methods; no school, LAS or the
    operator makes a product in a partner's name."""
    return viewer.kind is ViewerKind.PARTNER and scope.partner_id is not None and publisher


def may_manage_license(viewer: Viewer, scope: Scope, school_id: int, *, product_partner_id: int) -> bool:
    """A publisher creates, changes and ends licenses of its own products only (`product_partner_id`, the
    product's partner, loaded by the caller), and only at a school that granted it `LICENSE` consent: the
    license is the publisher's word, and a license of another publisher's product stays untouchable."""
    return (
        viewer.kind is ViewerKind.PARTNER
        and scope.partner_id == product_partner_id
        and DataCategory.LICENSE in scope.categories_for(school_id)
    )


def may_couple_license(viewer: Viewer, scope: Scope, school_id: int, *, product_partner_id: int) -> bool:
    """Who couples a license to groups (and uncouples it): its publisher, as `may_manage_license` allows;
    or the school's own coordinator by hand, at the schools it coordinates (which pupils use a method is
    also the school's choice). The operator does not: it is neither the school nor the publisher."""
    return may_manage_license(viewer, scope, school_id, product_partner_id=product_partner_id) or (
        _coordinates(viewer, scope, school_id)
    )


def may_read_shortcuts(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's coordinator (or a board coordinator managing it) and the operator read the school's
    INSTELLING_REF and download its sign-in shortcuts. Nobody else: a partner receives the reference only
    in a sign-in's id_token (DOMAIN.md, "Single sign-on"), never by reading the graph; a teacher or student
    uses the shortcut, the coordinator hands it out."""
    return _is_operator(viewer) or _coordinates(viewer, scope, school_id)


def may_manage_school_networks(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's coordinator (or a board coordinator managing it) registers and removes the school's
    network ranges and its network tokens, at the schools it manages only: which addresses count as "at
    school" decides what students may open, which is the school's decision. The operator reads them
    (`may_read_school_networks`) but does not change them; a partner never does either."""
    return _coordinates(viewer, scope, school_id)


def may_read_school_networks(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """The school's coordinators and the operator (the helpdesk answers "why is this at home?") see the
    school's registered ranges; partners and teachers do not (a school's addresses are its own)."""
    return _is_operator(viewer) or _coordinates(viewer, scope, school_id)


def may_set_student_logins(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """A school's coordinator sets its students' logins (username, password, picture code), at the schools
    it coordinates only; the operator (the helpdesk) may too, for a school that asks for help. Nobody
    else: a login opens the student's products, so who holds it is the school's decision."""
    return _is_operator(viewer) or _coordinates(viewer, scope, school_id)


def may_print_login_cards(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """Only the school's own coordinator prints a group's login cards (they show the picture codes): the
    cards are handed to the children at school, which the helpdesk does not do."""
    return _coordinates(viewer, scope, school_id)


def may_register_oidc_client(viewer: Viewer, scope: Scope, partner_id: int) -> bool:
    """Who registers a partner's OpenID Connect client (its redirect and login-initiation URIs): the
    operator for any partner, or the partner itself for its own client. A school, a LAS or another
    partner may not choose where a partner's sign-ins return to."""
    return _is_operator(viewer) or (viewer.kind is ViewerKind.PARTNER and scope.partner_id == partner_id)


def may_change_school_lifecycle(viewer: Viewer) -> bool:
    """Only the operator (the hub's helpdesk) merges, splits, closes or transfers schools, and finishes
    such an operation: each moves people and consents between schools or ends them, which no school,
    board coordinator or partner may decide for another school (the boards' signed requests reach the
    helpdesk, which carries them out)."""
    return _is_operator(viewer)


def may_read_coupling_state(viewer: Viewer, scope: Scope, school_id: int) -> bool:
    """Whether a school's automatic LAS coupling is suspended is the school's administration: its
    coordinators (who may suspend it) and the operator see it; partners do not."""
    return _is_operator(viewer) or _coordinates(viewer, scope, school_id)


def may_register_assertion_keys(viewer: Viewer, *, own_keys: bool, network_provider: bool) -> bool:
    """A network provider registers (and reads back) its own assertion signing keys (`own_keys`: the
    partner the keys are for is the token's); the operator may do it for any network provider, for one
    that asks the helpdesk. Only network providers sign people in, so a publisher has no keys to
    register, and nobody registers keys for another partner: they would sign its users in."""
    if not network_provider:
        return False
    return _is_operator(viewer) or (viewer.kind is ViewerKind.PARTNER and own_keys)
