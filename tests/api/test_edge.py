"""The HTTP edge: tokens, origins, limits, malformed and hostile input, health and metrics. These
are about the adapter, so they run on SQLite only (the conversation tests run on both databases)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from qualibot.web import build_app
from tests.api.conftest import bearer, running, settings_for, start

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "\u202eevil.exe\u202c and \u2067rtl\u2069",
    "😀" * 2500,  # 10 KB of emoji
    "'; DROP TABLE leads; --",
    "{{constructor.constructor('alert(1)')()}}",
]


async def answer_text(
    http: httpx.AsyncClient, conversation: dict[str, Any], text: str, **headers: str
) -> httpx.Response:
    return await http.post(
        f"/v1/conversations/{conversation['conversation_id']}/messages",
        json={"text": text},
        headers=bearer(conversation) | headers,
    )


# --------------------------------------------------------------------------- tokens


async def test_no_token_is_401_with_a_challenge(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    reply = await edge.post(
        f"/v1/conversations/{conversation['conversation_id']}/messages", json={"text": "да"}
    )
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert reply.json()["error"] == "unauthorized"


async def test_a_wrong_token_is_401(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    for header in ["Bearer nope", "Basic abc", "Bearer", "bearer " + "x" * 300, "Bearer \u0000"]:
        reply = await edge.get(
            f"/v1/conversations/{conversation['conversation_id']}", headers={"Authorization": header}
        )
        assert reply.status_code == 401, header


async def test_a_token_opens_only_its_own_conversation(edge: httpx.AsyncClient) -> None:
    mine, theirs = await start(edge), await start(edge)
    for path in ("", "/messages", "/events", "/handover/telegram"):
        url = f"/v1/conversations/{theirs['conversation_id']}{path}"
        body = {"text": "да"} if path == "/messages" else {"name": "page_view"} if path == "/events" else None
        reply = await (
            edge.get(url, headers=bearer(mine))
            if not path
            else edge.post(url, json=body, headers=bearer(mine))
        )
        assert reply.status_code == 401, path
    unknown = await edge.get(f"/v1/conversations/{uuid.uuid4()}", headers=bearer(mine))
    assert unknown.status_code == 401


async def test_an_expired_token_is_refused(sqlite_url: str) -> None:
    async with running(build_app(settings_for(sqlite_url, token_ttl="PT0.2S"))) as http:
        conversation = await start(http)
        await asyncio.sleep(0.3)
        reply = await http.get(
            f"/v1/conversations/{conversation['conversation_id']}", headers=bearer(conversation)
        )
        assert reply.status_code == 401
        assert "expired" in reply.json()["message"]


# --------------------------------------------------------------------------- malformed input


MALFORMED = [
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b'{"text": 5}',
    b'{"choice": {"a": 1}}',
    b'{"text": "a", "choice": "b"}',
    b"{}",
    b'{"text": ""}',
    b'{"choice": []}',
    b'{"choice": "<b>"}',
    b'{"text": "ok", "version": -1}',
    b'{"text": "ok", "version": 1e400}',
    b'{"text": "ok", "question_id": "../../etc"}',
    b'{"text": "\\ud800"}',
    b"\xff\xfe",
]


async def test_malformed_messages_are_422_never_500(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    for body in MALFORMED:
        reply = await edge.post(
            f"/v1/conversations/{conversation['conversation_id']}/messages",
            content=body,
            headers=bearer(conversation) | {"Content-Type": "application/json"},
        )
        assert reply.status_code == 422, (body, reply.text)
        assert set(reply.json()) >= {"error", "message"}
        assert "Traceback" not in reply.text


BAD_STARTS: list[Any] = [
    {"flow": "nope", "locale": "ru"},
    {"flow": "bant", "locale": "de"},
    {"flow": "BANT!", "locale": "ru"},
    {"flow": "bant"},
    {"flow": "bant", "locale": "ru", "context": {"visitor_id": "<x>"}},
    {"flow": "bant", "locale": "ru", "context": {"page_url": "x" * 5000}},
    {"flow": "bant", "locale": "ru", "context": "nope"},
    {"flow": ["bant"], "locale": "ru"},
]


async def test_a_bad_start_is_422(edge: httpx.AsyncClient) -> None:
    for body in BAD_STARTS:
        reply = await edge.post("/v1/conversations", json=body)
        assert reply.status_code == 422, (body, reply.text)
        assert "x" * 100 not in reply.text, "what was sent is never echoed back"


async def test_an_unknown_flow_says_so(edge: httpx.AsyncClient) -> None:
    reply = await edge.post("/v1/conversations", json={"flow": "nope", "locale": "ru"})
    assert reply.json()["error"] == "unknown_flow"
    reply = await edge.post("/v1/conversations", json={"flow": "bant", "locale": "de"})
    assert reply.json()["error"] == "unsupported_locale"


async def test_a_conversation_id_that_is_no_uuid_is_422(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    reply = await edge.get("/v1/conversations/not-a-uuid", headers=bearer(conversation))
    assert reply.status_code == 422


async def test_a_malformed_idempotency_key_is_422(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    for key in [b"short", b"x" * 129, b"has space", "ключ-ключ-ключ".encode()]:
        reply = await edge.post(
            f"/v1/conversations/{conversation['conversation_id']}/messages",
            json={"text": "да"},
            headers=[
                (b"Authorization", f"Bearer {conversation['token']}".encode()),
                (b"Idempotency-Key", key),
            ],
        )
        assert reply.status_code == 422, key
        assert reply.json()["error"] == "invalid_idempotency_key"


async def test_a_too_long_message_is_refused_clearly(sqlite_url: str) -> None:
    async with running(build_app(settings_for(sqlite_url, max_message_chars=100))) as http:
        conversation = await start(http)
        reply = await answer_text(http, conversation, "a" * 101)
        assert reply.status_code == 422
        assert reply.json()["error"] == "message_too_long"
        assert (await answer_text(http, conversation, "a" * 100)).status_code == 200


async def test_a_body_over_the_limit_is_413(edge: httpx.AsyncClient) -> None:
    conversation = await start(edge)
    url = f"/v1/conversations/{conversation['conversation_id']}/messages"
    big = json.dumps({"text": "я" * 40_000}).encode()
    reply = await edge.post(
        url, content=big, headers=bearer(conversation) | {"Content-Type": "application/json"}
    )
    assert reply.status_code == 413
    assert reply.json()["error"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    chunked = await edge.post(
        url, content=chunks(), headers=bearer(conversation) | {"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


# --------------------------------------------------------------------------- hostile text


async def test_hostile_text_is_kept_as_text(edge: httpx.AsyncClient) -> None:
    for hostile in HOSTILE:
        conversation = await start(edge)
        reply = await answer_text(edge, conversation, hostile)
        assert reply.status_code == 200, reply.text[:200]
        assert reply.headers["content-type"] == "application/json"
        url = f"/v1/conversations/{conversation['conversation_id']}"
        view = (await edge.get(url, headers=bearer(conversation))).json()
        said = [m["text"] for m in view["messages"] if m["sender"] == "visitor"]
        assert said == [hostile], "stored and shown exactly as sent, as text"


# --------------------------------------------------------------------------- origins


async def test_an_allowed_origin_gets_cors(edge: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://shop.example"}
    preflight = await edge.options(
        "/v1/conversations",
        headers=origin
        | {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    reply = await edge.post("/v1/conversations", json={"flow": "bant", "locale": "ru"}, headers=origin)
    assert reply.status_code == 201
    assert reply.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Retry-After" in reply.headers["Access-Control-Expose-Headers"]


async def test_a_foreign_origin_gets_nothing(edge: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://evil.example"}
    preflight = await edge.options(
        "/v1/conversations", headers=origin | {"Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    reply = await edge.post("/v1/conversations", json={"flow": "bant", "locale": "ru"}, headers=origin)
    assert reply.status_code == 403
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert reply.json()["error"] == "origin_not_allowed"


async def test_the_servers_own_origin_is_allowed(edge: httpx.AsyncClient) -> None:
    reply = await edge.post(
        "/v1/conversations", json={"flow": "bant", "locale": "ru"}, headers={"Origin": "http://testserver"}
    )
    assert reply.status_code == 201


# --------------------------------------------------------------------------- rate limits


async def test_starting_conversations_is_limited_per_address(sqlite_url: str) -> None:
    app = build_app(settings_for(sqlite_url, rate_start="3/minute"))
    async with running(app) as http:
        for _ in range(3):
            await start(http)
        reply = await http.post("/v1/conversations", json={"flow": "bant", "locale": "ru"})
        assert reply.status_code == 429
        assert 1 <= int(reply.headers["Retry-After"]) <= 20
        assert reply.json()["error"] == "too_many_requests"
    async with running(app, client=("198.51.100.20", 1)) as other:
        await start(other)


async def test_messages_are_limited_per_conversation(sqlite_url: str) -> None:
    async with running(build_app(settings_for(sqlite_url, rate_conversation="5/minute"))) as http:
        conversation, other = await start(http), await start(http)
        replies = [await answer_text(http, conversation, "не знаю") for _ in range(7)]
        assert [r.status_code for r in replies] == [200] * 5 + [429] * 2
        assert 1 <= int(replies[-1].headers["Retry-After"]) <= 12
        assert (await answer_text(http, other, "не знаю")).status_code == 200


async def test_requests_are_limited_per_address(sqlite_url: str) -> None:
    app = build_app(settings_for(sqlite_url, rate_ip="4/minute"))
    async with running(app) as http:
        conversation = await start(http)  # every chat request counts, a start too
        path = f"/v1/conversations/{conversation['conversation_id']}"
        codes = [(await answer_text(http, conversation, "не знаю")).status_code for _ in range(3)]
        resumed = await http.get(path, headers=bearer(conversation))
        assert codes == [200] * 3
        assert resumed.status_code == 429
        assert 1 <= int(resumed.headers["Retry-After"]) <= 15
        assert resumed.json()["error"] == "too_many_requests"
        assert "address" in resumed.json()["message"]
        metrics = (await http.get("/metrics")).text
        assert 'qualibot_rate_limited_total{limit="requests from this address"} 1.0' in metrics
    async with running(app, client=("198.51.100.30", 1)) as other:
        assert (await other.get(path, headers=bearer(conversation))).status_code == 200


async def test_forwarded_for_counts_only_through_a_trusted_proxy(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, rate_start="1/minute", trusted_proxies="127.0.0.1")
    app = build_app(settings)
    body = {"flow": "bant", "locale": "ru"}
    async with running(app, client=("127.0.0.1", 1)) as proxied:
        first = await proxied.post(
            "/v1/conversations", json=body, headers={"X-Forwarded-For": "198.51.100.1"}
        )
        second = await proxied.post(
            "/v1/conversations", json=body, headers={"X-Forwarded-For": "198.51.100.2"}
        )
        again = await proxied.post(
            "/v1/conversations", json=body, headers={"X-Forwarded-For": "198.51.100.1"}
        )
        assert (first.status_code, second.status_code, again.status_code) == (201, 201, 429)
    async with running(app, client=("203.0.113.50", 1)) as direct:
        spoof_one = await direct.post("/v1/conversations", json=body, headers={"X-Forwarded-For": "10.9.9.1"})
        spoof_two = await direct.post("/v1/conversations", json=body, headers={"X-Forwarded-For": "10.9.9.2"})
        assert (spoof_one.status_code, spoof_two.status_code) == (201, 429), (
            "an untrusted peer cannot claim addresses"
        )


# --------------------------------------------------------------------------- operations


async def test_health_readiness_and_metrics(edge: httpx.AsyncClient) -> None:
    assert (await edge.get("/healthz")).json() == {"status": "ok"}
    assert (await edge.get("/readyz")).json() == {"status": "ready"}
    conversation = await start(edge)
    await answer_text(edge, conversation, "не знаю")
    await edge.get("/v1/conversations/not-a-uuid")
    metrics = (await edge.get("/metrics")).text
    assert 'qualibot_conversations_started_total{flow="bant"} 1.0' in metrics
    assert 'qualibot_turns_total{flow="bant"} 1.0' in metrics
    assert 'route="/v1/conversations/{conversation_id}/messages",status="200"' in metrics
    assert (
        'qualibot_http_errors_total{route="/v1/conversations/{conversation_id}",status="422"} 1.0' in metrics
    )


async def test_readiness_fails_when_the_database_is_not_migrated(sqlite_url: str) -> None:
    async with running(build_app(settings_for(sqlite_url))) as http:
        sync = create_engine(sqlite_url.replace("+aiosqlite", ""))
        with sync.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '20200101_0000'"))
        sync.dispose()
        reply = await http.get("/readyz")
        assert reply.status_code == 503
        assert "not migrated" in reply.json()["message"]
        assert (await http.get("/healthz")).status_code == 200
