"""The lead rules on their own: the funnel only moves forward, one handoff per stage, CRM outcomes,
identity links and merges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from flows import leads
from flows.leads import LeadRecord, Link
from flows.model import Stage
from flows.ports import EMAIL, PHONE, TELEGRAM, WEB_VISITOR, Identity, LeadClaim, LeadContact

AT = datetime(2026, 5, 1, tzinfo=UTC)
S = Stage


def lead(stage: Stage, score: int | None = None, tier: str | None = None, **contact: str) -> LeadRecord:
    return LeadRecord(uuid.uuid4(), stage, score, tier, LeadContact(**contact), AT)


@pytest.mark.parametrize(
    ("current", "claimed", "after"),
    [
        (S.NEW, S.IN_PROGRESS, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.NURTURE, S.NURTURE),
        (S.NURTURE, S.MQL, S.MQL),
        (S.MQL, S.SQL, S.SQL),
        (S.SQL, S.NURTURE, S.SQL),
        (S.SQL, S.MQL, S.SQL),
        (S.SQL, S.IN_PROGRESS, S.SQL),
        (S.MQL, S.IN_PROGRESS, S.MQL),
        (S.IN_PROGRESS, S.DISQUALIFIED, S.DISQUALIFIED),
        (S.NURTURE, S.DISQUALIFIED, S.DISQUALIFIED),
        (S.MQL, S.DISQUALIFIED, S.MQL),
        (S.SQL, S.DISQUALIFIED, S.SQL),
        (S.DISQUALIFIED, S.NURTURE, S.NURTURE),
        (S.DISQUALIFIED, S.MQL, S.MQL),
        (S.DISQUALIFIED, S.IN_PROGRESS, S.DISQUALIFIED),
        (S.SAL, S.SQL, S.SAL),
        (S.WON, S.DISQUALIFIED, S.WON),
        (S.LOST, S.MQL, S.LOST),
        (S.MQL, S.WON, S.MQL),  # only the CRM sets its own stages
    ],
)
def test_the_funnel_only_moves_forward(current: Stage, claimed: Stage, after: Stage) -> None:
    assert leads.advance(current, claimed) is after


def test_a_first_completion_hands_off_its_stage_with_its_score() -> None:
    decision = leads.decide(lead(S.IN_PROGRESS), LeadClaim(S.MQL, 70, "A", completed=True))
    assert decision.event == "lead.mql"
    assert (decision.lead.stage, decision.lead.score, decision.lead.tier) == (S.MQL, 70, "A")


def test_a_weaker_re_completion_is_an_update_that_keeps_what_sales_sees() -> None:
    decision = leads.decide(lead(S.SQL, 90, "A"), LeadClaim(S.NURTURE, 20, "C", completed=True))
    assert decision.event == "lead.updated"
    assert (decision.lead.stage, decision.lead.score, decision.lead.tier) == (S.SQL, 90, "A")


def test_the_same_stage_again_is_an_update_with_the_new_score() -> None:
    decision = leads.decide(lead(S.SQL, 90, "A"), LeadClaim(S.SQL, 85, "B", completed=True))
    assert decision.event == "lead.updated"
    assert (decision.lead.score, decision.lead.tier) == (85, "B")


def test_a_lead_the_crm_took_gets_updates_only() -> None:
    decision = leads.decide(lead(S.WON, 90, "A"), LeadClaim(S.SQL, 95, "A", completed=True))
    assert decision.event == "lead.updated"
    assert decision.lead.stage is S.WON


def test_a_turn_in_progress_hands_nothing_off_and_keeps_the_stage() -> None:
    before = lead(S.SQL, 90, "A", name="Old")
    decision = leads.decide(before, LeadClaim(S.IN_PROGRESS, contact=LeadContact(name="New")))
    assert decision.event is None
    assert decision.lead.stage is S.SQL
    assert decision.lead.contact == LeadContact(name="New")
    assert decision.changed is False


def test_a_crm_outcome_is_taken_once_and_never_out_of_order() -> None:
    sql = lead(S.SQL)
    accepted = leads.crm_outcome(sql, S.SAL, AT)
    assert accepted is not None
    assert (accepted.stage, accepted.outcome_at) == (S.SAL, AT)
    assert leads.crm_outcome(accepted, S.SAL, AT + timedelta(hours=1)) is None  # a repeat
    assert leads.crm_outcome(accepted, S.WON, AT - timedelta(hours=1)) is None  # older than the last
    won = leads.crm_outcome(accepted, S.WON, AT + timedelta(days=3))
    assert won is not None
    assert won.stage is S.WON
    assert leads.crm_outcome(sql, S.MQL, AT) is None  # not a CRM outcome


@pytest.mark.parametrize(
    ("identity", "owner_is", "link"),
    [
        (Identity(EMAIL, "a@b.c"), None, Link.ATTACH),
        (Identity(EMAIL, "a@b.c"), "self", Link.KNOWN),
        (Identity(EMAIL, "a@b.c"), "other", Link.CANDIDATE),
        (Identity(PHONE, "+79990000000"), "other", Link.CANDIDATE),
        (Identity(TELEGRAM, "42"), "other", Link.MERGE),
        (Identity(WEB_VISITOR, "v"), "other", Link.MERGE),
    ],
)
def test_typed_contacts_are_candidates_channel_identities_merge(
    identity: Identity, owner_is: str | None, link: Link
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    owner = {None: None, "self": me, "other": other}[owner_is]
    assert leads.link(identity, owner, me) is link


def test_the_lead_further_along_survives_a_merge_and_keeps_its_contact() -> None:
    web = LeadRecord(uuid.uuid4(), S.IN_PROGRESS, None, None, LeadContact(name="Web", phone="+7999"), AT)
    tg = LeadRecord(uuid.uuid4(), S.MQL, 60, "B", LeadContact(name="Tg"), AT + timedelta(days=1))
    survivor, merged = leads.merge(web, tg)
    assert (survivor.id, merged.id) == (tg.id, web.id)
    assert survivor.contact == LeadContact(name="Tg", phone="+7999")
    assert (survivor.stage, survivor.score) == (S.MQL, 60)


def test_of_two_equal_leads_the_older_survives() -> None:
    old = LeadRecord(uuid.uuid4(), S.NURTURE, 30, "C", LeadContact(), AT)
    new = LeadRecord(uuid.uuid4(), S.NURTURE, 35, "C", LeadContact(), AT + timedelta(days=1))
    assert leads.merge(new, old)[0].id == old.id
