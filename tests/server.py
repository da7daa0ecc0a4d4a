"""A real ``qualibot serve`` process on 127.0.0.1 over a fresh SQLite file (made by ``qualibot
migrate``), for the tests that need real HTTP (the browser tests, schemathesis). Bounded: it must
answer ``/readyz`` within 60 s and stop within 10 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    database: Path
    log: Path


@contextmanager
def serve(workdir: Path, **env: str) -> Iterator[Server]:
    """``qualibot serve`` with ``QUALIBOT_*`` settings from ``env`` (names without the prefix)."""
    database = workdir / "qualibot.db"
    port = free_port()
    log = workdir / "server.log"
    settings = {f"QUALIBOT_{k.upper()}": v for k, v in env.items()}
    environ = os.environ | {
        "QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "QUALIBOT_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "migrate"],
        cwd=ROOT,
        env=environ,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environ | settings,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"qualibot serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            yield Server(url, database, log)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
