"""A database outage: the hub answers 503 UNAVAILABLE with `Retry-After`, stays up, and recovers by itself.

The hub runs as its own uvicorn process whose `DATABASE_URL` points at a TCP proxy in this test; stopping
the proxy closes every live connection and refuses new ones, as a database restart or a network cut does.
Starting it again on the same port brings the database back, and the same process must answer as before.
PostgreSQL only: an embedded SQLite file has no server or network that could go away.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from datasources.school_files.edexml_writer import write_edexml
from datasources.store.database import CONNECT_TIMEOUT_SECONDS
from resolvers import admin
from tests.e2e.conftest import process_environment
from tests.e2e.tcp_proxy import TcpProxy, free_port
from tests.e2e.test_imports import school_file

if TYPE_CHECKING:
    from collections.abc import Iterator

    from settings import Settings

STARTUP_TIMEOUT_SECONDS = 30.0
#: A refused connection is answered at once; a host that never answers within the connect timeout.
QUICK_SECONDS = 4.0
HUNG_SECONDS = CONNECT_TIMEOUT_SECONDS + 4.0
SCHOOLS_QUERY = "{ schools(first: 5) { edges { node { code } } } }"


@dataclass(frozen=True)
class ProxiedHub:
    """A hub process that reaches its database through `proxy`, and its log."""

    process: subprocess.Popen[bytes]
    proxy: TcpProxy
    client: httpx.Client
    log: Path

    def graphql(self, token: str, query: str = SCHOOLS_QUERY) -> httpx.Response:
        """`POST /graphql` with `token`."""
        return self.client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )

    def push(self, token: str, body: bytes) -> httpx.Response:
        """A LAS push of `body` to `/las/edex`, confirmed (it may replace the seeded pupils)."""
        return self.client.post(
            "/las/edex",
            content=body,
            params={"confirm": "true"},
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
        )


def _proxied_url(database_url: str, proxy: TcpProxy) -> str:
    parts = urllib.parse.urlsplit(database_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _wait_until_healthy(process: subprocess.Popen[bytes], client: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the hub exited with {process.returncode}:\n{log.read_text()}")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the hub did not become healthy in {STARTUP_TIMEOUT_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def hub(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ProxiedHub]:
    """The seeded world served by a uvicorn process whose database connections go through a proxy."""
    if settings.engine_name == "sqlite":
        pytest.skip("an outage of the embedded SQLite file is not meaningful: no server or network to lose")
    request.getfixturevalue("world")
    target = urllib.parse.urlsplit(settings.database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    environment = process_environment(settings) | {"DATABASE_URL": _proxied_url(settings.database_url, proxy)}
    port = free_port()
    log = tmp_path / "hub.log"
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            command, env=environment, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30.0)
    try:
        _wait_until_healthy(process, client, log)
        yield ProxiedHub(process, proxy, client, log)
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        proxy.close()


def _las_client(settings: Settings, code: str) -> str:
    """A new LAS client of the school `code`: its HTTP Basic credentials for the token endpoint."""
    created = asyncio.run(admin.create_las_client(settings, "ParnasSys", [code]))
    return base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()


def _token_request(hub: ProxiedHub, basic: str) -> httpx.Response:
    return hub.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )


def _timed(call: Any, *arguments: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(*arguments)
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, elapsed: float, within: float = QUICK_SECONDS) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0
    assert elapsed < within, f"the 503 took {elapsed:.1f} s"


def test_with_the_database_gone_the_hub_answers_503_unavailable_and_recovers_by_itself(
    hub: ProxiedHub, settings: Settings, operator_token: str
) -> None:
    before = hub.graphql(operator_token)
    assert before.status_code == 200, before.text
    code = before.json()["data"]["schools"]["edges"][0]["node"]["code"]
    las_client = _las_client(settings, code)
    granted = _token_request(hub, las_client)
    assert granted.status_code == 200, granted.text
    las_token = granted.json()["access_token"]
    edexml = write_edexml(school_file(code, "2026-2027"))
    assert hub.push(las_token, edexml).status_code == 200

    hub.proxy.stop()
    graph, graph_time = _timed(hub.graphql, operator_token)
    push, push_time = _timed(hub.push, las_token, edexml)
    token, token_time = _timed(_token_request, hub, las_client)
    health, health_time = _timed(hub.client.get, "/health")

    _assert_unavailable(graph, graph_time)
    _assert_unavailable(push, push_time)
    _assert_unavailable(token, token_time)
    assert health.status_code == 503, health.text
    assert health.json()["database"] == "unavailable"
    assert health_time < QUICK_SECONDS
    assert hub.process.poll() is None, "the hub exited"

    hub.proxy.start()
    after = hub.graphql(operator_token)
    assert after.status_code == 200, after.text
    assert after.json() == before.json()
    again = hub.push(las_token, edexml)
    assert again.status_code == 200, again.text
    assert again.json()["students"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 12}
    assert hub.client.get("/health").status_code == 200
    assert _token_request(hub, las_client).status_code == 200
    assert hub.process.poll() is None, "the hub was restarted"
    log = hub.log.read_text()
    assert "Traceback" not in log, log
    assert "database unavailable" in log


def test_a_database_host_that_accepts_and_never_answers_gets_a_503_within_the_connect_timeout(
    hub: ProxiedHub, operator_token: str
) -> None:
    assert hub.graphql(operator_token).status_code == 200

    hub.proxy.hang()
    graph, graph_time = _timed(hub.graphql, operator_token)

    _assert_unavailable(graph, graph_time, within=HUNG_SECONDS)
    assert hub.process.poll() is None, "the hub exited"
    hub.proxy.start()
    assert hub.graphql(operator_token).status_code == 200
    assert "Traceback" not in hub.log.read_text()
