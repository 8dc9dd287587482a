"""A school's sign-in shortcuts: the INSTELLING_REF, the sign-in links that carry it, and the files a
coordinator hands out (DOMAIN.md: "Each has an opaque, unique, stable INSTELLING_REF used in its login
shortcuts").

Links: `{public_url}/login?school=<INSTELLING_REF>` for staff and the same with `&soort=leerling`
for students, so a shortcut opens the right school's sign-in page. The reference never changes (not at
a school-year transition, not when DUO gives the location a new BRIN), so shortcuts keep working; the
sign-in page answers a location that merged into another as that one
(`resolvers.student_logins.login_school`), so old shortcuts point there.

Files, per audience (staff, students):
- a Windows Internet Shortcut (`.url`): `[InternetShortcut]` with `URL=`;
- an Apple configuration profile (`.mobileconfig`): a plist with one `com.apple.webClip.managed` payload,
  whose PayloadUUIDs are derived from the reference, so the same school always gets the same profile (a
  device that installs it again replaces it rather than adding a second);
- a managed-bookmarks list as Chrome, ChromeOS and Android device management import it (the
  `ManagedBookmarks` policy): `[{"toplevel_name": ...}, {"name": ..., "url": ...}]`.
"""

from __future__ import annotations

import enum
import json
import plistlib
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.permissions import may_read_shortcuts

if TYPE_CHECKING:
    from datasources.store.records import SchoolRecord
    from resolvers.context import Context
    from settings import Settings

#: The namespace of the profiles' stable UUIDs (uuid5 of the reference and the payload's role).
_PROFILE_NAMESPACE: Final = uuid.UUID("6f1d6a52-3c39-5b4e-9d57-3f1e0c7a2b10")


class Audience(enum.Enum):
    """Who a shortcut is for: the school's staff or its students (leerlingen)."""

    STAFF = "STAFF"
    STUDENTS = "STUDENTS"


class ShortcutFormat(enum.Enum):
    """The kind of shortcut file."""

    WINDOWS_URL = "WINDOWS_URL"
    APPLE_WEB_CLIP = "APPLE_WEB_CLIP"
    MANAGED_BOOKMARKS = "MANAGED_BOOKMARKS"


@dataclass(frozen=True, slots=True)
class ShortcutFile:
    """One shortcut file, ready to download."""

    file_name: str
    media_type: str
    format: ShortcutFormat
    audience: Audience
    #: The sign-in link the file opens.
    url: str
    content: str


_AUDIENCE_NL: Final = {Audience.STAFF: "leerkrachten", Audience.STUDENTS: "leerlingen"}


def sign_in_url(settings: Settings, instelling_ref: str, audience: Audience) -> str:
    """The sign-in link of a school for an audience, on the hub's public address."""
    query = {"school": instelling_ref, **({"soort": "leerling"} if audience is Audience.STUDENTS else {})}
    return f"{settings.public_url.rstrip('/')}/login?{urllib.parse.urlencode(query)}"


def _stable_uuid(instelling_ref: str, audience: Audience, role: str) -> str:
    return str(uuid.uuid5(_PROFILE_NAMESPACE, f"{instelling_ref}/{audience.value}/{role}")).upper()


def _windows_url(url: str) -> str:
    # Windows reads .url files as INI text; CRLF line ends are what it writes itself.
    return f"[InternetShortcut]\r\nURL={url}\r\n"


def _web_clip_profile(school_name: str, instelling_ref: str, audience: Audience, url: str) -> str:
    who = _AUDIENCE_NL[audience]
    identifier = f"nl.leerpoort.shortcut.{instelling_ref}.{audience.value.lower()}"
    clip = {
        "PayloadType": "com.apple.webClip.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.webclip",
        "PayloadUUID": _stable_uuid(instelling_ref, audience, "webclip"),
        "PayloadDisplayName": f"Leerpoort ({who})",
        "Label": "Leerpoort",
        "URL": url,
        "IsRemovable": True,
        "FullScreen": False,
        "Precomposed": True,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": _stable_uuid(instelling_ref, audience, "profile"),
        "PayloadDisplayName": f"Leerpoort {school_name} ({who})",
        "PayloadDescription": (
            f"Zet de inlogknop van Leerpoort voor {who} van {school_name} op het beginscherm."
        ),
        "PayloadOrganization": school_name,
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [clip],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def _managed_bookmarks(school_name: str, audience: Audience, url: str) -> str:
    bookmarks = [
        {"toplevel_name": "Leerpoort"},
        {"name": f"Leerpoort {school_name} ({_AUDIENCE_NL[audience]})", "url": url},
    ]
    return json.dumps(bookmarks, ensure_ascii=False, indent=2) + "\n"


def shortcut_files(
    settings: Settings, school_code: str, school_name: str, instelling_ref: str
) -> list[ShortcutFile]:
    """Every shortcut file of a school: each format for staff and for students."""
    files: list[ShortcutFile] = []
    for audience in Audience:
        url = sign_in_url(settings, instelling_ref, audience)
        stem = f"leerpoort-{school_code.lower()}-{_AUDIENCE_NL[audience]}"
        files += [
            ShortcutFile(
                f"{stem}.url",
                "application/x-mswinurl",
                ShortcutFormat.WINDOWS_URL,
                audience,
                url,
                _windows_url(url),
            ),
            ShortcutFile(
                f"{stem}.mobileconfig",
                "application/x-apple-aspen-config",
                ShortcutFormat.APPLE_WEB_CLIP,
                audience,
                url,
                _web_clip_profile(school_name, instelling_ref, audience, url),
            ),
            ShortcutFile(
                f"{stem}.json",
                "application/json",
                ShortcutFormat.MANAGED_BOOKMARKS,
                audience,
                url,
                _managed_bookmarks(school_name, audience, url),
            ),
        ]
    return files


async def instelling_ref(ctx: Context, school: SchoolRecord) -> str | None:
    """The school's INSTELLING_REF, for its coordinators and the operator; None for everyone else."""
    if not may_read_shortcuts(ctx.viewer, ctx.scope, school.id):
        return None
    return await ctx.loaders.instelling_refs.get(school.id)


async def shortcuts(ctx: Context, school: SchoolRecord) -> list[ShortcutFile]:
    """The school's shortcut files, for its coordinators and the operator; empty for everyone else."""
    ref = await instelling_ref(ctx, school)
    if ref is None:
        return []
    return shortcut_files(ctx.settings, school.code, school.name, ref)
