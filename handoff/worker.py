"""The delivery worker: claims due deliveries, signs and POSTs them, records every attempt.

One loop per process. Each round it claims as many due deliveries as it has free slots (the
claim also fans new outbox events out to their endpoints), sends each in a task of its own and,
as tasks finish, records their attempts in one transaction and claims again. Slots are counted
per endpoint too: an endpoint that hangs holds at most ``concurrency_per_endpoint`` of them for at
most the timeout, and every other endpoint keeps its pace. A claimed delivery belongs to this
worker until its lease runs out; a worker that dies mid-way loses its leases and another worker
(or this one, restarted) sends those deliveries again, with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
import structlog

from flows.ports import Clock
from handoff import payload, signing
from handoff.retry import RetryPolicy, parse_retry_after
from handoff.settings import HandoffSettings
from handoff.transport import blocked
from storage.outbox import DELIVERED, FAILED, PENDING, AttemptRecord, ClaimedDelivery, DeliveryStatus

log = structlog.get_logger(__name__)

EXCERPT_CHARS = 1000  # of a response body, kept with the attempt
MAX_READ_BYTES = 64 * 1024  # read of a response body at most (then the connection is dropped)
MAX_BACKOFF = 30.0  # seconds between tries to reach a database that does not answer


class Outbox(Protocol):
    """What the worker needs of the store (``storage.outbox.SqlOutbox``)."""

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        exclude_endpoints: Sequence[uuid.UUID] = (),
        fan_out_limit: int = 500,
    ) -> list[ClaimedDelivery]: ...

    async def record(
        self, owner: str, results: Sequence[AttemptRecord], now: datetime, *, disable_after: timedelta
    ) -> None: ...

    async def release(self, owner: str, delivery_ids: Sequence[uuid.UUID], now: datetime) -> None: ...


class Sweeper(Protocol):
    async def sweep(self, now: datetime) -> int: ...


def worker_name() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is another worker)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: DeliveryStatus
    next_attempt_at: datetime | None
    ok: bool
    gone: bool


def judge(
    policy: RetryPolicy, tries_made: int, status_code: int | None, retry_after: str | None, now: datetime
) -> Verdict:
    """What follows from one try (``tries_made`` counts it): delivered on 2xx; otherwise the next
    try of the schedule, or dead-lettered when there is none. A 410 also disables the endpoint:
    the delivery then waits for it to be enabled again."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict(DELIVERED, None, ok=True, gone=False)
    wait = parse_retry_after(retry_after, now) if status_code in (429, 503) else None
    next_at = policy.next_try(tries_made, now, wait)
    status: DeliveryStatus = PENDING if next_at is not None else FAILED
    return Verdict(status, next_at, ok=False, gone=status_code == 410)


def _clean(text: str, limit: int) -> str:
    """Text safe to store anywhere (PostgreSQL refuses NUL), at most ``limit`` characters."""
    return text.replace("\x00", "\ufffd")[:limit]


