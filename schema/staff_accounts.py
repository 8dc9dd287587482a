"""The mutations of staff accounts by mail: invitations, activation, password reset.

Kept apart from the root `Mutation` of `schema.mutations` and joined with it in `schema.assembly`.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from errors import BadUserInput
from resolvers import activation
from schema.classification import resolves_public
from schema.context import Info
from schema.mutations import SignInResult
from schema.relay import from_global_id

_SchoolCode = Annotated[str, strawberry.argument(description="BRIN plus location code, such as 16AH00.")]
_StaffIds = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(
        description="The staff members to invite, as `StaffMember.id`; omitted: every inactive member of"
        " the school with an e-mail address."
    ),
]
_Token = Annotated[str, strawberry.argument(description="The token from the link in the mail.")]
_Password = Annotated[
    str,
    strawberry.argument(
        description="The new password: at least 12 characters, not a common password, not containing your"
        " name or e-mail address. A passphrase of a few unrelated words is best."
    ),
]
_Email = Annotated[str, strawberry.argument(description="The e-mail address the account signs in with.")]


def _shown_staff_ids(staff_ids: list[strawberry.ID] | None) -> list[str] | None:
    if staff_ids is None:
        return None
    shown = []
    for global_id in staff_ids:
        decoded = from_global_id(global_id)
        if decoded is None or decoded[0] != "StaffMember":
            raise BadUserInput("`staffIds` must be StaffMember ids this API returned")
        shown.append(decoded[1])
    return shown


@strawberry.type(description="Staff accounts by mail.")
class StaffAccountMutation:
    """Invitations, activation and password reset of staff accounts."""

    @resolves_public(
        "Send activation mails to your school's inactive staff (coordinator): a one-time link to the address"
        " the LAS delivered, valid for 7 days by default (LEERPOORT_ACTIVATION_LINK_DAYS). Returns how many"
        " mails were queued; they are sent in the background."
    )
    async def send_activation_mails(
        self, info: Info, school_code: _SchoolCode, staff_ids: _StaffIds = None
    ) -> int:
        return await activation.send_activation_mails(info.context, school_code, _shown_staff_ids(staff_ids))

    @resolves_public(
        "Activate your staff account with the token from the activation mail and a new password (needs no"
        " token). A weak password is refused (BAD_USER_INPUT, `extensions.reason` TOO_SHORT, TOO_COMMON or"
        " CONTAINS_PERSONAL_DATA) and the link keeps working; a used or expired link is refused"
        " (`extensions.reason` LINK_USED, LINK_EXPIRED or LINK_INVALID). Signs you in."
    )
    async def activate_account(self, info: Info, token: _Token, password: _Password) -> SignInResult:
        context = info.context
        signed, expires_at = await activation.activate_account(
            context.engine, context.keys, context.settings, token, password
        )
        return SignInResult(token=signed, expires_at=expires_at)

    @resolves_public(
        "Ask for a password-reset mail (needs no token). Always answers true, in the same time, whether or"
        " not the address has an account; rate-limited per address asked for and per network address."
    )
    async def request_password_reset(self, info: Info, email: _Email) -> bool:
        context = info.context
        return await activation.request_password_reset(
            context.engine, context.settings, email, address=context.client_address
        )

    @resolves_public(
        "Choose a new password with the token from the reset mail (needs no token); refused as"
        " `activateAccount` refuses. Signs you in."
    )
    async def reset_password(self, info: Info, token: _Token, password: _Password) -> SignInResult:
        context = info.context
        signed, expires_at = await activation.reset_password(
            context.engine, context.keys, context.settings, token, password
        )
        return SignInResult(token=signed, expires_at=expires_at)
