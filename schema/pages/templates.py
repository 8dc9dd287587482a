"""Rendering the hub's pages: Jinja2 with autoescaping on, templates in `schema/pages/templates/`.

Every template extends `base.html` (lang="nl", the viewport meta, blocks `title` and `content`, the one
stylesheet at `/static/leerpoort.css`). Pages carry headers that keep them out of frames and caches: a
sign-in form framed by another site, or a signed-in page kept by a shared computer's browser, is what
they prevent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"

_ENVIRONMENT: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Headers of every page: no framing (clickjacking), no caching (pages show personal data and CSRF
#: tokens), no sniffing, and no full address in the Referer to other sites.
PAGE_HEADERS: Final[Mapping[str, str]] = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "frame-ancestors 'none'; object-src 'none'; base-uri 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page `name` rendered with `context` (and the request as `request`), as an HTML response
    with the page headers (and `headers` of its own)."""
    html = _ENVIRONMENT.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
