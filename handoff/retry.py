"""When to try a delivery again: the schedule, its jitter, and the receiver's ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from handoff.settings import DEFAULT_RETRY_SCHEDULE

MAX_RETRY_AFTER = 86400.0  # seconds: a receiver asking for longer is retried after a day


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``schedule[n]`` is the delay before try ``n + 1`` (the first is normally 0: at once); after
    the last try fails the delivery is dead-lettered. Each delay is spread by ``jitter`` (a
    fraction either way), so the deliveries that failed together do not all come back together.
    A ``Retry-After`` from the receiver is honoured: the next try is never earlier than it asks
    (up to a day)."""

    schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    jitter: float = 0.1
    uniform: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    @property
    def tries(self) -> int:
        return len(self.schedule)

    def next_try(self, tries_made: int, now: datetime, retry_after: float | None = None) -> datetime | None:
        """When to make try ``tries_made + 1``; None when the schedule is used up."""
        if tries_made >= len(self.schedule):
            return None
        delay = self.schedule[tries_made] * self.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks for (delta-seconds or an HTTP date);
    None when there is none or it cannot be read."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        return None
    return max(0.0, (at - now).total_seconds())
