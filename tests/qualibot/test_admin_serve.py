"""The CRM handoff end to end through real processes: `qualibot keys create` makes a key, a real
`qualibot serve` takes a webhook over HTTP, a visitor qualifies through the chat API, the server's
own delivery worker POSTs a signed lead.sql to a real receiver on 127.0.0.1 (verified with the
standardwebhooks package), the CRM reports the outcome back, and sales reads the lead and the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from bench.process import ROOT, free_port, running
from tests.handoff.receiver import Receiver
from tests.people import qualify

pytestmark = pytest.mark.slow


def qualibot(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "qualibot.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


async def test_a_lead_goes_to_the_crm_and_its_outcome_comes_back(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        QUALIBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'qualibot.db'}",
        QUALIBOT_LOG_LEVEL="WARNING",
        QUALIBOT_ALLOW_PRIVATE_WEBHOOKS="1",
        QUALIBOT_RETRY_SCHEDULE="0,0.5,0.5",
        QUALIBOT_WORKER_POLL_INTERVAL="0.05",
    )
    qualibot(env, "migrate")
    printed = qualibot(env, "keys", "create", "--name", "amoCRM")
    key = printed.strip().splitlines()[-1]
    assert key.startswith("qbk_")
    assert "amoCRM" in qualibot(env, "keys", "list")
    admin = {"Authorization": f"Bearer {key}"}

    receiver = await Receiver().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    try:
        with log.open("wb") as out, running(command, env, f"{url}/readyz", out):
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                refused = await http.get("/v1/webhooks")
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"] == "Bearer"

                body = {"url": f"{receiver.url}/amo", "events": ["lead.sql"], "stage_map": {"sql": "Аудит"}}
                created = await http.post("/v1/webhooks", json=body, headers=admin)
                assert created.status_code == 201, created.text
                hook = created.json()

                played = await qualify(http)
                assert played.last["done"]

                [request] = await receiver.wait_for(1, within=20)
                event = Webhook(hook["secret"]).verify(request.body, request.headers)
                assert event["type"] == "lead.sql"
                lead = event["data"]["lead"]
                assert lead["crm_stage"] == "Аудит"
                assert lead["conversation_id"] == played.conversation_id
                assert lead["contact"]["name"] == "Иван Петров"
                assert lead["transcript_url"].endswith(f"/v1/leads/{lead['id']}")

                outcome = {"status": "sal", "reason": "Созвонились, ждут КП"}
                reported = await http.post(f"/v1/leads/{lead['id']}/outcome", json=outcome, headers=admin)
                assert reported.status_code == 200, reported.text
                assert reported.json()["applied"] is True
                repeated = await http.post(f"/v1/leads/{lead['id']}/outcome", json=outcome, headers=admin)
                assert repeated.json()["applied"] is False

                card = (await http.get(f"/v1/leads/{lead['id']}", headers=admin)).json()
                assert card["lead"]["stage"] == "sal"
                assert card["lead"]["outcome_reason"] == "Созвонились, ждут КП"
                [delivery] = card["deliveries"]
                assert delivery["webhook_message_id"] == request.headers["webhook-id"]
                answers = {a["question_id"]: a for a in card["conversations"][0]["answers"]}
                assert answers["budget_amount"]["text"] == "около 2 млн руб"

                exported = await http.get("/v1/leads.csv", params={"stage": "sal"}, headers=admin)
                assert exported.status_code == 200
                assert exported.content.startswith(b"\xef\xbb\xbf")
                [row] = list(csv.DictReader(io.StringIO(exported.content[3:].decode("utf-8"), newline="")))
                assert row["Lead id"] == lead["id"]
                assert row["Name"] == "Иван Петров"
                assert row["Stage"] == "sal"
                assert row["CRM outcome reason"] == "Созвонились, ждут КП"
    finally:
        await receiver.close()
    assert "Traceback" not in log.read_text()


async def test_serve_without_its_worker_leaves_the_delivery_to_qualibot_worker(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        QUALIBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'qualibot.db'}",
        QUALIBOT_LOG_LEVEL="WARNING",
        QUALIBOT_ALLOW_PRIVATE_WEBHOOKS="1",
        QUALIBOT_WORKER_POLL_INTERVAL="0.05",
    )
    qualibot(env, "migrate")
    admin = {"Authorization": f"Bearer {qualibot(env, 'keys', 'create').strip().splitlines()[-1]}"}
    receiver = await Receiver().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port), "--no-worker"]
    worker = [sys.executable, "-m", "qualibot.cli", "worker"]
    try:
        with (tmp_path / "serve.log").open("wb") as out, running(serve, env, f"{url}/readyz", out):
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                body = {"url": receiver.url, "events": ["lead.sql"]}
                assert (await http.post("/v1/webhooks", json=body, headers=admin)).status_code == 201
                await qualify(http)
                await asyncio.sleep(1.5)  # the in-process worker would have sent it within 0.1 s
                assert receiver.requests == []
                [lead] = (await http.get("/v1/leads", headers=admin)).json()["items"]
                card = (await http.get(f"/v1/leads/{lead['id']}", headers=admin)).json()
                assert card["deliveries"] == [], "nothing fanned the event out"

                process = await asyncio.create_subprocess_exec(*worker, cwd=ROOT, env=env)
                try:
                    [request] = await receiver.wait_for(1, within=30)
                finally:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), 20)
                assert request.headers["webhook-id"].startswith("msg_")
    finally:
        await receiver.close()
