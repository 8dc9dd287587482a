"""Request bodies against a real server (issue 9, item 8): a hostile caller streams a huge chunked body,
and the hub stops reading at the cap, or before reading at all when the token is missing or refused.

uvicorn serves `server:create_app` on a free loopback port (as in test_server.py); each body is a
generator that counts what the server took from it. What it took beyond the cap is what the kernel's
socket buffers and uvicorn's own read-ahead hold (a few MB on loopback), never the 300 MB offered; the
server's peak memory says the same. SQLite only: reading a body does not touch the database.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from datasources.store.tables import SCHOOLS
from resolvers import admin
from tests.e2e.conftest import process_environment, sqlite_copy
from tests.e2e.test_server import STARTUP_TIMEOUT_SECONDS, _free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

#: What the hostile caller offers: the issue's 300 MB.
OFFERED = 300 * 1024 * 1024
CHUNK = 64 * 1024


def _socket_buffers() -> int:
    """The most the kernel may buffer between the generator and the server: the largest receive and
    send buffers TCP may grow to (Linux's sysctls; 16 MB where they cannot be read)."""
    try:
        return sum(
            int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
            for name in ("tcp_rmem", "tcp_wmem")
        )
    except (OSError, IndexError, ValueError):
        return 16 * 1024 * 1024


#: Room for the socket buffers and uvicorn's read-ahead (64 kB) between the generator and the application:
#: tens of MB at most (measured: 3 to 9 MB), against the 300 MB offered.
SLACK = _socket_buffers() + 1024 * 1024
#: The server's peak memory may grow by this much while refusing (it grew by ~600 MB before the cap).
MEMORY_SLACK = 64 * 1024 * 1024
#: A small import cap for the server under test, so that reaching it is quick.
IMPORT_CAP = 2_000_000
REQUEST_CAP = 1_000_000


class Offered:
    """A chunked body of `total` bytes that counts how much of it was consumed."""

    def __init__(self, total: int = OFFERED, prefix: bytes = b"") -> None:
        self.total = total
        self.prefix = prefix
        self.consumed = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.prefix:
            self.consumed += len(self.prefix)
            yield self.prefix
        chunk = b" " * CHUNK
        while self.consumed < self.total:
            self.consumed += len(chunk)
            yield chunk


@dataclass(frozen=True)
class Server:
    """The uvicorn process and its address."""

    process: subprocess.Popen[bytes]
    base_url: str

    def peak_memory(self) -> int:
        """The process's peak resident memory (bytes), from Linux's VmHWM."""
        return _status(self.process.pid, "VmHWM")

    def memory(self) -> int:
        """The process's resident memory now (bytes)."""
        return _status(self.process.pid, "VmRSS")


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    pytest.skip(f"/proc/{pid}/status has no {field}")


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only (overrides the both-engines fixture)."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """`uvicorn server:create_app --factory` on a free port with a small import cap; stopped afterwards."""
    port = _free_port()
    log = tmp_path / "server.log"
    environment = process_environment(
        settings, LEERPOORT_MAX_IMPORT_BYTES=str(IMPORT_CAP), LEERPOORT_MAX_REQUEST_BYTES=str(REQUEST_CAP)
    )
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory", "--host", "127.0.0.1"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [*command, "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
                try:
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not become healthy:\n{log.read_text()}")
                time.sleep(0.1)
        yield Server(process, base_url)
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _send(server: Server, path: str, body: Offered, headers: dict[str, str]) -> httpx.Response:
    """POST a chunked body; the server's answer, however early it came."""
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=60.0) as client:
        return client.post(path, content=iter(body), headers=headers)


def _refused(
    server: Server, path: str, headers: dict[str, str], *, prefix: bytes = b""
) -> tuple[httpx.Response, Offered, int]:
    """The answer to a 300 MB chunked body, the body (how much was consumed) and the server's peak growth."""
    before = server.memory()
    body = Offered(prefix=prefix)
    response = _send(server, path, body, headers)
    return response, body, server.peak_memory() - before


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["anonymous", "invalid-token"])
def test_a_huge_body_without_a_valid_token_is_401_after_a_small_read(
    server: Server, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": authorization} if authorization else {}
    )
    response, body, growth = _refused(server, "/graphql", headers, prefix=b'{"query": "')

    assert response.status_code == 401
    assert _code(response) == "UNAUTHENTICATED"
    assert body.consumed < SLACK, f"the server took {body.consumed:,} bytes"
    assert growth < MEMORY_SLACK, f"the server's peak memory grew by {growth:,} bytes"


