"""Fetching a network provider's JWKS from its URL: a remote source of data, read with care.

A short timeout and a size cap (the answer is read under the cap, whatever `Content-Length` says), no
redirects to follow (a redirect is a refusal: the URL registered is the one asked), and in production
HTTPS only. The stdlib client runs in a worker thread so that the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Final

#: A JWKS of a few keys is a few kB.
MAX_JWKS_BYTES: Final = 64 * 1024
FETCH_TIMEOUT_SECONDS: Final = 5.0
MAX_URL_LENGTH: Final = 2000


class FetchFailed(Exception):  # noqa: N818 - the verdict: "fetch failed"
    """The JWKS URL did not give a JSON document; the message is short and safe to show."""


def check_jwks_url(url: str, *, https_only: bool) -> str:
    """The URL, trimmed, when it may be registered: http(s) (https only outside the sandbox), a host,
    no credentials, no fragment; `ValueError` otherwise."""
    candidate = url.strip()
    if not candidate or len(candidate) > MAX_URL_LENGTH:
        raise ValueError(f"a JWKS URL has 1 to {MAX_URL_LENGTH} characters")
    parsed = urllib.parse.urlsplit(candidate)
    allowed = ("https",) if https_only else ("https", "http")
    if parsed.scheme not in allowed or not parsed.hostname:
        raise ValueError(
            "a JWKS URL is an https:// address" if https_only else "a JWKS URL is an http(s) address"
        )
    if parsed.username or parsed.password or parsed.fragment:
        raise ValueError("a JWKS URL carries no credentials and no fragment")
    return candidate


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is then raised as an HTTPError: the registered URL itself must answer


def _fetch(url: str) -> object:
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:
            body = answer.read(MAX_JWKS_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError):
        raise FetchFailed("the JWKS URL could not be fetched") from None
    if len(body) > MAX_JWKS_BYTES:
        raise FetchFailed(f"the JWKS at the URL is larger than {MAX_JWKS_BYTES} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchFailed("the JWKS URL did not answer JSON") from None


async def fetch_jwks(url: str) -> object:
    """The JSON document at a (checked) JWKS URL; `FetchFailed` when it cannot be had in time."""
    return await asyncio.to_thread(_fetch, url)


__all__ = ["MAX_JWKS_BYTES", "FetchFailed", "check_jwks_url", "fetch_jwks"]
