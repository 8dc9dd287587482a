"""The pages' one stylesheet at `/static/leerpoort.css` (small, cacheable, no build step)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STYLESHEET_PATH: Final = "/static/leerpoort.css"
_STYLESHEET: Final = (Path(__file__).resolve().parent / "static" / "leerpoort.css").read_bytes()


async def _stylesheet(request: Request) -> Response:
    del request  # the same file for everyone
    return Response(
        _STYLESHEET,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[Route]:
    """The static routes of the pages."""
    return [Route(STYLESHEET_PATH, _stylesheet, methods=["GET"])]
