"""A real ``qualibot serve`` process on 127.0.0.1 over a fresh SQLite file (made by ``qualibot
migrate``), for the tests that need real HTTP (the browser tests, schemathesis). Bounded: it must
answer ``/readyz`` within 60 s and stop within 20 s."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.process import ROOT, free_port, running

__all__ = ["ROOT", "Server", "free_port", "serve"]


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    database: Path
    log: Path


@contextmanager
def serve(workdir: Path, **env: str) -> Iterator[Server]:
    """``qualibot serve`` with ``QUALIBOT_*`` settings from ``env`` (names without the prefix)."""
    database = workdir / "qualibot.db"
    log = workdir / "server.log"
    settings = {f"QUALIBOT_{k.upper()}": v for k, v in env.items()}
    environ = os.environ | {
        "QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "QUALIBOT_LOG_LEVEL": "WARNING",
    }
    migrate = [sys.executable, "-m", "qualibot.cli", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env=environ, check=True, capture_output=True, timeout=60)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        try:
            with running(command, environ | settings, f"{url}/readyz", out):
                yield Server(url, database, log)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()[-3000:]}") from None
