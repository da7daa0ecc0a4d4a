"""An admin API client for the tests: the app over a test database with the delivery worker in it
(as `qualibot serve` runs it), a compressed retry schedule, and a key made as `qualibot keys
create` makes one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from handoff.settings import HandoffSettings
from qualibot.settings import Settings
from qualibot.web import build_app
from qualibot.wiring import handoff_services, open_engine
from tests.api.conftest import running, settings_for
from tests.people import Played

FAST: dict[str, Any] = {
    "allow_private_webhooks": True,
    "retry_schedule": (0.0, 0.2, 0.2),
    "webhook_timeout": 2.0,
    "worker_lease": 5.0,
    "worker_poll_interval": 0.02,
}


def admin_settings(database_url: str, **handoff: Any) -> Settings:
    base = settings_for(database_url, rate_start="off", rate_ip="off", rate_conversation="off")
    values = FAST | handoff
    handoff_settings = HandoffSettings(_env_file=None, **values)
    return base.model_copy(update={"handoff": handoff_settings})


@dataclass
class Admin:
    http: httpx.AsyncClient
    key: str
    app: FastAPI
    settings: Settings

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth, params=params)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth)

    async def lead_of(self, played: Played) -> dict[str, Any]:
        """The card of a played conversation's lead, found through the admin API."""
        for lead in (await self.get("/v1/leads", limit=500)).json()["items"]:
            card: dict[str, Any] = (await self.get(f"/v1/leads/{lead['id']}")).json()
            if any(c["id"] == played.conversation_id for c in card["conversations"]):
                return card
        raise AssertionError("no lead has that conversation")


async def new_key(settings: Settings, name: str = "amoCRM") -> tuple[str, str]:
    """A key made as `qualibot keys create` makes it: (its id, the key)."""
    async with open_engine(settings) as engine:
        record, key = await handoff_services(engine, settings).keys.create(name)
    return record.id, key


@asynccontextmanager
async def admin_api(settings: Settings, *, deliver: bool = True) -> AsyncIterator[Admin]:
    _key_id, key = await new_key(settings)
    app = build_app(settings, deliver=deliver)
    async with running(app) as http:
        yield Admin(http, key, app, settings)
