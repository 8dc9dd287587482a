"""The school's side of `python server.py school-network update`: report this network's address.

Runs on a machine inside the school's network (a scheduled task), against the hub over HTTPS; it needs
nothing of the hub but its address and the school's network token. The hub records the address the
request arrives from, so a school behind a changing (dynamic) address stays "at school".
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Final

from resolvers.admin import CommandError

UPDATE_PATH: Final = "/school-network/update"
#: An answer larger than this is not the hub's (which sends a few dozen bytes).
MAX_ANSWER_BYTES: Final = 64 * 1024


def update_url(hub: str) -> str:
    """The update endpoint of the hub at `hub` (its base address, or the endpoint itself)."""
    parsed = urllib.parse.urlsplit(hub.strip())
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise CommandError(f"--url must be the hub's http(s) address, not {hub!r}")
    path = parsed.path.rstrip("/")
    if not path.endswith(UPDATE_PATH):
        path += UPDATE_PATH
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


def report_address(hub: str, token_input: str, *, timeout: float) -> str:
    """Send the network token (the first line of `token_input`) to the hub; the recorded range as JSON.
    `CommandError` (exit 2) when the hub refuses the token or cannot be reached."""
    token = token_input.strip().splitlines()[0].strip() if token_input.strip() else ""
    if not token:
        raise CommandError("give the school's network token on standard input")
    request = urllib.request.Request(  # noqa: S310 - update_url allows http(s) only
        update_url(hub), data=b"", method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            body = json.loads(answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as refused:
        raise CommandError(f"the hub refused the update: {_message(refused)}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as unreachable:
        raise CommandError(f"the hub cannot be reached: {unreachable}") from None
    except ValueError:
        raise CommandError("the hub's answer is not JSON: is --url the hub's address?") from None
    return json.dumps({"cidr": body.get("cidr")}, sort_keys=True)


def _message(refused: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(refused.read(MAX_ANSWER_BYTES)).get("error", {})
        return f"{error.get('message', refused.reason)} ({error.get('code', refused.code)})"
    except (ValueError, AttributeError):
        return f"HTTP {refused.code}"
