"""Staff accounts by mail: the coordinator's invitations, activating an account, and resetting a password.

Every message goes through the mail queue (`datasources.access.mail_queue`), so no request waits on a
mail server. Links point at the hub's pages under `LEERPOORT_PUBLIC_URL` (`/activeren`, `/wachtwoord`);
the token in them is random and stored only as a hash. A new password must pass the policy
(`auth.passwords`) before a link is used, so a refused password leaves the link working.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import urllib.parse
from typing import TYPE_CHECKING, Final

from auth.credentials import hash_secret
from auth.link_tokens import link_token_hash, new_link_token
from auth.passwords import password_problem
from auth.permissions import may_send_activation_mails
from auth.viewer import ViewerKind
from datasources.access import activation
from datasources.access.accounts import coordinated_school_codes, normalise_email, school_id_by_code
from datasources.access.mail_messages import activation_message, reset_message
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, RefusedInput
from resolvers.credential_checks import credential_check

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from resolvers.context import Context
    from resolvers.signing import Keys
    from settings import Settings

#: `requestPasswordReset` answers no sooner than this (seconds), whether or not the address has an account,
#: so the time of the answer does not tell which addresses are registered.
RESET_ANSWER_SECONDS: Final = 0.4


def _link(settings: Settings, page: str, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/{page}?{urllib.parse.urlencode({'token': token})}"


def _full_name(invitee: activation.Invitee) -> str:
    return " ".join(part for part in (invitee.first_name, invitee.prefix, invitee.last_name) if part)


async def send_activation_mails(ctx: Context, school_code: str, shown_staff_ids: Sequence[str] | None) -> int:
    """The coordinator invites the school's inactive staff (all with an address, or those named) to
    activate their accounts; returns how many invitations were queued."""
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_send_activation_mails(ctx.viewer, ctx.scope, school_id):
        raise Forbidden("only the school's own coordinator invites its staff")
    member_ids: list[int] | None = None
    if shown_staff_ids is not None:
        member_ids = []
        for shown in shown_staff_ids:
            member_id = internal_id(ctx.scope, "StaffMember", shown)
            if member_id is None:
                raise BadUserInput("`staffIds` must be StaffMember ids this API returned")
            member_ids.append(member_id)
    settings = ctx.settings
    links = []
    for invitee in await activation.inactive_members(ctx.engine, school_id, member_ids):
        token = new_link_token()
        message = activation_message(
            sender=settings.mail_from,
            recipient=invitee.email,
            name=_full_name(invitee),
            school=invitee.school_name,
            link=_link(settings, "activeren", token),
            valid_days=settings.activation_link_days,
        )
        links.append(
            activation.QueuedLink(
                link_token_hash(token), invitee.email, message, staff_member_id=invitee.staff_member_id
            )
        )
    return await activation.queue_links(
        ctx.engine,
        activation.ACTIVATION,
        links,
        now=ctx.now,
        valid=dt.timedelta(days=settings.activation_link_days),
    )


def _check_password(password: str, holder: activation.LinkHolder) -> None:
    problem = password_problem(password, email=holder.email, names=holder.names)
    if problem is not None:
        raise RefusedInput(problem.message, problem.reason)


async def _staff_token(engine: AsyncEngine, keys: Keys, account_id: int) -> tuple[str, dt.datetime]:
    """A staff token for the account, as `signIn` hands it out."""
    schools = await coordinated_school_codes(engine, account_id)
    scopes = ["staff", *(["coordinator"] if schools else []), *(f"school:{code}" for code in schools)]
    return await keys.mint(ViewerKind.STAFF, str(account_id), scopes)


async def activate_account(
    engine: AsyncEngine, keys: Keys, settings: Settings, token: str, password: str
) -> tuple[str, dt.datetime]:
    """Follow an activation link with a new password: the account is active and signed in."""
    token_hash = link_token_hash(token)
    holder = await activation.link_holder(engine, token_hash, activation.ACTIVATION, now=settings.now())
    _check_password(password, holder)
    account_id = await activation.activate(engine, token_hash, hash_secret(password), now=settings.now())
    return await _staff_token(engine, keys, account_id)


async def request_password_reset(
    engine: AsyncEngine, settings: Settings, email: str, *, address: str
) -> bool:
    """Mail a reset link to the active account with this address, if there is one. The answer (true)
    and its time are the same either way; requests count against the credential limits of the address
    asked for and of the network address, so the mutation cannot flood a mailbox or probe addresses."""
    started = time.monotonic()
    async with credential_check(
        engine, settings, subject_kind="account", subject=f"reset:{email.strip().lower()}", address=address
    ):
        try:
            normalised: str | None = normalise_email(email)
        except BadUserInput:
            normalised = None
        account_id = None if normalised is None else await activation.resettable_account(engine, normalised)
        if account_id is not None and normalised is not None:
            token = new_link_token()
            message = reset_message(
                sender=settings.mail_from,
                recipient=normalised,
                link=_link(settings, "wachtwoord", token),
                valid_hours=settings.reset_link_hours,
            )
            link = activation.QueuedLink(link_token_hash(token), normalised, message, account_id=account_id)
            await activation.queue_links(
                engine,
                activation.RESET,
                [link],
                now=settings.now(),
                valid=dt.timedelta(hours=settings.reset_link_hours),
            )
    await asyncio.sleep(max(0.0, RESET_ANSWER_SECONDS - (time.monotonic() - started)))
    return True


async def reset_password(
    engine: AsyncEngine, keys: Keys, settings: Settings, token: str, password: str
) -> tuple[str, dt.datetime]:
    """Follow a reset link with a new password: the account has it and is signed in."""
    token_hash = link_token_hash(token)
    holder = await activation.link_holder(engine, token_hash, activation.RESET, now=settings.now())
    _check_password(password, holder)
    account_id = await activation.reset_password(
        engine, token_hash, hash_secret(password), now=settings.now()
    )
    return await _staff_token(engine, keys, account_id)
