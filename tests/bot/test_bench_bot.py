"""``python -m bench.bot`` runs end to end on a few updates and prints its figures and ratios (the
figures themselves are for people, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench.process import ROOT

pytestmark = pytest.mark.slow


def test_the_bot_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.bot", "--updates", "40", "--users", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = result.stdout
    assert "command: python -m bench.bot --updates 40 --users 4" in out
    assert "load average:" in out
    assert "updates: 40 from 4 people" in out
    for row in ("whole bot path", "floor: aiogram start_polling", "floor: aiogram feed_update"):
        assert re.search(rf"{row}.* [\d,]+ +[\d,]+ µs", out), out
    assert re.search(r"ratio to aiogram's polling floor: +\d+\.\d\d", out), out
