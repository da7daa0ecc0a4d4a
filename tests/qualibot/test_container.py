"""What can be checked of the container here (no Docker engine): the Dockerfile copies every
package and runs the README's install steps, the compose variables are real settings, and the
entrypoint migrates and then runs the command it is given."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from qualibot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _copied() -> set[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources: set[str] = set()
    for line in text.splitlines():
        if line.startswith("COPY "):
            sources.update(line.split()[1:-1])
    return sources


def test_dockerfile_copies_every_package_and_file_it_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = _copied()
    assert packages <= copied
    assert {"pyproject.toml", "README.md", "alembic.ini", "alembic", "docker-entrypoint.sh"} <= copied
    for source in copied:
        assert (ROOT / source).exists(), source


def test_dockerfile_installs_like_the_makefile() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for step in ("-m venv", "-m pip install --quiet --upgrade pip", "-m pip install --quiet -e"):
        assert step in dockerfile
        assert step in makefile


def test_compose_sets_only_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    env = compose["services"]["qualibot"]["environment"]
    fields = {f"QUALIBOT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields
    db = compose["services"]["postgres"]["environment"]
    expected = f"postgresql+asyncpg://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgres:5432/"
    assert env["QUALIBOT_DATABASE_URL"] == expected + db["POSTGRES_DB"]
    Settings.model_validate({k.removeprefix("QUALIBOT_").lower(): v for k, v in env.items()})


def test_entrypoint_migrates_then_runs_the_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "qualibot"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m qualibot.cli "$@"\n', encoding="utf-8")
    launcher.chmod(0o755)
    env = os.environ | {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "QUALIBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'qualibot.db'}",
    }
    result = subprocess.run(
        ["sh", str(ROOT / "docker-entrypoint.sh"), "parse", "money", "около 2 млн руб"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert re.search(r"is up to date$", first)
    assert json.loads(second)["min"] == 2_000_000
    assert (tmp_path / "data" / "qualibot.db").exists()
