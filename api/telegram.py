"""``POST /telegram/webhook``: where Telegram pushes updates in webhook mode.

The route checks Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header against the configured
secret in constant time (a wrong or missing one is a 401 before the body is read), checks that the
body is a JSON object with an ``update_id``, and hands it to the ``UpdateIntake`` the composition
root provides (``bot.webhook.WebhookIntake``, which keeps it and returns at once). It answers 200
once the update is kept, 400 for a body that is not an update (Telegram does not send such), and
503 when it could not be kept (the database is down): Telegram delivers it again later.
"""

from __future__ import annotations

import hmac
from typing import Any, Protocol

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from api import errors

log = structlog.get_logger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class UpdateIntake(Protocol):
    async def receive(self, payload: dict[str, Any]) -> None:
        """Keep the update and start handling it; return once it is kept. Raises ``ValueError``
        when ``payload`` is not a Telegram update."""
        ...


def webhook_router(secret: str) -> APIRouter:
    expected = secret.encode()
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> Response:
        # Header values arrive as latin-1 text; compared as bytes, a non-ASCII one is just wrong.
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            return errors.error_response(401, "unauthorized", f"a valid {SECRET_HEADER} header is needed")
        intake: UpdateIntake | None = request.app.state.services.telegram
        if intake is None:
            return errors.error_response(503, "not_ready", "the Telegram bot is not running")
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return errors.error_response(400, "bad_request", "the body is not JSON")
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if type(update_id) is not int or update_id < 0:
            return errors.error_response(400, "bad_request", "not a Telegram update: no update_id")
        try:
            await intake.receive(payload)
        except ValueError:
            return errors.error_response(400, "bad_request", "not a Telegram update")
        except Exception as exc:  # kept nowhere: a 503 makes Telegram deliver it again
            log.error("telegram_webhook_failed", update_id=update_id, error=repr(exc))
            return errors.error_response(503, "unavailable", "the update could not be kept; send it again")
        return Response(status_code=200)

    return router
