"""Engagement facts: what is known about a visit besides its answers, and the one sanitiser for them.

Facts come from two places, the conversation's ``Source`` (channel, page, referrer, UTM tags,
Telegram deep link) when it starts, and engagement events (a page viewed, the pricing page, a
return) while it runs. Either way they are untrusted, so one set of rules keeps them small and
plain: names are lowercase identifiers, values are booleans, finite numbers or cleaned text cut
to ``MAX_FACT_TEXT``, and a conversation holds at most ``MAX_FACTS`` of them. Engagement scoring
reads them through the flow's conditions (``{fact: utm_medium, in: [cpc]}``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from flows.extract import clean_text
from flows.model import JSON, UTM_KEYS, Source

MAX_FACTS = 64
MAX_FACT_TEXT = 300
FACT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Facts the scoring derives itself; neither a source nor an event may set them.
DERIVED_FACTS = frozenset({"answered_all", "hand_raise", "pages_seen"})


def clean_fact(value: Any) -> bool | int | float | str | None:
    """A fact's value as it may be kept, or None when it may not (wrong type, empty, not finite)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        cleaned = clean_text(value[: MAX_FACT_TEXT * 4], max_len=MAX_FACT_TEXT).strip()
        return cleaned or None
    return None


def _put(facts: dict[str, Any], name: Any, value: Any) -> None:
    if not isinstance(name, str) or not FACT_NAME.match(name) or name in DERIVED_FACTS:
        return
    cleaned = clean_fact(value)
    if cleaned is not None and (name in facts or len(facts) < MAX_FACTS):
        facts[name] = cleaned


def source_facts(source: Source) -> JSON:
    """The facts a conversation starts with: ``channel``, ``landing_page``, ``referrer``,
    ``utm_source`` ... ``utm_content`` and ``deep_link``, each only when known."""
    facts: JSON = {"channel": source.channel.value}
    _put(facts, "landing_page", source.page_url)
    _put(facts, "referrer", source.referrer)
    utm = source.utm if isinstance(source.utm, Mapping) else {}
    for key in UTM_KEYS:
        _put(facts, f"utm_{key}", utm.get(key))
    _put(facts, "deep_link", source.deep_link)
    return facts


def apply_event(facts: Mapping[str, Any], name: str, data: Any) -> dict[str, Any]:
    """The facts after an engagement event.

    ``page_view`` counts ``pages_seen`` and keeps the ``last_page`` (``data["path"]``, else
    ``data["url"]``); any other event sets a fact of its name to true, and its scalar ``data``
    values become facts of their own names. Everything goes through the same rules as a source's
    facts; anything else is ignored."""
    out = dict(facts)
    if not isinstance(name, str) or not FACT_NAME.match(name):
        return out
    payload = data if isinstance(data, Mapping) else {}
    if name == "page_view":
        seen = out.get("pages_seen")
        out["pages_seen"] = (seen if isinstance(seen, int) and not isinstance(seen, bool) else 0) + 1
        page = clean_fact(payload.get("path") or payload.get("url"))
        if isinstance(page, str):
            out["last_page"] = page
        return out
    _put(out, name, True)
    for key, value in payload.items():
        _put(out, key, value)
    return out


def event_data(data: Any) -> JSON:
    """An event's data as it is kept with the event (for the pages a lead read, and the like):
    the same rules as facts, so nothing unbounded or unstorable is written."""
    kept: JSON = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(key, str) and FACT_NAME.match(key):
                cleaned = clean_fact(value)
                if cleaned is not None and len(kept) < MAX_FACTS:
                    kept[key] = cleaned
    return kept
