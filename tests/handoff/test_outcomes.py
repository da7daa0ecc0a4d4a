"""Outcomes reported by the CRM, on both databases: they move the lead's stage, and a stale,
repeated or unknown report changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from flows.errors import LeadNotFound
from flows.model import Stage
from flows.service import SystemClock
from handoff.errors import InvalidInput
from handoff.outcomes import Outcomes
from storage.outcomes import SqlOutcomes
from storage.tables import Lead
from tests.handoff.seed import seed_events


@pytest.fixture
def outcomes(engine: AsyncEngine) -> Outcomes:
    return Outcomes(SqlOutcomes(engine), SystemClock())


async def _lead(engine: AsyncEngine, lead_id: uuid.UUID) -> dict[str, object]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(Lead.__table__).where(Lead.__table__.c.id == lead_id))).one()
    return dict(row._mapping)


async def test_an_outcome_moves_the_lead_and_keeps_its_reason(
    engine: AsyncEngine, outcomes: Outcomes
) -> None:
    lead = uuid.uuid4()
    await seed_events(engine, 1, lead_ids=[lead])
    at = datetime.now(UTC) - timedelta(hours=2)

    accepted = await outcomes.report(lead, "sal", at, "  позвонили,   ждут КП ")
    assert accepted.applied
    assert accepted.stage is Stage.SAL
    row = await _lead(engine, lead)
    assert row["stage"] == "sal"
    assert row["outcome_at"] == at
    assert row["outcome_reason"] == "позвонили, ждут КП"

    won = await outcomes.report(lead, "won", at + timedelta(hours=1))
    assert won.applied
    assert (await _lead(engine, lead))["stage"] == "won"


async def test_a_stale_or_repeated_report_changes_nothing(engine: AsyncEngine, outcomes: Outcomes) -> None:
    lead = uuid.uuid4()
    await seed_events(engine, 1, lead_ids=[lead])
    at = datetime.now(UTC) - timedelta(hours=1)
    await outcomes.report(lead, "won", at, "договор подписан")

    stale = await outcomes.report(lead, "lost", at - timedelta(minutes=10), "старый отчёт")
    assert not stale.applied
    assert stale.stage is Stage.WON
    repeated = await outcomes.report(lead, "won", at + timedelta(minutes=1))
    assert not repeated.applied
    row = await _lead(engine, lead)
    assert (row["stage"], row["outcome_at"], row["outcome_reason"]) == ("won", at, "договор подписан")


async def test_an_unknown_lead_or_status_or_a_future_time_is_refused(
    engine: AsyncEngine, outcomes: Outcomes
) -> None:
    with pytest.raises(LeadNotFound):
        await outcomes.report(uuid.uuid4(), "sal")
    lead = uuid.uuid4()
    await seed_events(engine, 1, lead_ids=[lead])
    with pytest.raises(InvalidInput, match="status"):
        await outcomes.report(lead, "mql")
    with pytest.raises(InvalidInput, match="future"):
        await outcomes.report(lead, "sal", datetime.now(UTC) + timedelta(hours=1))
    # A CRM clock a minute ahead is taken as now, so the next report is not stale.
    ahead = await outcomes.report(lead, "sal", datetime.now(UTC) + timedelta(minutes=1))
    assert ahead.applied
    assert ahead.outcome_at is not None
    assert ahead.outcome_at <= datetime.now(UTC)
    assert (await outcomes.report(lead, "won")).applied


async def test_a_report_on_a_merged_lead_reaches_the_lead_it_became(
    engine: AsyncEngine, outcomes: Outcomes
) -> None:
    old, survivor = uuid.uuid4(), uuid.uuid4()
    await seed_events(engine, 1, lead_ids=[old])
    await seed_events(engine, 1, lead_ids=[survivor])
    table = cast(Table, Lead.__table__)
    async with engine.begin() as conn:
        await conn.execute(update(table).where(table.c.id == old).values(merged_into=survivor))
    result = await outcomes.report(old, "sal")
    assert result.lead_id == survivor
    assert (await _lead(engine, survivor))["stage"] == "sal"
    assert (await _lead(engine, old))["stage"] == "sql"