def test_a_huge_body_with_a_valid_token_is_413_at_the_request_cap(
    server: Server, operator_token: str
) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {operator_token}"}
    response, body, growth = _refused(server, "/graphql", headers, prefix=b'{"query": "')

    assert response.status_code == 413
    assert _code(response) == "LIMIT_EXCEEDED"
    assert body.consumed < REQUEST_CAP + SLACK, f"the server took {body.consumed:,} bytes"
    assert growth < MEMORY_SLACK, f"the server's peak memory grew by {growth:,} bytes"


def test_a_huge_upload_is_413_at_the_import_cap(server: Server, operator_token: str) -> None:
    boundary = "leerpoort-boundary"
    operations = json.dumps(
        {
            "query": "mutation($file: Upload!) { importEdex(file: $file) { errors } }",
            "variables": {"file": None},
        }
    )
    prefix = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.file"]}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="school.xml"\r\n'
        "Content-Type: application/xml\r\n\r\n"
    ).encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": f"Bearer {operator_token}",
        "Apollo-Require-Preflight": "true",
    }
    response, body, growth = _refused(server, "/graphql", headers, prefix=prefix)

    assert response.status_code == 413
    assert _code(response) == "LIMIT_EXCEEDED"
    assert body.consumed < IMPORT_CAP + SLACK, f"the server took {body.consumed:,} bytes"
    assert growth < MEMORY_SLACK, f"the server's peak memory grew by {growth:,} bytes"


def test_a_declared_length_over_the_cap_is_refused_unread(server: Server, operator_token: str) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=60.0) as client:
        request = client.build_request("POST", "/graphql", content=iter(Offered()), headers=headers)
        request.headers["Content-Length"] = str(OFFERED)
        del request.headers["Transfer-Encoding"]
        response = client.send(request)

    assert response.status_code == 413
    assert _code(response) == "LIMIT_EXCEEDED"


@pytest.fixture
async def las_token(server: Server, settings: Settings, engine: AsyncEngine) -> str:
    """A LAS client's token from the running server's token endpoint."""
    async with engine.connect() as connection:
        code = (await connection.execute(select(SCHOOLS.c.code).limit(1))).scalar_one()
    created = await admin.create_las_client(settings, "ParnasSys", [code])
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=10.0) as client:
        granted = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
    assert granted.status_code == 200, granted.text
    token: str = granted.json()["access_token"]
    return token


def test_a_huge_las_push_is_refused_at_the_import_cap_and_without_a_token_unread(
    server: Server, las_token: str
) -> None:
    xml = {"Content-Type": "application/xml"}

    capped, capped_body, growth = _refused(
        server, "/las/edex", xml | {"Authorization": f"Bearer {las_token}"}
    )
    anonymous, anonymous_body, _ = _refused(server, "/las/edex", xml)

    assert capped.status_code == 400
    assert "size cap" in capped.json()["errors"][0]
    assert capped_body.consumed < IMPORT_CAP + SLACK, f"the server took {capped_body.consumed:,} bytes"
    assert growth < MEMORY_SLACK, f"the server's peak memory grew by {growth:,} bytes"
    assert anonymous.status_code == 401
    assert anonymous_body.consumed < SLACK, f"the server took {anonymous_body.consumed:,} bytes"


def test_a_huge_token_request_is_invalid_request_after_a_small_read(server: Server) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response, body, growth = _refused(
        server, "/oauth/token", headers, prefix=b"grant_type=client_credentials&x="
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert body.consumed < SLACK, f"the server took {body.consumed:,} bytes"
    assert growth < MEMORY_SLACK, f"the server's peak memory grew by {growth:,} bytes"
