"""Limits on what one client may ask of the server: a request body limit (413) and rate limits
(429 with ``Retry-After``) per client address and per conversation.

Rate limits are kept in the memory of each server process (with ``--workers N`` each worker
counts on its own): they protect the service from a runaway client, they are not a quota.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge, error_body
from api.settings import Rate


class RateLimiter:
    """The generic cell rate algorithm per key: a burst of ``rate.count`` requests, refilled at
    one every ``rate.period / rate.count`` seconds. One float per key; keys whose bucket is full
    again are forgotten as new ones come."""

    _PRUNE_EVERY = 4096

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._interval = rate.period / rate.count if rate.enabled else 0.0
        self._tolerance = rate.period - self._interval if rate.enabled else 0.0
        self._arrivals: dict[Hashable, float] = {}
        self._since_prune = 0

    def hit(self, key: Hashable) -> float:
        """Count one request of ``key``: 0 when it may go ahead, else the seconds until it may."""
        if not self.rate.enabled:
            return 0.0
        now = self._clock()
        arrival = max(self._arrivals.get(key, now), now)
        wait = arrival - self._tolerance - now
        if wait > 0:
            return wait
        self._arrivals[key] = arrival + self._interval
        self._since_prune += 1
        if self._since_prune >= self._PRUNE_EVERY:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        self._since_prune = 0
        self._arrivals = {key: at for key, at in self._arrivals.items() if at > now}

    def __len__(self) -> int:
        return len(self._arrivals)


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value (whole seconds, at least one) for a wait."""
    return str(max(1, math.ceil(wait)))


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413: at once when ``Content-Length`` says
    so, else (chunked bodies) as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _send_too_large(send, self.limit)
            return
        limit = self.limit
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, limit: int) -> None:
    body = error_body("body_too_large", f"the request body is over {limit} bytes")
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
