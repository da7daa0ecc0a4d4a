"""Leads as sales and ops read them: pages of leads, one lead's card, every lead for a spreadsheet.

The core answers the questions about leads (``ConversationService.list_leads`` / ``get_lead``);
this adds what the handoff knows: each conversation's answers with the questions as they were
asked, and every delivery of the lead to every CRM endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from flows.model import JSON
from flows.ports import LeadDetail, LeadFilter, LeadPage, LeadSummary, StoredConversation
from handoff.payload import answer_list, source_of
from storage.outbox import DeliveryView, SqlOutbox

EXPORT_PAGE = 500


class LeadQueries(Protocol):
    """What this needs of ``flows.service.ConversationService``."""

    async def list_leads(
        self, filter: LeadFilter, *, limit: int = 50, cursor: str | None = None
    ) -> LeadPage: ...

    async def get_lead(self, lead_id: uuid.UUID | str) -> LeadDetail: ...

    async def conversation_handoff(self, stored: StoredConversation) -> JSON: ...


@dataclass(frozen=True, slots=True)
class LeadCard:
    """One lead for a person: the core's detail, each conversation's answers (question, text as
    typed, parsed value) and source (channel, page, referrer, UTM, pages seen) by conversation id,
    and the lead's deliveries, oldest first."""

    detail: LeadDetail
    answers: dict[uuid.UUID, list[dict[str, Any]]]
    sources: dict[uuid.UUID, dict[str, Any]]
    deliveries: tuple[DeliveryView, ...]


class LeadsForPeople:
    def __init__(self, leads: LeadQueries, outbox: SqlOutbox) -> None:
        self._leads = leads
        self._outbox = outbox

    async def page(self, filter: LeadFilter, *, limit: int, cursor: str | None) -> LeadPage:
        return await self._leads.list_leads(filter, limit=limit, cursor=cursor)

    async def card(self, lead_id: uuid.UUID) -> LeadCard:
        """Raises ``LeadNotFound``."""
        detail = await self._leads.get_lead(lead_id)
        answers = {}
        sources = {}
        for view in detail.conversations:
            stored = view.conversation
            rendered = await self._leads.conversation_handoff(stored)
            answers[stored.id] = answer_list(rendered.get("answers"))
            sources[stored.id] = source_of(rendered.get("source"), stored.channel)
        deliveries = await self._outbox.deliveries_of_lead(detail.lead.id)
        return LeadCard(detail, answers, sources, tuple(deliveries))

    async def every(self, filter: LeadFilter, *, limit: int) -> AsyncIterator[LeadSummary]:
        """Every lead the filter takes, newest first, at most ``limit``, a page at a time."""
        cursor: str | None = None
        given = 0
        while given < limit:
            page = await self._leads.list_leads(filter, limit=min(EXPORT_PAGE, limit - given), cursor=cursor)
            for lead in page.items:
                yield lead
            given += len(page.items)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
