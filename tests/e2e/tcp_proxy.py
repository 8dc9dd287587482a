"""A small TCP proxy that a test starts and stops between the hub and its database, to cut it off.

It runs its own asyncio loop in a background thread, so a test (sync or async) and a server in another
process can both go on while it forwards. `stop()` closes the listening socket *and* every live
connection, as a database that goes away (a restart, a failover, a network cut) does to its clients;
`start()` listens again on the same port, so the hub's `DATABASE_URL` stays valid. `hang()` is the
nastier outage of a host that accepts connections and then never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

#: How long `start()` and `stop()` wait for the proxy's loop to carry them out.
_CONTROL_TIMEOUT_SECONDS = 10.0
_CHUNK = 65_536


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` while started."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._hanging = False
        #: Connections accepted since the proxy was made: a test can see that the hub reconnected.
        self.accepted = 0

    def start(self) -> None:
        """Listen (again) on `port` and forward every connection accepted from now on."""
        self._call(self._start())

    def stop(self) -> None:
        """Stop listening and close every live connection in both directions."""
        self._call(self._stop())

    def hang(self) -> None:
        """Close every live connection, then accept new ones but never forward a byte (a hung host)."""
        self._call(self._hang())

    def close(self) -> None:
        """Stop, and end the proxy's thread."""
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CONTROL_TIMEOUT_SECONDS)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=_CONTROL_TIMEOUT_SECONDS)

    async def _start(self) -> None:
        self._hanging = False
        if self._server is None:
            self._server = await asyncio.start_server(
                self._forward, "127.0.0.1", self.port, reuse_address=True
            )

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._abort_live()
        if server is not None:
            await server.wait_closed()

    async def _shutdown(self) -> None:
        await self._stop()
        # Let the aborted connections' handlers see the end and close their sockets before the loop does.
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        await asyncio.wait(handlers, timeout=_CONTROL_TIMEOUT_SECONDS / 2) if handlers else None

    async def _hang(self) -> None:
        await self._start()
        self._abort_live()
        self._hanging = True

    def _abort_live(self) -> None:
        for writer in list(self._writers):
            # An abort sends a reset at once, as a database host that went away does.
            writer.transport.abort()
        self._writers.clear()

    async def _forward(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        if self._hanging:
            self._writers.add(client_writer)
            with contextlib.suppress(OSError, RuntimeError):
                while await client_reader.read(_CHUNK):
                    pass  # swallowed: a hung host reads and never answers
            self._writers.discard(client_writer)
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
        )
        self._writers -= {client_writer, upstream_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()
