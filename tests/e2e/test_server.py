"""The real server as its own process, on real HTTP, with tokens minted by a second process.

API.md promises that signing keys persist, so a token minted by the command line verifies in the
server, and that a key rotation reaches running servers without a restart. Here uvicorn serves
`server:create_app` on a free loopback port while `python server.py …` mints tokens and rotates keys
against the same SQLite database. (SQLite only: the processes and the promise are the same on
PostgreSQL, and the tests in test_http.py cover both engines in process.)
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.conftest import SEED_SCHOOLS, process_environment, run_cli, sqlite_copy

if TYPE_CHECKING:
    from collections.abc import Iterator

    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

STARTUP_TIMEOUT_SECONDS = 30.0
SCHOOLS_QUERY = "{ viewer { kind subject } schools { edges { node { code } } } }"


@dataclass(frozen=True)
class RunningServer:
    """A uvicorn process serving the hub, and how to reach and run commands against it."""

    process: subprocess.Popen[bytes]
    base_url: str
    environment: dict[str, str]
    folder: Path

    def cli(self, *arguments: str) -> str:
        """Run a command against the server's database; its stdout, which must be a success."""
        completed = run_cli(*arguments, environment=self.environment, cwd=self.folder)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: a fresh copy of the migrated template (overrides the both-engines fixture)."""
    return sqlite_copy(sqlite_template, tmp_path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if client.get(f"{base_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"the server did not become healthy in {STARTUP_TIMEOUT_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[RunningServer]:
    """`uvicorn server:create_app --factory` on a free port, on the seeded database; stopped afterwards."""
    environment = process_environment(settings)
    port = _free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, base_url, log)
        yield RunningServer(process, base_url, environment, tmp_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _post(server: RunningServer, token: str, query: str = SCHOOLS_QUERY) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=10.0) as client:
        return client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})


def _answer(server: RunningServer, token: str) -> dict[str, Any]:
    response = _post(server, token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def _kid(token: str) -> str:
    header = token.split(".", maxsplit=1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def _published_kids(server: RunningServer) -> list[str]:
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=10.0) as client:
        response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def test_a_token_minted_on_the_command_line_is_accepted_by_the_running_server_and_a_forgery_is_not(
    server: RunningServer,
) -> None:
    token = server.cli("token", "operator")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    body = _answer(server, token)
    refused = _post(server, forged)

    assert body["data"]["viewer"] == {"kind": "OPERATOR", "subject": "operator:helpdesk"}
    assert len(body["data"]["schools"]["edges"]) == SEED_SCHOOLS
    assert _kid(token) in _published_kids(server)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_key_rotation_on_the_command_line_reaches_the_running_server_without_a_restart(
    server: RunningServer,
) -> None:
    old_token = server.cli("token", "operator")
    _answer(server, old_token)  # the server has now loaded (and cached) the keys of before the rotation

    new_kid = server.cli("keys", "rotate")
    new_token = server.cli("token", "operator")

    assert _kid(new_token) == new_kid != _kid(old_token)
    assert _answer(server, new_token)["data"]["viewer"]["kind"] == "OPERATOR"
    assert _answer(server, old_token)["data"]["viewer"]["kind"] == "OPERATOR"
    # During the rollover the JWKS publishes the new key first and keeps the old one.
    assert _published_kids(server)[:2] == [new_kid, _kid(old_token)]
    assert server.process.poll() is None, "the server was not restarted"
