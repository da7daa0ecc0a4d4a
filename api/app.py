"""The FastAPI application: the public chat API, the widget and its demo page, health and metrics.

``create_app`` builds it without touching any I/O: the database engine, the stores and the
conversation service are opened by ``open_services`` in the lifespan (the composition root in
``qualibot`` provides it) and closed when the server stops. Routers of other adapters (the
Telegram webhook, the admin API) come in through ``extra_routers``, so this package never imports
them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from api import errors
from api.admin import AdminServices
from api.chat import Chat
from api.chat import router as chat_router
from api.limits import BodyLimit, RateLimiter
from api.metrics import Metrics, MetricsMiddleware
from api.origins import CorsMiddleware, Origins
from api.proxies import ClientAddress
from api.settings import ApiSettings
from api.telegram import UpdateIntake
from api.tokens import ConversationTokens, TokenStore
from api.widget import Widget
from api.widget import router as widget_router
from flows.catalog import FlowCatalog
from flows.ports import Clock
from flows.service import ConversationService

READY_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class WebServices:
    """What the web adapter runs on, opened by the composition root for the app's lifetime."""

    conversations: ConversationService
    tokens: TokenStore
    catalog: FlowCatalog
    clock: Clock
    ready: Callable[[], Awaitable[None]]  # raises when the database is unreachable or not migrated
    telegram: UpdateIntake | None = None  # where the Telegram webhook hands updates, when it is on
    admin: AdminServices | None = None  # what the admin routes call, when they are served


OpenServices = Callable[[], AbstractAsyncContextManager[WebServices]]

DESCRIPTION = """\
The public conversation API of the Qualibot chat widget.

A conversation starts with `POST /v1/conversations`, which returns its id and a **token**; every
further call about that conversation sends `Authorization: Bearer <token>`. Send the
`question_id` and `version` of the question an answer is for: a double tap or an old button then
changes nothing. A retried request with the same `Idempotency-Key` header returns the first result
and is never applied twice. Errors are `{"error": "<code>", "message": "..."}`.

The **admin API** (`/v1/webhooks`, `/v1/deliveries`, `/v1/leads`) is for the CRM and the sales
team: every call sends `Authorization: Bearer <admin API key>` (`qualibot keys create` prints one).
"""


def create_app(
    settings: ApiSettings,
    open_services: OpenServices,
    *,
    extra_routers: Sequence[APIRouter] = (),
    telegram_bot_username: str | None = None,
) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            app.state.chat = Chat(
                service=services.conversations,
                tokens=ConversationTokens(services.tokens, services.clock, settings.token_ttl),
                metrics=metrics,
                client_address=ClientAddress(settings.trusted_proxies),
                start_limit=RateLimiter(settings.rate_start),
                ip_limit=RateLimiter(settings.rate_ip),
                conversation_limit=RateLimiter(settings.rate_conversation),
                max_message_chars=settings.max_message_chars,
                telegram_bot_username=telegram_bot_username,
            )
            app.state.widget = Widget(services.catalog)
            yield

    app = FastAPI(
        title="Qualibot",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(health_router(metrics))
    app.include_router(chat_router)
    app.include_router(widget_router)
    for router in extra_routers:
        app.include_router(router)
    # Outermost first when a request comes in: metrics see every answer, 413 before any reading.
    app.add_middleware(CorsMiddleware, origins=Origins(settings.allowed_origins), prefix="/v1/conversations")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def health_router(metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is up", responses={200: {"description": "up"}})
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The database is reachable and migrated",
        responses={200: {"description": "ready"}, 503: {"description": "not ready, with the reason"}},
    )
    async def readyz(request: Request) -> Response:
        services: WebServices = request.app.state.services
        try:
            await asyncio.wait_for(services.ready(), READY_TIMEOUT)
        except Exception as exc:  # any failure to reach the database means "not ready"
            reason = "the database did not answer in time" if isinstance(exc, TimeoutError) else str(exc)
            return errors.error_response(503, "not_ready", reason)
        return Response(b'{"status":"ready"}', media_type="application/json")

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return router
