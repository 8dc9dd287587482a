"""A school's sign-in shortcuts as the coordinator downloads them (`School.shortcuts`)."""

from __future__ import annotations

import enum

import strawberry

from resolvers import shortcuts
from schema.classification import public


@strawberry.enum(description="Who a sign-in shortcut is for.")
class ShortcutAudience(enum.Enum):
    """The audience of a shortcut."""

    STAFF = strawberry.enum_value("STAFF", description="The school's staff: the staff sign-in page.")
    STUDENTS = strawberry.enum_value(
        "STUDENTS", description="The school's students (leerlingen): the student sign-in page."
    )


@strawberry.enum(description="The kind of a shortcut file.")
class ShortcutFormat(enum.Enum):
    """The format of a shortcut file."""

    WINDOWS_URL = strawberry.enum_value(
        "WINDOWS_URL", description="A Windows Internet Shortcut (.url), for the desktop or a share."
    )
    APPLE_WEB_CLIP = strawberry.enum_value(
        "APPLE_WEB_CLIP",
        description="An Apple configuration profile (.mobileconfig) with one managed web clip"
        " (com.apple.webClip.managed), for iPads and Macs, by hand or through device management. Its"
        " PayloadUUIDs are the same every time for the same school, so installing it again replaces it.",
    )
    MANAGED_BOOKMARKS = strawberry.enum_value(
        "MANAGED_BOOKMARKS",
        description="A JSON bookmark list for the ManagedBookmarks policy of Chrome, ChromeOS (Google Admin)"
        ' and Android device management: [{"toplevel_name": …}, {"name": …, "url": …}].',
    )


@strawberry.type(description="A sign-in shortcut file of a school, ready to save under `fileName`.")
class ShortcutFile:
    """One shortcut file."""

    file_name: str = public("The file name to save it under, such as leerpoort-16ah00-leerlingen.url.")
    media_type: str = public("The file's media type (Content-Type).")
    format: ShortcutFormat = public("The kind of file.")
    audience: ShortcutAudience = public("Who it is for.")
    url: str = public(
        "The sign-in link it opens: /login?school=<INSTELLING_REF> (with &soort=leerling for students)."
        " It keeps working through school-year transitions and new BRIN codes; after a merger it opens"
        " the merged school's sign-in page."
    )
    content: str = public("The file's content (text: INI, XML plist or JSON).")

    @classmethod
    def of(cls, file: shortcuts.ShortcutFile) -> ShortcutFile:
        """The GraphQL object of a shortcut file."""
        return cls(
            file_name=file.file_name,
            media_type=file.media_type,
            format=ShortcutFormat[file.format.name],
            audience=ShortcutAudience[file.audience.name],
            url=file.url,
            content=file.content,
        )
