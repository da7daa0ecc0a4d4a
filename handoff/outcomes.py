"""Outcomes back from the CRM: ``sal`` (accepted), ``rejected``, ``won``, ``lost``.

A CRM reports what became of a lead it received; the lead's stage becomes that status, with the
report's time and reason, so the funnel and the scoring's calibration see what sales saw. Reports
can arrive late, twice or out of order: one older than the last one taken, or a repeat of the
current status, changes nothing (``flows.leads.crm_outcome`` decides).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog

from flows.errors import LeadNotFound
from flows.leads import CRM_STAGES, crm_outcome
from flows.model import Stage
from flows.ports import Clock
from flows.service import stored_text
from handoff.errors import InvalidInput
from storage.outcomes import OutcomeResult, SqlOutcomes

log = structlog.get_logger(__name__)

MAX_REASON = 500
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of ours a CRM's clock may be


def _crm_stage(status: str) -> Stage:
    for stage in CRM_STAGES:
        if stage.value == status:
            return stage
    raise InvalidInput("status", f"one of {', '.join(sorted(s.value for s in CRM_STAGES))}")


class Outcomes:
    def __init__(self, store: SqlOutcomes, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def report(
        self, lead_id: uuid.UUID, status: str, at: datetime | None = None, reason: str | None = None
    ) -> OutcomeResult:
        """Take a CRM's report on a lead; raises ``LeadNotFound`` for an unknown lead."""
        stage = _crm_stage(status)
        now = self._clock.now()
        when = at or now
        if when.tzinfo is None:
            raise InvalidInput("at", "a time with its zone, e.g. 2026-12-01T10:00:00+03:00")
        if when > now + CLOCK_SKEW:
            raise InvalidInput("at", "a time in the future; a CRM reports what already happened")
        when = min(when, now)  # a CRM's clock a little ahead must not make the next report stale
        text = " ".join(stored_text(reason, 2 * MAX_REASON).split())[:MAX_REASON] if reason else None
        result = await self._store.apply(lead_id, stage, when, text or None, crm_outcome, now)
        if result is None:
            raise LeadNotFound(lead_id)
        log.info(
            "lead_outcome",
            lead_id=str(result.lead_id),
            status=stage.value,
            applied=result.applied,
            stage=result.stage.value,
        )
        return result