def describe_error(exc: BaseException, timeout: float) -> str:
    refused = blocked(exc)
    if refused is not None:
        return f"refused: {refused}"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    kind = type(exc).__name__
    detail = str(exc) or repr(exc)
    return f"{kind}: {detail}"


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        client: httpx.AsyncClient,
        settings: HandoffSettings,
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        sweeper: Sweeper | None = None,
        name: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._settings = settings
        self._clock = clock
        self._policy = policy or RetryPolicy(settings.retry_schedule)
        self._sweeper = sweeper
        self.name = name or worker_name()
        self._in_flight: dict[asyncio.Task[AttemptRecord], ClaimedDelivery] = {}
        self._per_endpoint: Counter[uuid.UUID] = Counter()
        self._finished: list[AttemptRecord] = []
        self._wake = asyncio.Event()
        self._next_sweep = 0.0
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then finish what is in flight and return."""
        log.info("worker_started", worker=self.name)
        backoff = 0.0
        stopping = asyncio.create_task(stop.wait())
        try:
            while not (stop.is_set() and not self._in_flight and not self._finished):
                try:
                    full = await self._round(claiming=not stop.is_set())
                    backoff = 0.0
                except Exception as exc:
                    backoff = min(MAX_BACKOFF, max(0.5, backoff * 2))
                    log.error("worker_database_error", worker=self.name, error=str(exc), retry_in=backoff)
                    await self._wait(stopping, backoff)
                    continue
                if not full:
                    await self._wait(stopping, self._settings.worker_poll_interval)
        finally:
            stopping.cancel()
            await self._give_back()
        log.info("worker_stopped", worker=self.name, sent=self.sent)

    async def _round(self, *, claiming: bool) -> bool:
        """Record what finished, sweep when it is time, claim into the free slots. True when the
        claim filled every slot it asked for (there may be more due at once)."""
        if self._finished:
            done, self._finished = self._finished, []
            try:
                await self._outbox.record(
                    self.name, done, self._clock.now(), disable_after=self._settings.disable_after
                )
            except Exception:
                self._finished = done + self._finished
                raise
        if not claiming:
            return False
        if self._sweeper is not None and time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self._settings.abandoned_sweep_interval
            await self._sweeper.sweep(self._clock.now())
        free = min(self._settings.worker_concurrency - len(self._in_flight), self._settings.worker_batch)
        if free <= 0:
            return False
        cap = self._settings.worker_concurrency_per_endpoint
        claimed = await self._outbox.claim(
            self.name,
            self._clock.now(),
            self._settings.lease,
            free,
            exclude_endpoints=[e for e, n in self._per_endpoint.items() if n >= cap],
        )
        surplus = []
        for delivery in claimed:
            if self._per_endpoint[delivery.endpoint_id] >= cap:
                surplus.append(delivery.id)
                continue
            self._start(delivery)
        if surplus:
            await self._outbox.release(self.name, surplus, self._clock.now())
        return len(claimed) == free and not surplus

    def _start(self, delivery: ClaimedDelivery) -> None:
        self._per_endpoint[delivery.endpoint_id] += 1
        task = asyncio.create_task(self.send(delivery))
        self._in_flight[task] = delivery
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[AttemptRecord]) -> None:
        delivery = self._in_flight.pop(task)
        self._per_endpoint[delivery.endpoint_id] -= 1
        if self._per_endpoint[delivery.endpoint_id] <= 0:
            del self._per_endpoint[delivery.endpoint_id]
        if not task.cancelled():
            failure = task.exception()
            if failure is None:
                self._finished.append(task.result())
            else:
                # Left to its lease: the delivery is claimed again when the lease runs out.
                log.error(
                    "worker_send_crashed", worker=self.name, delivery_id=str(delivery.id), error=repr(failure)
                )
        self._wake.set()

    async def _wait(self, stopping: asyncio.Task[bool], seconds: float) -> None:
        """Until a send finishes, ``stop`` is set, or ``seconds`` pass."""
        if self._finished:
            return
        self._wake.clear()
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({woken, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def _give_back(self) -> None:
        """On the way out: cancel sends still running (their leases run out) and record what
        finished."""
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._finished:
            done, self._finished = self._finished, []
            try:
                await self._outbox.record(
                    self.name, done, self._clock.now(), disable_after=self._settings.disable_after
                )
            except Exception as exc:
                log.error("worker_unrecorded", worker=self.name, attempts=len(done), error=str(exc))

    async def send(self, delivery: ClaimedDelivery) -> AttemptRecord:
        """One signed POST of ``delivery``; what came back, and what follows from it."""
        timeout = self._settings.webhook_timeout
        started = self._clock.now()
        status_code: int | None = None
        retry_after: str | None = None
        excerpt = ""
        error: str | None = None
        began = time.perf_counter()
        try:
            body = payload.render(delivery, self._settings.public_url)
            headers = signing.headers(
                delivery.secrets, payload.message_id(delivery), int(started.timestamp()), body
            )
            headers["content-type"] = "application/json"
            async with asyncio.timeout(timeout):
                async with self._client.stream(
                    "POST", delivery.url, content=body, headers=headers
                ) as response:
                    status_code = response.status_code
                    retry_after = response.headers.get("retry-after")
                    excerpt = await _read_excerpt(response)
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            error = describe_error(exc, timeout)
        except Exception as exc:
            # Not the receiver's doing (a secret that cannot be read, a payload that cannot be
            # rendered): recorded like any failure, so the delivery is retried and visible.
            log.exception("webhook_not_sent", worker=self.name, delivery_id=str(delivery.id))
            error = f"not sent: {type(exc).__name__}: {exc}"
        latency_ms = round((time.perf_counter() - began) * 1000)
        tries = delivery.attempts + 1
        verdict = judge(self._policy, tries, status_code, retry_after, self._clock.now())
        if error is None and not verdict.ok:
            error = f"HTTP {status_code}"
        if verdict.ok:
            self.sent += 1
            log.debug(
                "webhook_delivered",
                worker=self.name,
                delivery_id=str(delivery.id),
                lead_id=str(delivery.lead_id),
                endpoint_id=str(delivery.endpoint_id),
                attempt=tries,
                latency_ms=latency_ms,
            )
        else:
            log.warning(
                "webhook_failed",
                worker=self.name,
                delivery_id=str(delivery.id),
                lead_id=str(delivery.lead_id),
                endpoint_id=str(delivery.endpoint_id),
                event_type=delivery.event_type,
                attempt=tries,
                status_code=status_code,
                latency_ms=latency_ms,
                error=error,
                outcome=verdict.status,
                next_attempt_at=verdict.next_attempt_at.isoformat() if verdict.next_attempt_at else None,
            )
        return AttemptRecord(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            number=tries,
            started_at=started,
            latency_ms=latency_ms,
            status_code=status_code,
            error=None if error is None else _clean(error, 500),
            response_excerpt=_clean(excerpt, EXCERPT_CHARS),
            status=verdict.status,
            next_attempt_at=verdict.next_attempt_at,
            endpoint_ok=verdict.ok,
            endpoint_gone=verdict.gone,
        )


async def _read_excerpt(response: httpx.Response) -> str:
    """The start of the response body as text; reading stops after ``MAX_READ_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_READ_BYTES:
            break
    return b"".join(chunks)[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
