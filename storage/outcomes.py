"""CRM outcome reports written onto the lead: the rule is the core's (``flows.leads.crm_outcome``),
applied inside the write transaction on the locked lead row, as the turn writer does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.leads import LeadRecord
from flows.model import Stage
from storage.batch import lead_record
from storage.db import writer
from storage.tables import Lead

leads = cast(Table, Lead.__table__)
_READ = [leads.c[name] for name in ("id", "stage", "score", "tier", "name", "email", "phone", "company")] + [
    leads.c.created_at,
    leads.c.outcome_at,
    leads.c.outcome_reason,
    leads.c.merged_into,
]
MAX_MERGES = 8  # a lead merged into one merged into another...: the chain is never longer


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """The lead after a report: ``applied`` False when the report changed nothing (stale or a
    repeat). ``lead_id`` is the lead as it is now (the one reported may have merged into it)."""

    lead_id: uuid.UUID
    stage: Stage
    outcome_at: datetime | None
    reason: str | None
    applied: bool


Rule = Callable[[LeadRecord, Stage, datetime], LeadRecord | None]


class SqlOutcomes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._writer = writer(engine)

    async def apply(
        self, lead_id: uuid.UUID, status: Stage, at: datetime, reason: str | None, rule: Rule, now: datetime
    ) -> OutcomeResult | None:
        """``rule(lead, status, at)`` on the locked lead row, and what it decided written; None when
        there is no such lead."""
        async with self._writer.begin() as conn:
            row: Any = None
            for _ in range(MAX_MERGES):
                row = (
                    await conn.execute(select(*_READ).where(leads.c.id == lead_id).with_for_update())
                ).first()
                if row is None or row.merged_into is None:
                    break
                lead_id = row.merged_into
            if row is None:
                return None
            before = lead_record(dict(row._mapping))
            after = rule(before, status, at)
            if after is None:
                return OutcomeResult(
                    row.id, before.stage, before.outcome_at, row.outcome_reason, applied=False
                )
            await conn.execute(
                update(leads)
                .where(leads.c.id == row.id)
                .values(
                    stage=after.stage.value,
                    outcome_at=after.outcome_at,
                    outcome_reason=reason,
                    updated_at=now,
                )
            )
        return OutcomeResult(row.id, after.stage, after.outcome_at, reason, applied=True)
