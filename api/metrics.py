"""Prometheus metrics of the web adapter, served at ``/metrics``: chat turns, conversations started
and finished (by flow and outcome), request latency by route, and errors.

With several worker processes (``qualibot serve --workers N``) each worker writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up all of them (prometheus-client's multiprocess
mode), so a scrape sees the whole server whichever worker answers it.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Counter(
            "qualibot_turns",
            "Chat turns taken (answers and events), by flow",
            ["flow"],
            registry=self.registry,
        )
        self.started = Counter(
            "qualibot_conversations_started",
            "Conversations started, by flow",
            ["flow"],
            registry=self.registry,
        )
        self.finished = Counter(
            "qualibot_conversations_finished",
            "Conversations finished, by flow and outcome (the lead's stage)",
            ["flow", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qualibot_http_request_duration_seconds",
            "Time to answer a request, by method, route and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "qualibot_http_errors",
            "Requests answered with 4xx or 5xx, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "qualibot_rate_limited",
            "Requests refused by a rate limit, by limit",
            ["limit"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request and counts the failed ones, labelled by the route's path template
    (``/v1/conversations/{conversation_id}/messages``), never by the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
            if status >= 400:
                self.metrics.errors.labels(template, str(status)).inc()
