"""The sandbox as the README's "Run it" starts it: `python server.py`, on an empty database, on any port.

It seeds a small world spread over several boards, most with a signed DPA and at least one without (whose
schools disclose nothing to partners), and prints ready tokens whose `iss` is the address it serves on,
so that they work against that server as printed. SQLite only: this is the embedded first start.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from cli import serving_issuer
from settings import Settings
from tests.e2e.conftest import SERVER_SCRIPT, process_environment, sqlite_copy
from tests.e2e.tcp_proxy import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Seeding the sandbox's world and migrating take a few seconds; on a busy machine more.
STARTUP_TIMEOUT_SECONDS = 90.0
BOARDS_QUERY = """{ boards { edges { node { number dataProcessingAgreement { signed }
  schools { edges { node { code } } } } } } }"""


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: a fresh copy of the migrated, empty template (overrides the both-engines fixture)."""
    return sqlite_copy(sqlite_template, tmp_path)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _printed_tokens(log: str) -> dict[str, str]:
    """The tokens the sandbox printed, by name ("operator", "publisher", "coordinator")."""
    return {name.lower(): token for name, token in re.findall(r"^(\w+) token \([^)]*\):\n(\S+)$", log, re.M)}


@pytest.fixture
def sandbox(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`python server.py --port P` on an empty database: its base URL and the tokens it printed."""
    port = free_port()
    log = tmp_path / "sandbox.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [sys.executable, str(SERVER_SCRIPT), "--port", str(port)],
            env=process_environment(settings),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(base_url=base_url, trust_env=False, timeout=5.0) as client:
            while not _healthy(client):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the sandbox did not start:\n{log.read_text()}")
                time.sleep(0.2)
        yield base_url, _printed_tokens(log.read_text())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _graphql(base_url: str, token: str, query: str) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        response = client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_the_sandbox_prints_tokens_for_the_port_it_serves_on_and_seeds_boards_some_unsigned(
    sandbox: tuple[str, dict[str, str]],
) -> None:
    base_url, tokens = sandbox

    assert set(tokens) == {"operator", "publisher", "coordinator"}
    assert {_claims(token)["iss"] for token in tokens.values()} == {base_url}
    assert _graphql(base_url, tokens["operator"], "{ viewer { kind } }")["viewer"]["kind"] == "OPERATOR"
    assert _graphql(base_url, tokens["coordinator"], "{ viewer { kind } }")["viewer"]["kind"] == "STAFF"

    boards = [
        edge["node"] for edge in _graphql(base_url, tokens["operator"], BOARDS_QUERY)["boards"]["edges"]
    ]
    unsigned = [board for board in boards if not board["dataProcessingAgreement"]["signed"]]
    assert len(boards) >= 3, "a few boards"
    assert 1 <= len(unsigned) < len(boards) - len(unsigned), "most boards signed, some not"
    unsigned_codes = {school["node"]["code"] for board in unsigned for school in board["schools"]["edges"]}
    assert unsigned_codes, "an unsigned board with schools, to show what an unsigned DPA does"
    seen = _graphql(base_url, tokens["publisher"], "{ schools { edges { node { code } } } }")["schools"]
    seen_codes = {edge["node"]["code"] for edge in seen["edges"]}
    assert seen_codes, "the demo publisher sees the showcase school"
    assert not seen_codes & unsigned_codes, "a board without a signed DPA discloses nothing"


@pytest.mark.parametrize(
    ("host", "issuer"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),  # noqa: S104 - an address served on, not bound here
        ("::1", "http://[::1]:8123"),
    ],
)
def test_the_served_address_is_the_issuer_unless_leerpoort_issuer_is_set(
    host: str, issuer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEERPOORT_ISSUER", raising=False)
    assert serving_issuer(Settings(), host, 8123) == issuer
    monkeypatch.setenv("LEERPOORT_ISSUER", "https://hub.example")
    assert serving_issuer(Settings(), host, 8123) == "https://hub.example"
