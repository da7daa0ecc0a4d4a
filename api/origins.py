"""Which sites may talk to the chat API from a browser (CORS), per ``QUALIBOT_ALLOWED_ORIGINS``.

An allowed origin gets ``Access-Control-Allow-Origin`` (and its preflight answered); a foreign one
gets none, and its requests are refused with 403 before they reach a route, so another site cannot
fill the lead list through visitors' browsers. The server's own origin (the demo page) is always
allowed. Requests without ``Origin`` (servers, same-origin navigations) are not affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

ALLOW_METHODS = b"GET, POST"
ALLOW_HEADERS = b"Authorization, Content-Type, Idempotency-Key"
EXPOSE_HEADERS = b"Retry-After, Idempotent-Replayed"
PREFLIGHT_MAX_AGE = b"600"


class Origins:
    def __init__(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        self.any = "*" in allowed
        self._allowed = frozenset(o for o in allowed if o != "*")

    def allows(self, origin: str, host: str | None) -> bool:
        if self.any or origin in self._allowed:
            return True
        # The server's own pages (``/demo``) call the API from the same origin.
        return host is not None and urlsplit(origin).netloc == host.lower()


class CorsMiddleware:
    """CORS for the paths under ``prefix``; everything else passes untouched."""

    def __init__(self, app: ASGIApp, origins: Origins, prefix: str) -> None:
        self.app = app
        self.origins = origins
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        origin = host = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight = True
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not self.origins.allows(origin, host):
            await _send(send, 403, error_body("origin_not_allowed", "this site may not use the chat"), [])
            return
        granted = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if preflight and scope["method"] == "OPTIONS":
            await _send(
                send,
                204,
                b"",
                [
                    *granted,
                    (b"access-control-allow-methods", ALLOW_METHODS),
                    (b"access-control-allow-headers", ALLOW_HEADERS),
                    (b"access-control-max-age", PREFLIGHT_MAX_AGE),
                ],
            )
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers += [*granted, (b"access-control-expose-headers", EXPOSE_HEADERS)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if body:
        headers = [*headers, (b"content-type", b"application/json")]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
