"""From an authenticated viewer to its scope: load the facts, let the policy decide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.policy import Scope, empty_scope, operator_scope, partner_scope, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access.kept_facts import current_partner_facts
from datasources.access.viewer_facts import staff_facts, student_may_sign_in
from datasources.store.reader import Reader
from errors import Unauthenticated

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings


async def scope_of(reader: Reader, viewer: Viewer, settings: Settings) -> Scope:
    """The scope of this request's viewer. A token whose partner or account no longer exists (or was
    disabled) is refused as if it were invalid, so deleting a client cuts its access at once."""
    if viewer.kind is ViewerKind.OPERATOR:
        return operator_scope(viewer)
    if viewer.kind is ViewerKind.PARTNER:
        facts = await current_partner_facts(reader, viewer.subject_id)
        if facts is None:
            raise Unauthenticated("the token's partner is not registered")
        return partner_scope(
            viewer,
            facts,
            require_dpa=settings.dpa_required,
            pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        )
    if viewer.kind is ViewerKind.STAFF:
        account_id = viewer.subject_id
        staff = (
            await staff_facts(reader, int(account_id), via_assertion=viewer.via_assertion)
            if account_id.isascii() and account_id.isdigit()
            else None
        )
        if staff is None:
            raise Unauthenticated("the token's account does not exist or is disabled")
        return staff_scope(viewer, staff)
    if viewer.kind is ViewerKind.STUDENT:
        student_id = viewer.subject_id
        if not (student_id.isascii() and student_id.isdigit() and len(student_id) <= 18) or not (
            await student_may_sign_in(reader, int(student_id), via_assertion=viewer.via_assertion)
        ):
            raise Unauthenticated("the token's student no longer has a login at their school")
    return empty_scope(viewer)


async def allowed_operations(engine: AsyncEngine, viewer: Viewer) -> frozenset[str] | None:
    """The SHA-256 hashes of the operations a viewer may run: a partner's allow-list, from the facts its
    requests keep (`kept_facts`); None for any operation (no list, or not a partner). Read on a reader of
    its own, so that it never waits for a connection its caller holds."""
    if viewer.kind is not ViewerKind.PARTNER:
        return None
    reader = Reader(engine)
    try:
        facts = await current_partner_facts(reader, viewer.subject_id)
    finally:
        await reader.close()
    return None if facts is None else facts.allowed_operations
