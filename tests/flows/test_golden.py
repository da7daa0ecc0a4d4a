"""Scripted conversations on the fixture flows behave exactly as recorded (see ``golden.py``)."""

from __future__ import annotations

import pytest

from tests.flows.golden import FLOWS, GOLDEN, digests, expected, fixture_flows


@pytest.mark.slow
@pytest.mark.parametrize("flow_id", FLOWS)
def test_recorded_conversations_and_simulations_are_unchanged(flow_id: str) -> None:
    recorded = expected()[flow_id]
    now = digests(fixture_flows()[flow_id])
    changed = [n for n, (old, new) in enumerate(zip(recorded, now, strict=False)) if old != new]
    assert len(now) == len(recorded)
    assert not changed, (
        f"{len(changed)} of {len(now)} recorded items of {flow_id} changed (the first: {changed[:10]}). "
        f"Look with `python -m tests.flows.golden --show {flow_id} {changed[0]}` before and after the "
        f"change; if the change is intended, rewrite {GOLDEN.name} with "
        "`python -m tests.flows.golden --write`."
    )
