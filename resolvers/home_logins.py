"""Home login for students (DOMAIN.md, "Single sign-on"): only where the school switched it on
(`setHomeLogin`), the coordinator prints a personal activation code per student (per group), a parent
activates home login on `/thuis` with that code, an e-mail address and a PIN (several children may share
one address), and the child signs in at home with the username the hub gave and that PIN. A forgotten
username or PIN: the parent asks with the address, and the hub mails the usernames and links to choose a
new PIN. What a student may open at home is the launch rule's (products allowed at home only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.credentials import hash_secret, verify_secret
from auth.home_codes import (
    activation_code_hash,
    new_activation_code,
    normalise_activation_code,
    pin_problem,
)
from auth.link_tokens import link_token_hash, new_link_token
from auth.permissions import may_print_login_cards, may_set_coupling
from auth.viewer import Viewer, ViewerKind
from datasources.access import home_logins as stored
from datasources.access import student_logins
from datasources.access.accounts import normalise_email, school_id_by_code
from datasources.access.mail_messages import home_reminder_message
from datasources.store.scoping import internal_id
from errors import BadUserInput, Conflict, Forbidden, RefusedInput, Unauthenticated
from resolvers.credential_checks import credential_check

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from resolvers.context import Context
    from settings import Settings

#: The reminder's answer takes this long whether or not the address has home logins (no probing).
REMINDER_ANSWER_SECONDS: Final = 0.5
#: A generated username: the child's first name (letters only, at most this long) and four digits.
USERNAME_NAME_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class PrintedCode:
    """One student's activation code on the printable page (shown this once)."""

    name: str
    code: str


@dataclass(frozen=True, slots=True)
class PrintedCodes:
    """A group's printable activation codes."""

    school_code: str
    group_name: str
    valid_until: dt.date
    codes: tuple[PrintedCode, ...]


@dataclass(frozen=True, slots=True)
class Activated:
    """A home login just activated: the child's first name and the username to sign in with."""

    first_name: str
    username: str


