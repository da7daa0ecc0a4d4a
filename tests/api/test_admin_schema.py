"""Schemathesis against the admin routes of our OpenAPI schema, over real HTTP to a running
`qualibot serve` with a real admin key (made by `qualibot keys create`): whatever it generates
(valid, invalid, hostile), no request gets a server error, and every status and body is one the
schema documents. Most cases carry the key, and half of those name a webhook, delivery and lead
that exist, so they reach past the 401 and the 404 into the routes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.people import qualify
from tests.server import ROOT, Server, serve

EXAMPLES = 25
ADMIN_PATHS = ("/v1/webhooks", "/v1/deliveries", "/v1/leads")
# A schema-valid URL may still be refused by the address guard or not be a URL at all, a lead id
# may be unknown: those are documented 4xx, not schema violations.
EXCLUDED = [positive_data_acceptance]


def new_key(server: Server) -> str:
    env = os.environ | {"QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{server.database}"}
    done = subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "keys", "create", "--name", "schemathesis"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


async def _a_lead(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await qualify(http)


def real_ids(server: Server, auth: dict[str, str]) -> dict[str, str]:
    """A webhook (pointed at the server's own /healthz, which refuses the POST), the delivery of a
    lead qualified through the chat, and that lead."""
    hook = httpx.post(
        f"{server.url}/v1/webhooks",
        json={"url": f"{server.url}/healthz", "events": ["lead.sql"]},
        headers=auth,
        timeout=10,
    ).json()
    asyncio.run(_a_lead(server.url))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = httpx.get(f"{server.url}/v1/webhooks/{hook['id']}/deliveries", headers=auth, timeout=10).json()
        if page["items"]:
            delivery = page["items"][0]
            return {"webhook_id": hook["id"], "delivery_id": delivery["id"], "lead_id": delivery["lead_id"]}
        time.sleep(0.1)
    raise AssertionError("the server's worker made no delivery")


def fuzz(operation: Any, auth: dict[str, str], ids: dict[str, str]) -> set[int]:
    """Run the generated cases of one operation; the statuses they got."""
    seen: set[int] = set()

    @given(case=operation.as_strategy(), keyed=st.integers(0, 3), real=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any, keyed: int, real: bool) -> None:
        if keyed:
            case.headers = dict(case.headers or {}) | auth
            if real:
                for name in case.path_parameters or {}:
                    case.path_parameters[name] = ids[name]
        seen.add(case.call_and_validate(excluded_checks=EXCLUDED).status_code)

    check()
    return seen


def test_the_admin_api_keeps_to_its_schema(tmp_path: Path) -> None:
    environment = {
        "rate_start": "off",
        "rate_ip": "off",
        "rate_conversation": "off",
        "allow_private_webhooks": "1",
        "retry_schedule": "0,1,1",
    }
    with serve(tmp_path, **environment) as server:
        auth = {"Authorization": f"Bearer {new_key(server)}"}
        ids = real_ids(server, auth)
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = []
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operations.append(result.ok())
        # Deleting the real webhook comes last, so the cases of the others still find it.
        admin = sorted(
            (o for o in operations if o.path.startswith(ADMIN_PATHS)), key=lambda o: o.method == "delete"
        )
        statuses = {operation.label: fuzz(operation, auth, ids) for operation in admin}
        assert len(statuses) >= 14
        assert all(401 in seen for seen in statuses.values()), "cases without the key are refused"
        for label in ("GET /v1/leads", "GET /v1/leads/{lead_id}", "GET /v1/webhooks/{webhook_id}/deliveries"):
            assert 200 in statuses[label], f"some cases reached {label}"
        assert any(400 <= s < 500 and s != 401 for s in statuses["POST /v1/webhooks"]), "some refused"
