"""Reading a page's form post: a small `application/x-www-form-urlencoded` body, read under a cap, and
the safe destination of a sign-in (`next`)."""

from __future__ import annotations

import urllib.parse
from typing import Final

from starlette.requests import Request

from errors import BadUserInput
from schema import bodies

#: The pages' forms are a few fields; a larger body is refused unread.
FORM_BODY_BYTES: Final = 16_384
MAX_FORM_FIELDS: Final = 60
#: The longest `next` kept (a page's own path and query string).
MAX_NEXT_LENGTH: Final = 2_000


class Form:
    """The fields of a form post; a field given more than once keeps all its values."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        """The form of these decoded name-value pairs."""
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def get(self, name: str) -> str | None:
        """The field's (first) value, or None when it is absent."""
        values = self._values.get(name)
        return values[0] if values else None

    def text(self, name: str) -> str:
        """The field's value, or "" when absent."""
        return self.get(name) or ""


async def read_form(request: Request) -> Form:
    """The form of a page's POST: url-encoded (what a browser form sends), under `FORM_BODY_BYTES`;
    `BadUserInput` for anything else."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise BadUserInput("a form is sent url-encoded")
    body = await bodies.read_capped(
        request.stream(), FORM_BODY_BYTES, content_length=request.headers.get("content-length")
    )
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        raise BadUserInput("the form is not well-formed") from None
    return Form(pairs)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: `target` when it is a path of this site ("/..." but not "//..."
    or "/\\...", which browsers read as another host), else "/". Never an absolute URL, so a link
    cannot make the hub send a freshly signed-in person to another site (an open redirect)."""
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return "/"  # control characters and spaces: browsers strip some of them and may see "//"
    parsed = urllib.parse.urlsplit(target)
    if parsed.scheme or parsed.netloc:
        return "/"
    return target
