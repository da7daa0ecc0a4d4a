"""A real HTTP/1.1 webhook receiver on 127.0.0.1 for tests and benchmarks, scripted per request:
answer with a status, hang, reset the connection, or send a 2xx status line and stall before
the body. Keep-alive, Content-Length bodies; every request is recorded in order."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    at: float  # time.time() when the body was read
    path: str
    headers: dict[str, str]
    body: bytes
    answered_at: float | None = None  # when the answer was written (None: it never was)


@dataclass(frozen=True)
class Respond:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Never answer: wait until the client gives up."""


@dataclass(frozen=True)
class Reset:
    """Drop the connection with a TCP reset, without a word."""


@dataclass(frozen=True)
class StallAfterStatus:
    """Write the status line and headers of a 2xx, then stall before the body."""

    status: int = 200


Action = Respond | Hang | Reset | StallAfterStatus
Script = Callable[[Received], Action]

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 410: "Gone", 429: "Too Many Requests"}


class Receiver:
    """``keep=False`` keeps no request (benchmarks: the script sees each one as it comes)."""

    def __init__(self, script: Script | None = None, *, keep: bool = True) -> None:
        self.script: Script = script or (lambda _r: Respond())
        self._keep = keep
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()
        self._connections: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Until ``count`` requests have arrived (AssertionError after ``within`` seconds)."""
        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= count), within)
            except TimeoutError:
                raise AssertionError(
                    f"{len(self.requests)} requests arrived within {within} s, expected {count}"
                ) from None
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(time.time(), path, headers, body)
                if self._keep:
                    async with self._arrived:
                        self.requests.append(received)
                        self._arrived.notify_all()
                action = self.script(received)
                if isinstance(action, Hang):
                    await reader.read()
                    return
                if isinstance(action, Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if isinstance(action, StallAfterStatus):
                    writer.write(f"HTTP/1.1 {action.status} OK\r\nContent-Length: 100\r\n\r\n".encode())
                    await writer.drain()
                    received.answered_at = time.time()
                    await reader.read()
                    return
                if action.delay:
                    await asyncio.sleep(action.delay)
                reason = _REASONS.get(action.status, "Status")
                extra = "".join(f"{k}: {v}\r\n" for k, v in action.headers.items())
                length = len(action.body)
                response = f"HTTP/1.1 {action.status} {reason}\r\nContent-Length: {length}\r\n{extra}\r\n"
                writer.write(response.encode() + action.body)
                await writer.drain()
                received.answered_at = time.time()
        except ConnectionError:
            return
        finally:
            self._connections.discard(writer)
            writer.close()