async def set_home_login(ctx: Context, school_code: str, enabled: bool) -> bool:
    """The coordinator switches home login on or off for the school; answers the new state. Switching it
    off ends home sign-ins at once (their sessions end on their next request)."""
    school_id = await school_id_by_code(ctx.engine, school_code)
    # The same decision as the LAS coupling: the school's own coordinator decides how its pupils get in.
    if school_id is None or not may_set_coupling(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(f"you do not coordinate school {school_code}")
    await stored.set_home_login(ctx.engine, school_id, enabled)
    return enabled


async def print_codes(
    engine: AsyncEngine, settings: Settings, viewer: Viewer, scope: Scope, group_shown_id: str
) -> PrintedCodes:
    """New activation codes for every active student of a group (replacing their unused ones), for the
    coordinator of the group's school, where the school has home login on."""
    group_id = internal_id(scope, "Group", group_shown_id)
    group = None if group_id is None else await student_logins.group_school(engine, group_id)
    if group_id is None or group is None or not may_print_login_cards(viewer, scope, group[0]):
        raise Forbidden("only the coordinator of the group's school prints its activation codes")
    school_id, school_code, group_name = group
    if not await _home_login_on(engine, school_id):
        raise Conflict("home login is off at this school: switch it on first (setHomeLogin)")
    now = settings.now()
    expires_at = now + dt.timedelta(days=settings.home_code_days)
    printed, stored_codes = [], []
    for student in await stored.group_students(engine, group_id):
        code = new_activation_code()
        stored_codes.append((student.student_id, activation_code_hash(normalise_activation_code(code) or "")))
        name = " ".join(part for part in (student.first_name, student.prefix, student.last_name) if part)
        printed.append(PrintedCode(name=name, code=code))
    await stored.replace_codes(
        engine, stored_codes, now=now, expires_at=expires_at, created_by=viewer.subject
    )
    return PrintedCodes(
        school_code=school_code,
        group_name=group_name,
        valid_until=(expires_at - dt.timedelta(seconds=1)).date(),
        codes=tuple(printed),
    )


async def _home_login_on(engine: AsyncEngine, school_id: int) -> bool:
    return await stored.school_home_login(engine, school_id)


async def home_login_of(ctx: Context, school_id: int) -> bool | None:
    """Whether the school has home login on, for its coordinators and the operator; None for others."""
    if not (may_set_coupling(ctx.viewer, ctx.scope, school_id) or ctx.viewer.kind is ViewerKind.OPERATOR):
        return None
    return await stored.school_home_login(ctx.engine, school_id)


async def activate(
    engine: AsyncEngine, settings: Settings, code: str, email: str, pin: str, *, address: str
) -> Activated:
    """A parent activates home login with the printed code, their e-mail address and a PIN.

    `RefusedInput` (a Dutch message for the page) for a PIN that is too weak or an address that is not one;
    `Unauthenticated` for a code that is unknown, used, expired, or of a school without home login (one
    answer, rate-limited per network address, so codes cannot be probed)."""
    if problem := pin_problem(pin):
        raise RefusedInput(problem, "WEAK_PIN")
    try:
        normalised_email = normalise_email(email)
    except BadUserInput:
        raise RefusedInput("Vul een geldig e-mailadres in.", "INVALID_EMAIL") from None
    normalised = normalise_activation_code(code)
    async with credential_check(
        engine, settings, subject_kind="home", subject="activation", address=address
    ) as check:
        holder = (
            None
            if normalised is None
            else await stored.code_holder(engine, activation_code_hash(normalised), now=settings.now())
        )
        if holder is None or not holder.home_login:
            raise Unauthenticated("the activation code is unknown, used or expired")
        check.passed()
    username = await _free_username(engine, holder.first_name)
    activated = await stored.activate(
        engine,
        holder,
        username=username,
        email=normalised_email,
        pin_hash=hash_secret(pin),
        now=settings.now(),
    )
    if activated is None:
        raise Unauthenticated("the activation code is unknown, used or expired")
    return Activated(first_name=holder.first_name or "", username=activated)


async def _free_username(engine: AsyncEngine, first_name: str | None) -> str:
    """A username no home login has: the first name's letters (accents dropped) and four digits."""
    decomposed = unicodedata.normalize("NFKD", first_name or "")
    letters = "".join(char for char in decomposed.lower() if "a" <= char <= "z")[:USERNAME_NAME_LENGTH]
    for _ in range(20):
        candidate = f"{letters or 'leerling'}{secrets.randbelow(9000) + 1000}"
        if not await stored.username_taken(engine, candidate):
            return candidate
    raise Conflict("no free username was found; try again")


async def authenticate(
    engine: AsyncEngine, settings: Settings, username: str, pin: str, *, address: str
) -> tuple[Viewer, str]:
    """The STUDENT viewer and school code for a home username and PIN from `address`; rate-limited per
    username and per address (`RateLimited` before anything is checked); an unknown username, a wrong
    PIN, a school that switched home login off, or a student who left all get one `Unauthenticated`."""
    name = username.strip().lower()[:40]
    async with credential_check(
        engine, settings, subject_kind="home", subject=name, address=address
    ) as check:
        link = await stored.link_by_username(engine, name) if name.isascii() and name.isalnum() else None
        right = verify_secret(link.pin_hash if link else None, pin[:20])
        if not right or link is None or not link.home_login or not link.student_active:
            raise Unauthenticated("the username or the PIN is not right")
        check.passed()
    return Viewer(ViewerKind.STUDENT, str(link.student_id), frozenset({"student"})), link.school_code


def _pin_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/thuis/pincode?{urllib.parse.urlencode({'token': token})}"


async def send_reminder(engine: AsyncEngine, settings: Settings, email: str, *, address: str) -> None:
    """Mail the usernames and PIN links of the home logins with this address, if there are any. The
    answer and its time are the same either way, and requests count against the credential limits of
    the address asked for and of the network address, so nobody floods a mailbox or probes addresses."""
    started = time.monotonic()
    try:
        normalised: str | None = normalise_email(email)
    except BadUserInput:
        normalised = None
    async with credential_check(
        engine, settings, subject_kind="home", subject=f"reminder:{normalised or ''}", address=address
    ):
        links = [] if normalised is None else await stored.links_by_email(engine, normalised)
        # Only where the school still has home login on: a reminder must not revive what it switched off.
        links = [link for link in links if link.home_login]
        if links and normalised is not None:
            now = settings.now()
            tokens = [(link, new_link_token()) for link in links]
            names = await stored.first_names(engine, [link.student_id for link in links])
            message = home_reminder_message(
                sender=settings.mail_from,
                recipient=normalised,
                logins=tuple(
                    (names.get(link.student_id) or "", link.username, _pin_link(settings, token))
                    for link, token in tokens
                ),
                valid_hours=settings.reset_link_hours,
            )
            await stored.queue_reminder(
                engine,
                normalised,
                [(link.id, link_token_hash(token)) for link, token in tokens],
                message,
                now=now,
                expires_at=now + dt.timedelta(hours=settings.reset_link_hours),
            )
    await asyncio.sleep(max(0.0, REMINDER_ANSWER_SECONDS - (time.monotonic() - started)))


async def pin_link_username(engine: AsyncEngine, settings: Settings, token: str) -> str | None:
    """The username whose PIN a link in mail resets, or None when the link is unknown, used or expired."""
    link = await stored.pin_link_holder(engine, link_token_hash(token[:100]), now=settings.now())
    return None if link is None else link.username


async def set_pin(engine: AsyncEngine, settings: Settings, token: str, pin: str) -> str:
    """Follow a PIN link with a new PIN; answers the username. `RefusedInput` for a weak PIN,
    `Unauthenticated` for a link that is unknown, used or expired."""
    token_hash = link_token_hash(token[:100])
    link = await stored.pin_link_holder(engine, token_hash, now=settings.now())
    if link is None:
        raise Unauthenticated("the link is unknown, used or expired")
    if problem := pin_problem(pin):
        raise RefusedInput(problem, "WEAK_PIN")
    if not await stored.set_pin(engine, token_hash, hash_secret(pin), now=settings.now()):
        raise Unauthenticated("the link is unknown, used or expired")
    return link.username
