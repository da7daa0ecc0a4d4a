"""`qualibot serve` as a real process: it refuses a database that is not migrated in one line,
prints the demo page's address, and with two workers its metrics count the whole server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.process import ROOT, free_port, running


def env_for(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'qualibot.db'}",
        "QUALIBOT_LOG_LEVEL": "WARNING",
    }


def test_an_unmigrated_database_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "not migrated" in result.stderr
    assert "run `qualibot migrate`" in result.stderr


@pytest.mark.slow
def test_two_workers_print_the_demo_page_and_count_the_whole_server(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    migrate = [sys.executable, "-m", "qualibot.cli", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port), "--workers", "2"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out, running(command, env, f"{url}/readyz", out):
        for _ in range(8):
            # a new connection each time, so both workers take some of them
            started = httpx.post(f"{url}/v1/conversations", json={"flow": "bant", "locale": "ru"}, timeout=10)
            assert started.status_code == 201
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert 'qualibot_conversations_started_total{flow="bant"} 8.0' in metrics
    printed = log.read_text()
    assert f"The demo page: {url}/demo" in printed
