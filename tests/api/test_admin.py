"""The admin API through ``httpx.ASGITransport`` with the app's lifespan, on SQLite and the real
PostgreSQL, with the delivery worker running in the app as `qualibot serve` runs it and a real
receiver on 127.0.0.1: keys, webhook endpoints, signed deliveries and their replay, and outcomes
from the CRM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.admin import EventName, KeyedRoute
from api.admin import router as admin_router
from handoff.admin import EVENT_TYPES
from qualibot.wiring import handoff_services, open_engine
from tests.api.keyed import Admin, admin_api, admin_settings, new_key
from tests.handoff.conftest import eventually
from tests.handoff.receiver import Received, Receiver, Respond
from tests.people import qualify


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    async with admin_api(admin_settings(database_url)) as made:
        yield made


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.close()


ADMIN_PATHS = ("/v1/webhooks", "/v1/deliveries", "/v1/leads")


def keyed_routes() -> list[tuple[str, str]]:
    """Every admin route as (method, path with made-up ids)."""
    found = []
    for route in admin_router.routes:
        if isinstance(route, KeyedRoute):
            path = route.path
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", str(uuid.uuid4()))
            found += [(method, path) for method in sorted(route.methods or ())]
    return found


def test_the_event_names_the_schema_offers_are_the_handoffs() -> None:
    assert get_args(EventName) == EVENT_TYPES


async def test_every_admin_route_needs_a_live_key(admin: Admin) -> None:
    routes = keyed_routes()
    assert len(routes) >= 14
    documented = admin.app.openapi()["paths"]
    served = {path for path in documented if path.startswith(ADMIN_PATHS)}
    assert served == {r.path for r in admin_router.routes if isinstance(r, KeyedRoute)}
    for path in served:
        for operation in documented[path].values():
            assert operation["security"] == [{"HTTPBearer": []}], path
            assert "401" in operation["responses"]
    revoked_id, revoked = await new_key(admin.settings, "old")
    async with open_engine(admin.settings) as engine:
        assert await handoff_services(engine, admin.settings).keys.revoke(revoked_id)
    forged = admin.key[:-4] + ("AAAA" if not admin.key.endswith("AAAA") else "BBBB")
    refusals: list[dict[str, Any]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {admin.key}"},
        {"Authorization": "Bearer qbk_wrong"},
        {"Authorization": f"Bearer {forged}"},  # a real key's id with a wrong secret
        {"Authorization": f"Bearer qbk_{'0' * 12}_{'A' * 43}"},  # well formed, never made
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": ("Bearer " + "я" * 5000).encode()},  # not ASCII, and long
    ]
    for method, path in routes:
        for headers in refusals:
            reply = await admin.http.request(
                method, path, content=b"{not json", headers=headers | {"Content-Type": "application/json"}
            )
            assert reply.status_code == 401, (method, path, headers, reply.text)
            assert reply.headers["WWW-Authenticate"] == "Bearer"
            assert reply.json()["error"] == "unauthorized"
            assert "qualibot keys create" in reply.json()["message"]
    assert (await admin.get("/v1/webhooks")).status_code == 200


async def test_a_webhook_is_registered_listed_changed_and_deleted(admin: Admin) -> None:
    body = {
        "url": "https://crm.example/hooks/qualibot?token=abc",
        "events": ["lead.sql", "lead.mql", "lead.sql"],
        "stage_map": {"mql": "Был контакт", "sal": "Hold", "sql": "Аудит"},
    }
    created = await admin.post("/v1/webhooks", body)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["url"] == body["url"]
    assert endpoint["events"] == ["lead.sql", "lead.mql"]
    assert endpoint["stage_map"] == body["stage_map"]
    assert endpoint["status"] == "active"
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) >= 24  # base64 of at least 24 random bytes

    listed = (await admin.get("/v1/webhooks")).json()["items"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0], "the secret is shown once, when it is made"
    one = (await admin.get(f"/v1/webhooks/{endpoint['id']}")).json()
    assert "secret" not in one
    assert one["stage_map"]["sql"] == "Аудит"

    default = (await admin.post("/v1/webhooks", {"url": "https://other.example/hook"})).json()
    assert default["events"] == ["lead.mql", "lead.sql"]
    assert default["secret"] != secret

    changed = await admin.http.patch(
        f"/v1/webhooks/{endpoint['id']}",
        json={"events": ["lead.sql", "lead.abandoned"], "enabled": False},
        headers=admin.auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["lead.sql", "lead.abandoned"]
    assert changed.json()["status"] == "disabled"
    enabled = await admin.http.patch(
        f"/v1/webhooks/{endpoint['id']}", json={"enabled": True}, headers=admin.auth
    )
    assert enabled.json()["status"] == "active"

    gone = await admin.http.delete(f"/v1/webhooks/{endpoint['id']}", headers=admin.auth)
    assert gone.status_code == 204
    assert (await admin.get(f"/v1/webhooks/{endpoint['id']}")).status_code == 404
    again = await admin.http.delete(f"/v1/webhooks/{endpoint['id']}", headers=admin.auth)
    assert again.status_code == 404
    assert again.json()["error"] == "webhook_not_found"
    assert [e["id"] for e in (await admin.get("/v1/webhooks")).json()["items"]] == [default["id"]]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
    ],
)
async def test_private_addresses_are_refused_unless_allowed(sqlite_url: str, url: str, reason: str) -> None:
    async with admin_api(admin_settings(sqlite_url, allow_private_webhooks=False), deliver=False) as admin:
        refused = await admin.post("/v1/webhooks", {"url": url})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "invalid_request"
        assert reason in refused.json()["message"]
        assert (await admin.get("/v1/webhooks")).json()["items"] == []
    async with admin_api(admin_settings(sqlite_url, allow_private_webhooks=True), deliver=False) as admin:
        assert (await admin.post("/v1/webhooks", {"url": url})).status_code == 201


async def test_bad_input_is_a_clear_4xx(sqlite_url: str) -> None:
    async with admin_api(admin_settings(sqlite_url), deliver=False) as admin:
        hook = (await admin.post("/v1/webhooks", {"url": "https://crm.example/h"})).json()
        some_id = str(uuid.uuid4())
        cases: list[tuple[str, str, Any, int, str]] = [
            ("POST", "/v1/webhooks", b"{not json", 422, "invalid_request"),
            ("POST", "/v1/webhooks", b"[]", 422, "invalid_request"),
            ("POST", "/v1/webhooks", {"url": 42}, 422, "url"),
            ("POST", "/v1/webhooks", {"url": "ftp://crm.example/x"}, 422, "https://"),
            ("POST", "/v1/webhooks", {"url": "https://user:pw@crm.example/x"}, 422, "password"),
            ("POST", "/v1/webhooks", {"url": "not a url at all"}, 422, "url"),
            ("POST", "/v1/webhooks", {"url": "https://crm.example/x", "events": ["lead.won"]}, 422, "events"),
            ("POST", "/v1/webhooks", {"url": "https://crm.example/x", "events": []}, 422, "events"),
            (
                "POST",
                "/v1/webhooks",
                {"url": "https://crm.example/x", "stage_map": {"hot": "X"}},
                422,
                "stage_map",
            ),
            (
                "POST",
                "/v1/webhooks",
                {"url": "https://crm.example/x", "stage_map": {"sql": ""}},
                422,
                "stage_map",
            ),
            ("POST", "/v1/webhooks", {"url": "https://crm.example/x", "secret": "mine"}, 422, "secret"),
            ("POST", "/v1/webhooks", {"url": "https://crm.example/" + "x" * 70_000}, 413, "body_too_large"),
            ("GET", "/v1/webhooks/not-an-id", None, 422, "webhook_id"),
            ("GET", f"/v1/webhooks/{some_id}", None, 404, "webhook_not_found"),
            ("GET", f"/v1/webhooks/{hook['id']}/deliveries?limit=0", None, 422, "limit"),
            ("GET", f"/v1/webhooks/{hook['id']}/deliveries?cursor=xyz", None, 422, "cursor"),
            ("GET", f"/v1/webhooks/{hook['id']}/deliveries?status=lost", None, 422, "status"),
            ("POST", f"/v1/webhooks/{hook['id']}/rotate-secret", {"grace_seconds": -1}, 422, "grace_seconds"),
            ("POST", f"/v1/webhooks/{hook['id']}/redeliver", {"since": "вчера"}, 422, "since"),
            ("POST", f"/v1/webhooks/{hook['id']}/redeliver", {"since": "0001-01-01T00:00:00Z"}, 422, "since"),
            (
                "POST",
                f"/v1/webhooks/{hook['id']}/redeliver",
                {"since": "2026-12-02T10:00:00Z", "until": "2026-12-01T10:00:00Z"},
                422,
                "until",
            ),
            ("POST", f"/v1/deliveries/{some_id}/redeliver", None, 404, "delivery_not_found"),
            ("GET", "/v1/deliveries/12", None, 422, "delivery_id"),
            ("POST", f"/v1/leads/{some_id}/outcome", {"status": "won"}, 404, "lead_not_found"),
            ("POST", f"/v1/leads/{some_id}/outcome", {"status": "mql"}, 422, "status"),
            ("POST", f"/v1/leads/{some_id}/outcome", {"status": ["won"]}, 422, "status"),
            ("POST", f"/v1/leads/{some_id}/outcome", {"status": "won", "at": "31.12.2026"}, 422, "at"),
            (
                "POST",
                f"/v1/leads/{some_id}/outcome",
                {"status": "won", "at": "9999-01-01T00:00:00Z"},
                422,
                "at",
            ),
            ("POST", "/v1/leads/42/outcome", {"status": "won"}, 422, "lead_id"),
            ("GET", "/v1/leads?stage=hot", None, 422, "stage"),
            ("GET", "/v1/leads?since=2026-13-45", None, 422, "since"),
            ("GET", "/v1/leads?limit=100000", None, 422, "limit"),
            ("GET", "/v1/leads?cursor=not-a-cursor", None, 422, "cursor"),
            ("GET", "/v1/leads.csv?delimiter=tab", None, 422, "delimiter"),
            ("GET", "/v1/leads/0", None, 422, "lead_id"),
            ("GET", f"/v1/leads/{some_id}", None, 404, "lead_not_found"),
        ]
        for method, path, body, status, said in cases:
            if isinstance(body, bytes):
                headers = admin.auth | {"Content-Type": "application/json"}
                reply = await admin.http.request(method, path, content=body, headers=headers)
            else:
                reply = await admin.http.request(method, path, json=body, headers=admin.auth)
            assert reply.status_code == status, (method, path, reply.text)
            data = reply.json()
            assert set(data) >= {"error", "message"}
            assert said in data["error"] + " " + data["message"], (path, data)
            assert "Traceback" not in reply.text
        unchanged = (await admin.get(f"/v1/webhooks/{hook['id']}")).json()
        assert unchanged["url"] == "https://crm.example/h"


def _signed_by(request: Received, secret: str) -> dict[str, Any]:
    verified: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return verified


async def test_a_lead_reaches_the_crm_signed_and_is_replayed_with_the_same_id(
    admin: Admin, receiver: Receiver
) -> None:
    created = await admin.post(
        "/v1/webhooks", {"url": f"{receiver.url}/amo", "events": ["lead.sql"], "stage_map": {"sql": "Аудит"}}
    )
    hook = created.json()
    played = await qualify(admin.http)
    assert played.last["done"]

    [first] = await receiver.wait_for(1)
    body = _signed_by(first, hook["secret"])
    assert body["type"] == "lead.sql"
    lead = body["data"]["lead"]
    assert lead["crm_stage"] == "Аудит"
    assert lead["contact"]["name"] == "Иван Петров"
    assert lead["conversation_id"] == played.conversation_id

    page = await eventually(lambda: _delivered_page(admin, hook["id"]))
    [delivery] = page["items"]
    assert delivery["webhook_message_id"] == first.headers["webhook-id"]
    assert delivery["lead_id"] == lead["id"]
    assert delivery["type"] == "lead.sql"

    rotated = await admin.post(f"/v1/webhooks/{hook['id']}/rotate-secret", {"grace_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    until = datetime.fromisoformat(rotated.json()["previous_secret_until"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)

    again = await admin.post(f"/v1/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    [_, second] = await receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    assert _signed_by(second, new_secret)["data"]["lead"]["id"] == lead["id"]
    assert _signed_by(second, hook["secret"])["data"]["lead"]["id"] == lead["id"]  # the grace period
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(second.body, second.headers)

    detail = await eventually(lambda: _attempted(admin, delivery["id"], 2))
    assert [a["status_code"] for a in detail["attempt_log"]] == [200, 200]
    assert detail["status"] == "delivered"

    # An endpoint registered afterwards gets what it missed when asked for the time range.
    later = (
        await admin.post("/v1/webhooks", {"url": f"{receiver.url}/later", "events": ["lead.sql"]})
    ).json()
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    queued = await admin.post(f"/v1/webhooks/{later['id']}/redeliver", {"since": since})
    assert queued.status_code == 202, queued.text
    assert queued.json() == {"queued": 1}
    [*_, third] = await receiver.wait_for(3)
    assert third.path == "/later"
    assert third.headers["webhook-id"] == first.headers["webhook-id"]
    assert _signed_by(third, later["secret"])["data"]["lead"]["id"] == lead["id"]
    assert (await admin.post(f"/v1/webhooks/{later['id']}/redeliver", {"since": since})).json() == {
        "queued": 0
    }, "what was delivered is not queued again by a range"


async def _delivered_page(admin: Admin, hook_id: str) -> dict[str, Any] | None:
    page: dict[str, Any] = (await admin.get(f"/v1/webhooks/{hook_id}/deliveries", status="delivered")).json()
    return page if page["items"] else None


async def _attempted(admin: Admin, delivery_id: str, count: int) -> dict[str, Any] | None:
    detail: dict[str, Any] = (await admin.get(f"/v1/deliveries/{delivery_id}")).json()
    return detail if len(detail["attempt_log"]) >= count and detail["status"] == "delivered" else None


async def test_a_dead_lettered_delivery_is_replayed_by_its_range(admin: Admin) -> None:
    failing = True

    def script(_request: Received) -> Respond:
        return Respond(500, body=b"down") if failing else Respond(200)

    receiver = await Receiver(script).start()
    try:
        hook = (await admin.post("/v1/webhooks", {"url": receiver.url, "events": ["lead.sql"]})).json()
        await qualify(admin.http)
        await receiver.wait_for(3)  # the whole compressed schedule
        page = await eventually(lambda: _failed_page(admin, hook["id"]))
        [dead] = page["items"]
        assert dead["attempts"] == 3
        assert dead["last_status_code"] == 500
        failing = False
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        queued = await admin.post(f"/v1/webhooks/{hook['id']}/redeliver", {"since": since, "until": until})
        assert queued.json() == {"queued": 1}
        requests = await receiver.wait_for(4)
        assert {r.headers["webhook-id"] for r in requests} == {dead["webhook_message_id"]}
        await eventually(lambda: _delivered_page(admin, hook["id"]))
    finally:
        await receiver.close()


async def _failed_page(admin: Admin, hook_id: str) -> dict[str, Any] | None:
    page: dict[str, Any] = (await admin.get(f"/v1/webhooks/{hook_id}/deliveries", status="failed")).json()
    return page if page["items"] else None


async def test_outcomes_flow_back_and_a_stale_or_repeated_one_changes_nothing(admin: Admin) -> None:
    played = await qualify(admin.http)
    card = await admin.lead_of(played)
    lead_id = card["lead"]["id"]
    assert card["lead"]["stage"] == "sql"
    outcome = f"/v1/leads/{lead_id}/outcome"
    called = datetime.now(UTC) - timedelta(hours=2)

    accepted = await admin.post(outcome, {"status": "sal", "at": called.isoformat(), "reason": "Созвонились"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["applied"] is True
    assert accepted.json()["stage"] == "sal"
    assert accepted.json()["lead_id"] == lead_id

    repeated = await admin.post(outcome, {"status": "sal", "at": called.isoformat()})
    assert repeated.status_code == 200
    assert repeated.json()["applied"] is False

    won_at = called + timedelta(hours=1)
    won = await admin.post(outcome, {"status": "won", "at": won_at.isoformat(), "reason": "Договор подписан"})
    assert won.json()["applied"] is True
    stale = await admin.post(outcome, {"status": "lost", "at": called.isoformat(), "reason": "старый отчёт"})
    assert stale.json()["applied"] is False
    assert stale.json()["stage"] == "won"

    after = (await admin.get(f"/v1/leads/{lead_id}")).json()["lead"]
    assert after["stage"] == "won"
    assert after["outcome_reason"] == "Договор подписан"
    assert datetime.fromisoformat(after["outcome_at"]) == won_at

    naive = await admin.post(outcome, {"status": "lost", "at": "2026-12-01T10:00:00"})
    assert naive.status_code == 422
    assert "zone" in naive.json()["message"]
    future = await admin.post(
        outcome, {"status": "lost", "at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    )
    assert future.status_code == 422
    assert "future" in future.json()["message"]
    now = await admin.post(outcome, {"status": "lost"})  # "at" defaults to now: newer than the win
    assert now.json()["applied"] is True
    assert now.json()["stage"] == "lost"


async def test_a_key_is_touched_when_used_and_a_revoked_key_stops_at_once(admin: Admin) -> None:
    async with open_engine(admin.settings) as engine:
        keys = handoff_services(engine, admin.settings).keys
        [record] = await keys.list()
        assert record.last_used_at is None
        assert (await admin.get("/v1/webhooks")).status_code == 200
        [record] = await keys.list()
        assert record.last_used_at is not None
        assert await keys.revoke(admin.key)
    refused = await admin.get("/v1/webhooks")
    assert refused.status_code == 401


async def test_hostile_text_is_kept_as_text_or_refused_never_a_server_error(admin: Admin) -> None:
    """NUL (which PostgreSQL cannot store) is dropped, markup kept as text, a lone surrogate or a
    URL that is not one refused."""
    played = await qualify(admin.http)
    lead_id = (await admin.lead_of(played))["lead"]["id"]
    outcome = f"/v1/leads/{lead_id}/outcome"
    json_headers = admin.auth | {"Content-Type": "application/json"}
    raw = '{"status": "sal", "reason": "<b>Созвон</b>\\u0000 завтра в 10:00"}'
    reported = await admin.http.post(outcome, content=raw.encode(), headers=json_headers)
    assert reported.status_code == 200, reported.text
    assert reported.json()["reason"] == "<b>Созвон</b> завтра в 10:00"
    card = (await admin.get(f"/v1/leads/{lead_id}")).json()
    assert card["lead"]["outcome_reason"] == "<b>Созвон</b> завтра в 10:00"
    lone = '{"status": "won", "reason": "\\ud800"}'
    assert (await admin.http.post(outcome, content=lone.encode(), headers=json_headers)).status_code == 422

    for url in ("https://crm.example/\\ud800", "https://xn--/hook", "https://crm\\u0000.example/"):
        body = f'{{"url": "{url}"}}'.encode()
        refused = await admin.http.post("/v1/webhooks", content=body, headers=json_headers)
        assert refused.status_code == 422, (url, refused.text)
    named = await admin.post(
        "/v1/webhooks", {"url": "https://crm.example/h", "stage_map": {"sql": "Аудит\x00"}}
    )
    assert named.status_code == 201, named.text
    assert named.json()["stage_map"] == {"sql": "Аудит"}
