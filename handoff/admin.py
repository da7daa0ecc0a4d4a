"""Managing webhook endpoints and their deliveries: what the admin API calls.

Decisions live here (what a valid endpoint is, how a secret is made and rotated, what a replay
queues); the rows live in ``storage``; the HTTP shape lives in ``api.admin``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from flows.model import Stage
from flows.ports import Clock
from flows.service import stored_text
from handoff import signing
from handoff.errors import DeliveryNotFound, EndpointNotFound, InvalidInput
from handoff.settings import HandoffSettings
from handoff.transport import BlockedAddress, blocked_reason, check_addresses, literal_address, resolve
from storage.endpoints import ACTIVE, DISABLED, EndpointRecord, SqlEndpoints
from storage.outbox import AttemptView, DeliveryView, SqlOutbox

# The events an endpoint can take. lead.nurture and lead.abandoned only when asked for.
EVENT_TYPES = (
    "lead.mql",
    "lead.sql",
    "lead.disqualified",
    "lead.nurture",
    "lead.updated",
    "lead.abandoned",
)
DEFAULT_EVENTS = ("lead.mql", "lead.sql")
MAX_URL = 2048
MAX_STAGE_NAME = 100
RESOLVE_WITHIN = 2.0  # seconds, for the early check when an endpoint is registered


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: DeliveryView
    attempts: tuple[AttemptView, ...]


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: tuple[DeliveryView, ...]
    next_cursor: str | None


def encode_cursor(at: datetime, delivery_id: uuid.UUID) -> str:
    return f"{at.timestamp():.6f}_{delivery_id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, hex_id = cursor.split("_", 1)
        return datetime.fromtimestamp(float(stamp), UTC), uuid.UUID(hex=hex_id)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput("cursor", "not a cursor this API gave out") from None


async def check_url(url: str, *, allow_private: bool) -> str:
    """The URL as it will be called, or ``InvalidInput`` saying what is wrong with it. Where
    it points is checked again on every connection (``handoff.transport``); this early check
    refuses what is plainly private at once."""
    if len(url) > MAX_URL:
        raise InvalidInput("url", f"at most {MAX_URL} characters")
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoded from IDNA here, so a broken A-label fails here
    except (httpx.InvalidURL, UnicodeError) as exc:  # IDNA and encoding problems are UnicodeErrors
        raise InvalidInput("url", f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput("url", "must start with https:// (or http://)")
    if not host:
        raise InvalidInput("url", "names no host")
    if parsed.userinfo:
        raise InvalidInput("url", "carries a user name or password; put a token in the path or query instead")
    if parsed.fragment:
        raise InvalidInput("url", "has a #fragment, which is never sent")
    if not allow_private:
        literal = literal_address(host)
        reason = blocked_reason(literal) if literal is not None else None
        if reason is None and (host == "localhost" or host.endswith(".localhost")):
            reason = "loopback"
        if reason is not None:
            raise InvalidInput("url", f"points to a {reason} address; webhooks go to public addresses")
        try:
            check_addresses(host, await resolve(host, parsed.port or 443, RESOLVE_WITHIN))
        except BlockedAddress as exc:
            raise InvalidInput("url", str(exc)) from None
        except (OSError, TimeoutError):
            pass  # not resolvable now: the worker checks (and reports) when it connects
    return str(parsed)


def check_events(events: Sequence[str] | None) -> tuple[str, ...]:
    if events is None:
        return DEFAULT_EVENTS
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput("events", f"unknown {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    if not events:
        raise InvalidInput("events", "name at least one event")
    return tuple(dict.fromkeys(events))


def check_stage_map(stage_map: Mapping[str, str] | None) -> dict[str, str]:
    """Our stage -> the CRM's name for it (e.g. amoCRM: mql -> "Был контакт", sal -> "Hold")."""
    if not stage_map:
        return {}
    known = {s.value for s in Stage}
    unknown = sorted(set(stage_map) - known)
    if unknown:
        raise InvalidInput(
            "stage_map", f"unknown stage {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    checked = {}
    for stage, name in stage_map.items():
        name = stored_text(name, MAX_STAGE_NAME + 1).strip()
        if not name or len(name) > MAX_STAGE_NAME or any(ord(c) < 32 for c in name):
            raise InvalidInput("stage_map", f"{stage}: a name of 1 to {MAX_STAGE_NAME} printable characters")
        checked[stage] = name
    return checked


class WebhookAdmin:
    def __init__(
        self, endpoints: SqlEndpoints, outbox: SqlOutbox, settings: HandoffSettings, clock: Clock
    ) -> None:
        self._endpoints = endpoints
        self._outbox = outbox
        self._settings = settings
        self._clock = clock

    async def create(
        self, url: str, events: Sequence[str] | None = None, stage_map: Mapping[str, str] | None = None
    ) -> EndpointRecord:
        """A new endpoint with a new secret (the only time the secret is shown)."""
        checked = await check_url(url, allow_private=self._settings.allow_private_webhooks)
        return await self._endpoints.add(
            uuid.uuid4(),
            checked,
            check_events(events),
            check_stage_map(stage_map),
            signing.new_secret(),
            self._clock.now(),
        )

    async def list(self) -> list[EndpointRecord]:
        return await self._endpoints.list()

    async def get(self, endpoint_id: uuid.UUID) -> EndpointRecord:
        found = await self._endpoints.get(endpoint_id)
        if found is None:
            raise EndpointNotFound(endpoint_id)
        return found

    async def update(
        self,
        endpoint_id: uuid.UUID,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        stage_map: Mapping[str, str] | None = None,
        enabled: bool | None = None,
    ) -> EndpointRecord:
        """Change what is given; enabling a disabled endpoint sends what waited for it at once."""
        values: dict[str, object] = {}
        if url is not None:
            values["url"] = await check_url(url, allow_private=self._settings.allow_private_webhooks)
        if events is not None:
            values["events"] = list(check_events(events))
        if stage_map is not None:
            values["stage_map"] = check_stage_map(stage_map)
        if enabled is True:
            values |= {"status": ACTIVE, "disabled_reason": None, "failing_since": None}
        elif enabled is False:
            values |= {"status": DISABLED, "disabled_reason": "disabled by an admin"}
        changed = await self._endpoints.change(endpoint_id, self._clock.now(), **values)
        if changed is None:
            raise EndpointNotFound(endpoint_id)
        return changed

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        if not await self._endpoints.delete(endpoint_id, self._clock.now()):
            raise EndpointNotFound(endpoint_id)

    async def rotate_secret(self, endpoint_id: uuid.UUID, grace: timedelta | None = None) -> EndpointRecord:
        """A new secret signs from now on; the old one signs too for ``grace`` (the setting's by
        default), so receivers can switch without losing a message."""
        current = await self.get(endpoint_id)
        now = self._clock.now()
        keep = grace if grace is not None else timedelta(seconds=self._settings.webhook_rotation_grace)
        changed = await self._endpoints.change(
            endpoint_id,
            now,
            secret=signing.new_secret(),
            previous_secret=current.secret if keep > timedelta(0) else None,
            previous_secret_until=now + keep if keep > timedelta(0) else None,
        )
        if changed is None:
            raise EndpointNotFound(endpoint_id)
        return changed

    async def deliveries(
        self, endpoint_id: uuid.UUID, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> DeliveryPage:
        await self.get(endpoint_id)
        before = decode_cursor(cursor) if cursor else None
        rows = await self._outbox.deliveries_of_endpoint(
            endpoint_id, status=status, limit=limit + 1, before=before
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].event_at, rows[-1].id) if more and rows else None
        return DeliveryPage(tuple(rows), next_cursor)

    async def delivery(self, delivery_id: uuid.UUID) -> DeliveryDetail:
        found = await self._outbox.delivery(delivery_id)
        if found is None:
            raise DeliveryNotFound(delivery_id)
        return DeliveryDetail(found, tuple(await self._outbox.attempts_of(delivery_id)))

    async def redeliver(self, delivery_id: uuid.UUID) -> DeliveryView:
        """Send a delivery again (delivered, dead-lettered or waiting), with the same webhook-id."""
        found = await self._outbox.delivery(delivery_id)
        if found is None:
            raise DeliveryNotFound(delivery_id)
        endpoint = await self._endpoints.get(found.endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(found.endpoint_id)
        queued = await self._outbox.redeliver(delivery_id, self._clock.now())
        if queued is None:
            raise DeliveryNotFound(delivery_id)
        return queued

    async def redeliver_range(
        self, endpoint_id: uuid.UUID, since: datetime, until: datetime | None = None
    ) -> int:
        """Queue what the endpoint missed among events raised in [since, until)."""
        endpoint = await self.get(endpoint_id)
        now = self._clock.now()
        end = until or now
        if end <= since:
            raise InvalidInput("until", "must be later than since")
        return await self._outbox.redeliver_range(endpoint, since, end, now)
