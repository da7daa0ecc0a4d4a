"""A local fake of the Telegram Bot API speaking real HTTP on 127.0.0.1.

It serves ``getMe`` and ``getUpdates`` (long polling with Telegram's offset rules: an update is
confirmed, and forgotten, once a request asks for a higher offset), records every
``sendMessage``, ``answerCallbackQuery``, ``editMessageReplyMarkup`` and webhook call, keeps the
messages it "sent" so a test can tap their buttons, answers ``429 Too Many Requests`` with
``retry_after`` when told to, and can deliver an update again. Tests play a user with
``user_text``, ``user_tap``, ``user_contact``, ...; they wait with ``wait_for``, which is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

JSON = dict[str, Any]

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:TEST-token_for-the-fake-api"
BOT_USERNAME = "qualibot_test_bot"

# Parameters that travel as JSON text in a form-encoded request.
_JSON_FIELDS = {"reply_markup", "entities", "allowed_updates", "link_preview_options", "reply_parameters"}
_INT_FIELDS = {"offset", "limit", "timeout", "chat_id", "message_id", "max_connections"}


@dataclass
class Call:
    method: str
    params: JSON
    at: float  # time.monotonic() when it arrived
    status: int = 200


@dataclass
class Throttle:
    """Answer the next ``count`` calls of ``method`` (for ``chat_id`` only, when given) with 429."""

    method: str
    count: int
    retry_after: int
    chat_id: int | None = None


@dataclass
class User:
    id: int
    first_name: str = "Иван"
    language_code: str | None = "ru"
    username: str | None = None

    def to_json(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            out["language_code"] = self.language_code
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class FakeBotApi:
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    throttles: list[Throttle] = field(default_factory=list)
    # Called with each call before it is answered; may be a coroutine function (to hold the answer).
    on_call: Callable[[Call], Any] | None = None

    def __post_init__(self) -> None:
        self._updates: list[JSON] = []
        self._again: list[JSON] = []  # delivered once more, whatever the offset
        self._confirmed = 0  # every update_id below this is confirmed
        self._next_update_id = 500_000
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._sent: dict[int, list[int]] = {}  # message ids sent to each chat, in order
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._callback_ids = 0
        self.webhook: JSON = {}
        self._notifications: set[asyncio.Task[None]] = set()

    # -- server -------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if self.on_call is not None:
            result = self.on_call(call)
            if asyncio.iscoroutine(result):
                await result
        throttled = self._throttled(method, params)
        if throttled is not None:
            call.status = 429
            await self._notify()
            return _error(
                429,
                f"Too Many Requests: retry after {throttled}",
                parameters={"retry_after": throttled},
            )
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            call.status = 404
            await self._notify()
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            call.status = exc.code
            await self._notify()
            return _error(exc.code, exc.description)
        if method == "getUpdates" and not _gone(request):
            # Delivered once more: unless the poller hung up before the answer (it was stopped).
            self._again = [u for u in self._again if u not in result]
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    def _throttled(self, method: str, params: JSON) -> int | None:
        for throttle in self.throttles:
            if throttle.count <= 0 or throttle.method != method:
                continue
            if throttle.chat_id is not None and params.get("chat_id") != throttle.chat_id:
                continue
            throttle.count -= 1
            return throttle.retry_after
        return None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the API methods ----------------------------------------------------------------------
    async def _api_getMe(self, _params: JSON) -> JSON:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Qualibot",
            "username": BOT_USERNAME,
            "can_join_groups": False,
        }

    async def _api_getUpdates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 5.0)  # bounded: tests never hang
        self._confirmed = max(self._confirmed, offset)
        if self._updates and self._updates[0]["update_id"] < self._confirmed:  # forgotten, as Telegram does
            self._updates = [u for u in self._updates if u["update_id"] >= self._confirmed]
        deadline = time.monotonic() + timeout
        while True:
            ready = self._ready(limit)
            if ready or time.monotonic() >= deadline:
                return ready
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())

    def _ready(self, limit: int) -> list[JSON]:
        pending = [u for u in self._updates if u["update_id"] >= self._confirmed]
        return (self._again + pending)[:limit]

    async def _api_sendMessage(self, params: JSON) -> JSON:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        message_id = self._next_message_id.get(chat_id, 1000) + 1
        self._next_message_id[chat_id] = message_id
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": await self._api_getMe({}),
            "text": text,
        }
        if params.get("entities"):
            message["entities"] = params["entities"]
        markup = params.get("reply_markup")
        if markup is not None:
            message["_reply_markup"] = markup  # kept for the test; Telegram echoes inline ones only
            if "inline_keyboard" in markup:
                message["reply_markup"] = markup
        self._messages[(chat_id, message_id)] = message
        self._sent.setdefault(chat_id, []).append(message_id)
        return {k: v for k, v in message.items() if not k.startswith("_")}

    async def _api_answerCallbackQuery(self, params: JSON) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query id is empty")
        return True

    async def _api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self._messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup") or None
        if markup == message.get("reply_markup"):
            raise _ApiError(400, "Bad Request: message is not modified")
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return {k: v for k, v in message.items() if not k.startswith("_")}

    async def _api_setWebhook(self, params: JSON) -> bool:
        self.webhook = dict(params)
        return True

    async def _api_deleteWebhook(self, _params: JSON) -> bool:
        self.webhook = {}
        return True

    async def _api_getWebhookInfo(self, _params: JSON) -> JSON:
        url = self.webhook.get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    # -- playing the user ---------------------------------------------------------------------
    def push(self, update: JSON) -> JSON:
        """Queue an update (its ``update_id`` is given here, in order)."""
        self._next_update_id += 1
        update = {"update_id": self._next_update_id, **update}
        self._updates.append(update)
        self._wake()
        return update

    def redeliver(self, update: JSON) -> None:
        """Deliver ``update`` once more with the next ``getUpdates``, even if it was confirmed."""
        self._again.append(update)
        self._wake()

    def _wake(self) -> None:
        async def notify() -> None:
            await self._notify()

        self._notifications.add(task := asyncio.get_running_loop().create_task(notify()))
        task.add_done_callback(self._notifications.discard)

    def user_text(self, user: User, text: str, *, chat: JSON | None = None) -> JSON:
        message = self._user_message(user, chat)
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push({"message": message})

    def user_message(self, user: User, content: JSON, *, chat: JSON | None = None) -> JSON:
        """A message with other content: ``{"sticker": {...}}``, ``{"photo": [...]}``, ..."""
        return self.push({"message": self._user_message(user, chat) | content})

    def user_contact(self, user: User, phone: str, *, owner: int | None = None) -> JSON:
        contact: JSON = {"phone_number": phone, "first_name": user.first_name}
        contact["user_id"] = user.id if owner is None else owner
        return self.user_message(user, {"contact": contact})

    def user_edit(self, user: User, text: str) -> JSON:
        message = self._user_message(user, None) | {"text": text, "edit_date": int(time.time())}
        return self.push({"edited_message": message})

    def user_tap(self, user: User, message: JSON, label: str) -> JSON:
        """Tap the inline button labelled ``label`` (exactly, or its start) of a sent message."""
        data = button_data(message, label)
        self._callback_ids += 1
        return self.push(
            {
                "callback_query": {
                    "id": f"cb{self._callback_ids}",
                    "from": user.to_json(),
                    "chat_instance": f"ci{user.id}",
                    "data": data,
                    "message": {k: v for k, v in message.items() if not k.startswith("_")},
                }
            }
        )

    def _user_message(self, user: User, chat: JSON | None) -> JSON:
        chat = chat or {"id": user.id, "type": "private", "first_name": user.first_name}
        message_id = self._next_message_id.get(chat["id"], 1000) + 1
        self._next_message_id[chat["id"]] = message_id
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": user.to_json()}

    # -- what the bot did ---------------------------------------------------------------------
    def requests(self, method: str, *, chat_id: int | None = None, ok: bool = True) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method
            and (chat_id is None or c.params.get("chat_id") == chat_id)
            and (not ok or c.status == 200)
        ]

    def sent(self, chat_id: int) -> list[JSON]:
        """Messages delivered to a chat, in order, as they are now (edits applied)."""
        return [self._messages[(chat_id, message_id)] for message_id in self._sent.get(chat_id, [])]

    def texts(self, chat_id: int) -> list[str]:
        return [str(m["text"]) for m in self.sent(chat_id)]

    def last(self, chat_id: int) -> JSON:
        sent = self.sent(chat_id)
        assert sent, f"nothing was sent to chat {chat_id}"
        return sent[-1]

    def message(self, chat_id: int, message_id: int) -> JSON:
        return self._messages[(chat_id, message_id)]

    @property
    def confirmed(self) -> int:
        """The offset the bot has confirmed: every update below it is acknowledged."""
        return self._confirmed

    def pending_updates(self) -> list[JSON]:
        return [u for u in self._updates if u["update_id"] >= self._confirmed]

    async def wait_for(self, condition: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
        """Wait (at most ``within`` seconds) until ``condition()`` holds; checked after every call."""
        deadline = time.monotonic() + within
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {within}s waiting for {what or condition}")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.2))


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        self.code = code
        self.description = description


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _error(code: int, description: str, *, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


async def _params(request: web.Request) -> JSON:
    if request.content_type == "application/json":
        raw: JSON = await request.json()
        return raw
    form = await request.post()
    params: JSON = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else str(value)
        if key in _JSON_FIELDS:
            params[key] = json.loads(text)
        elif key in _INT_FIELDS and text.lstrip("-").isdigit():
            params[key] = int(text)
        else:
            params[key] = text
    return params


def buttons(message: JSON) -> list[JSON]:
    """The inline buttons of a message, row after row."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button_data(message: JSON, label: str) -> str:
    for button in buttons(message):
        if button["text"] == label:
            return str(button["callback_data"])
    for button in buttons(message):
        if button["text"].startswith(label) or label in button["text"]:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {[b['text'] for b in buttons(message)]}")


def reply_keyboard(message: JSON) -> JSON | None:
    """The reply keyboard (or keyboard removal) a message was sent with."""
    markup = message.get("_reply_markup")
    if markup is None or "inline_keyboard" in markup:
        return None
    result: JSON = markup
    return result


def make_bot(api: FakeBotApi, *, timeout: float = 10.0) -> Bot:
    """An aiogram ``Bot`` talking to ``api`` over real HTTP."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.url), timeout=timeout)
    return Bot(TOKEN, session=session)
