"""``lead.abandoned``: a conversation left idle half-way by someone who gave a contact.

Sales wants those partial leads too, so an endpoint can ask for them. The worker looks for them
every ``QUALIBOT_ABANDONED_SWEEP_INTERVAL`` seconds (only while some endpoint takes the event):
open conversations untouched for ``QUALIBOT_ABANDONED_AFTER`` seconds (30 min) whose lead left an
e-mail or a phone, and raises one event per conversation, ever. The event carries what the
conversation has so far (the service renders it the way it renders every handoff) and the lead
with its contact, as the other events do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import structlog

from flows.errors import QualibotError
from flows.model import JSON
from flows.ports import StoredConversation
from handoff.settings import HandoffSettings
from storage.outbox import ABANDONED, AbandonedConversation, NewEvent, SqlOutbox

log = structlog.get_logger(__name__)

# Conversations idle for longer than this are history, not leads to call (and a first sweep on an
# old database must not send months of them).
LOOK_BACK = timedelta(days=7)
SWEEP_LIMIT = 200


class Conversations(Protocol):
    """What the sweep needs of ``flows.service.ConversationService``."""

    async def conversation_handoff(self, stored: StoredConversation) -> JSON: ...


class AbandonedSweeper:
    def __init__(self, outbox: SqlOutbox, conversations: Conversations, settings: HandoffSettings) -> None:
        self._outbox = outbox
        self._conversations = conversations
        self._idle = timedelta(seconds=settings.abandoned_after)

    async def sweep(self, now: datetime) -> int:
        """Raise the events of conversations abandoned by ``now``; how many were raised."""
        if not await self._outbox.wants(ABANDONED):
            return 0
        found = await self._outbox.abandoned(now - self._idle, now - LOOK_BACK, SWEEP_LIMIT)
        events = []
        for item in found:
            payload = await self._payload(item)
            if payload is not None:
                events.append(NewEvent(ABANDONED, item.conversation.lead_id, item.conversation.id, payload))
        raised = await self._outbox.raise_abandoned(events, now)
        if raised:
            log.info("leads_abandoned", raised=raised)
        return raised

    async def _payload(self, item: AbandonedConversation) -> JSON | None:
        stored, lead = item.conversation, item.lead
        try:
            so_far = await self._conversations.conversation_handoff(stored)
        except QualibotError as exc:  # its flow version is gone: nothing to say about its answers
            log.warning("abandoned_not_rendered", conversation_id=str(stored.id), error=str(exc))
            return None
        return so_far | {
            "type": ABANDONED,
            "lead": {
                "id": str(stored.lead_id),
                "stage": lead.stage,
                "previous_stage": None,
                "score": lead.score,
                "tier": lead.tier,
            },
            "contact": {"name": lead.name, "email": lead.email, "phone": lead.phone, "company": lead.company},
            "idle_since": stored.updated_at.isoformat(),
        }
