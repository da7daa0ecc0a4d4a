"""What a turn does to the lead: the funnel rules, in pure code.

A lead is one person or company; it can have several conversations (the web, then Telegram, or a
second visit months later). Each conversation proposes a stage for its lead when it completes
(or is re-scored by an event), but the lead's stage follows the funnel, never the last
conversation:

- the funnel only moves forward: ``new`` -> ``in_progress`` -> ``nurture`` -> ``mql`` -> ``sql``;
  a returning ``sql`` lead that finishes a weaker second conversation stays ``sql``;
- ``disqualified`` only replaces a lead that is not qualified (new, in progress, nurture); a
  disqualified lead that comes back and qualifies moves on;
- ``sal``, ``rejected``, ``won`` and ``lost`` are set only by the CRM (:func:`crm_outcome`), and
  no conversation moves a lead the CRM has taken;
- a completion hands the lead off once per stage: ``lead.<stage>`` when the stage moves,
  ``lead.updated`` when a lead that was already handed off completes again, so the CRM never gets
  a second ``lead.sql`` (a duplicate deal) for one lead.

Identities say who a lead is. Channel identities (a Telegram user id, a widget visitor id) are
strong: the channel vouches for them. An e-mail or phone typed in a conversation is weak: anyone
can type a customer's address, so when it already belongs to another lead it only becomes a
candidate match that sales can see (:func:`link`); it never merges the leads, and never changes
the other lead's stage, score, contact or answers. Two leads merge only when a strong identity
proves they are one person (a continuation link opened in Telegram), and :func:`merge` decides
which one survives.

The store calls these functions inside the write transaction, on the lead rows it locked, and
writes what they decide.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from flows.model import JSON, Stage
from flows.ports import STRONG_IDENTITIES, Identity, LeadClaim, LeadContact

_FUNNEL_RANK = {
    Stage.NEW: 0,
    Stage.IN_PROGRESS: 1,
    Stage.DISQUALIFIED: 2,
    Stage.NURTURE: 2,
    Stage.MQL: 3,
    Stage.SQL: 4,
}
CRM_STAGES = frozenset({Stage.SAL, Stage.REJECTED, Stage.WON, Stage.LOST})
# Stages a completed conversation hands off (``lead.<stage>``) when its lead reaches them.
HANDOFF_STAGES = frozenset({Stage.NURTURE, Stage.MQL, Stage.SQL, Stage.DISQUALIFIED})
UPDATED = "lead.updated"


def rank(stage: Stage) -> int:
    """How far along the funnel a stage is; the CRM's stages are past ``sql``."""
    return _FUNNEL_RANK.get(stage, 5)


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A lead as the store holds it when it applies a turn."""

    id: uuid.UUID
    stage: Stage
    score: int | None
    tier: str | None
    contact: LeadContact
    created_at: datetime
    outcome_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeadDecision:
    """What the store writes: the lead as it now is, and the handoff event to queue, if any
    (``lead.mql``, ``lead.updated``, ...), with its ``payload``."""

    lead: LeadRecord
    event: str | None
    payload: JSON | None = None

    @property
    def changed(self) -> bool:
        return self.event is not None


def advance(current: Stage, claimed: Stage) -> Stage:
    """The lead's stage once a conversation claims ``claimed`` (see the module docstring)."""
    if current in CRM_STAGES or claimed in CRM_STAGES or current == claimed:
        return current
    if claimed is Stage.DISQUALIFIED:
        return claimed if current in (Stage.NEW, Stage.IN_PROGRESS, Stage.NURTURE) else current
    if claimed is Stage.NURTURE and current is Stage.DISQUALIFIED:
        return claimed
    return claimed if rank(claimed) > rank(current) else current


def _merged_contact(kept: LeadContact, given: LeadContact | None) -> LeadContact:
    """The lead's own conversation gave these fields: the newest value of each wins."""
    if given is None:
        return kept
    return LeadContact(
        name=given.name or kept.name,
        email=given.email or kept.email,
        phone=given.phone or kept.phone,
        company=given.company or kept.company,
    )


def decide(lead: LeadRecord, claim: LeadClaim) -> LeadDecision:
    """Apply one turn's claim to its own lead."""
    stage = advance(lead.stage, claim.stage)
    contact = _merged_contact(lead.contact, claim.contact)
    event: str | None = None
    score, tier = lead.score, lead.tier
    if claim.completed:
        if stage != lead.stage and stage in HANDOFF_STAGES:
            event = f"lead.{stage.value}"
        elif lead.stage in HANDOFF_STAGES or lead.stage in CRM_STAGES:
            event = UPDATED
        if rank(claim.stage) >= rank(stage) or lead.score is None:
            # The conversation that gives the lead its stage gives it its score; a weaker one
            # after it is reported (lead.updated) without lowering what sales sees.
            score, tier = claim.score, claim.tier
    updated = replace(lead, stage=stage, score=score, tier=tier, contact=contact)
    if event is None:
        return LeadDecision(updated, None)
    return LeadDecision(updated, event, _payload(event, lead, updated, claim))


def _payload(event: str, before: LeadRecord, after: LeadRecord, claim: LeadClaim) -> JSON:
    """What the CRM gets: the conversation's part (``claim.handoff``: its answers, score and
    source) and the lead as the rules left it, with its stage before."""
    contact = after.contact
    return (claim.handoff or {}) | {
        "type": event,
        "lead": {
            "id": str(after.id),
            "stage": after.stage.value,
            "previous_stage": before.stage.value,
            "score": after.score,
            "tier": after.tier,
        },
        "contact": {
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "company": contact.company,
        },
    }


def crm_outcome(lead: LeadRecord, status: Stage, at: datetime) -> LeadRecord | None:
    """The lead after the CRM reports ``status`` at ``at``, or None when the report changes nothing:
    a status that is not the CRM's, a repeat of the current outcome, or a report older than the
    last one taken (reports can arrive out of order)."""
    if status not in CRM_STAGES:
        return None
    if lead.outcome_at is not None and at <= lead.outcome_at:
        return None
    if lead.stage is status:
        return None
    return replace(lead, stage=status, outcome_at=at)


class Link(enum.Enum):
    """What to do with an identity a turn or a channel gives for a lead."""

    ATTACH = "attach"  # nobody owns it yet: it becomes the lead's
    KNOWN = "known"  # the lead owns it already
    CANDIDATE = "candidate"  # a typed contact another lead owns: record a candidate match only
    MERGE = "merge"  # a channel identity another lead owns: the two leads are one person


def link(identity: Identity, owner: uuid.UUID | None, lead_id: uuid.UUID) -> Link:
    if owner is None:
        return Link.ATTACH
    if owner == lead_id:
        return Link.KNOWN
    return Link.MERGE if identity.kind in STRONG_IDENTITIES else Link.CANDIDATE


def merge(first: LeadRecord, second: LeadRecord) -> tuple[LeadRecord, LeadRecord]:
    """Two leads proven to be one person: ``(survivor, merged)``. The one further along the funnel
    survives (the CRM already knows it), else the older one; it keeps its stage and score and takes
    the other's contact fields where it has none."""
    keep, drop = sorted((first, second), key=lambda lead: (-rank(lead.stage), lead.created_at, lead.id.hex))
    contact = LeadContact(
        name=keep.contact.name or drop.contact.name,
        email=keep.contact.email or drop.contact.email,
        phone=keep.contact.phone or drop.contact.phone,
        company=keep.contact.company or drop.contact.company,
    )
    return replace(keep, contact=contact), drop
