"""The baseline of ``bench.web``: a bare FastAPI endpoint doing one raw sqlite3 INSERT + SELECT per
request, served by the same uvicorn as ``qualibot serve``.

``POST /turn`` takes ``{"conversation": "...", "text": "..."}`` (a one-model body, as any FastAPI
endpoint would), inserts the text as a message of that conversation and reads the conversation's
row by key, on one sqlite3 connection per worker in autocommit mode (a commit per request) with
the pragmas the real stores use. ``bench.web`` makes the database file and its tables before it
starts the server, and names it in ``BENCH_BARE_DATABASE``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from storage.db import SQLITE_PRAGMAS

CONVERSATIONS = 256


class Turn(BaseModel):
    conversation: str
    text: str


def create_database(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    db.execute("CREATE TABLE conv (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)")
    db.execute("CREATE TABLE msg (id INTEGER PRIMARY KEY, conv TEXT NOT NULL, body TEXT NOT NULL)")
    db.executemany("INSERT INTO conv VALUES (?, '{}', 1)", [(f"c{n}",) for n in range(CONVERSATIONS + 1)])
    db.close()


def bare_app() -> FastAPI:
    """The app uvicorn runs in each worker (``--factory``)."""
    db = sqlite3.connect(os.environ["BENCH_BARE_DATABASE"], isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        db.execute(pragma)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/turn")
    async def turn(body: Turn) -> dict[str, Any]:
        db.execute("INSERT INTO msg (conv, body) VALUES (?, ?)", (body.conversation, body.text))
        row = db.execute("SELECT state, version FROM conv WHERE id = ?", (body.conversation,)).fetchone()
        return {"conversation": body.conversation, "version": row[1] if row else None}

    return app
