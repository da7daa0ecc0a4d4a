"""What can be checked of the container here (no Docker engine): the Dockerfile copies every
package and runs the README's install steps, the compose variables are real settings, the
entrypoint migrates and then runs the command it is given, and compose's own command, through the
entrypoint, serves the chat from a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic_settings import BaseSettings

from bench.process import free_port, running
from qualibot.cli import build_parser
from qualibot.settings import Settings
from tests.conftest import fresh_database

ROOT = Path(__file__).resolve().parents[2]


DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    stages: list[list[str]] = []
    for line in joined.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def _copied(stage: list[str]) -> set[str]:
    """What a stage copies from the build context (not from another stage)."""
    sources: set[str] = set()
    for line in stage:
        words = line.split()
        if words[0] == "COPY" and not any(w.startswith("--from=") for w in words):
            sources.update(words[1:-1])
    return sources


def test_the_wheel_is_built_from_every_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    build, final = _stages()
    copied = _copied(build)
    assert packages | {"pyproject.toml", "README.md", "alembic"} <= copied
    for source in copied | _copied(final):
        assert (ROOT / source).exists(), source
    assert any("pip wheel" in line and "--no-deps" in line for line in build)


def test_dependencies_have_a_layer_of_their_own_before_the_source() -> None:
    _, final = _stages()
    copies = [line for line in final if line.startswith("COPY")]
    assert copies[0] == "COPY pyproject.toml /tmp/pyproject.toml"
    install = final[final.index(copies[0]) + 1]
    assert install.startswith("RUN python -m venv /opt/qualibot")
    assert "-r /tmp/requirements.txt" in install
    # The command that turns pyproject.toml into requirements, run by the shell as in the image,
    # on our pyproject.toml.
    command = re.search(r'/opt/qualibot/bin/python (-c ".*?") > /tmp/requirements.txt', install)
    assert command is not None
    shell = f"{sys.executable} {command.group(1)}".replace(
        "/tmp/pyproject.toml", str(ROOT / "pyproject.toml")
    )
    listed = subprocess.run(
        ["sh", "-c", shell], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert listed == pyproject["project"]["dependencies"]
    # Qualibot comes after, from the wheel, without touching the dependencies again.
    wheel = next(line for line in final if "/tmp/wheels/*.whl" in line)
    assert final.index(wheel) > final.index(install)
    assert "--no-deps" in wheel


def test_the_install_steps_are_the_readmes_and_not_editable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docker = readme[readme.index("### Docker") :].split("\n## ", 1)[0]
    for step in (
        "python -m venv",
        "pip install --quiet --upgrade pip",
        "pip install --quiet -r",
        "pip wheel",
        "pip install --quiet --no-deps",
    ):
        assert step in DOCKERFILE, step
        assert step in docker, step
    installs = [line for stage in _stages() for line in stage if "pip install" in line]
    assert installs
    assert not any(re.search(r"pip install\b.*\s-e\s", line) for line in installs)


def test_the_container_runs_as_an_unprivileged_user_who_owns_data() -> None:
    _, final = _stages()
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    user = users[-1]
    created = next(line for line in final if "useradd" in line)
    uid = re.search(r"--uid (\d+)", created)
    assert uid is not None
    assert int(uid.group(1)) >= 1000
    assert f"chown {user}:{user} /data" in created
    assert final.index(created) < final.index(f"USER {user}")
    after = final[final.index(f"USER {user}") :]
    assert not any("pip install" in line for line in after)


def test_an_installed_wheel_works_without_the_source_tree(tmp_path: Path) -> None:
    """Build the wheel as the image does (from the files its first stage copies), install it, not
    editable, into a fresh environment that borrows this one's dependencies, and run it from
    elsewhere: migrations, the shipped flows and the word lists all come from the installed
    package."""
    source = tmp_path / "src"  # what the wheel stage copies, and only that
    for name in _copied(_stages()[0]):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    ours = sysconfig.get_path("purelib")  # this environment, with every dependency
    (Path(site) / "borrowed_dependencies.pth").write_text(ours + "\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            *map(str, wheels.glob("*.whl")),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QUALIBOT_DATABASE_URL")}
    qualibot = str(venv / "bin" / "qualibot")

    def run(*args: str) -> str:
        result = subprocess.run(
            [qualibot, *args],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    where = subprocess.run(
        [str(python), "-c", "import storage.migrations as m; print(m.__file__); print(m.migrations_dir())"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert where[0].startswith(site)
    assert where[1] == str(venv / "share" / "qualibot" / "alembic")
    assert run("migrate", "--database-url", f"sqlite+aiosqlite:///{elsewhere / 'q.db'}").endswith(
        "is up to date\n"
    )
    installed_bant = Path(site) / "flows" / "library" / "bant.yaml"
    assert run("flows", "check", str(installed_bant)).startswith(f"ok {installed_bant} (bant v")
    assert json.loads(run("parse", "email", "ivan@mailinator.com"))["disposable"] is True


def setting_names() -> dict[str, str]:
    """Every environment variable a setting is read from -> the field, also in the adapters'
    settings composed into ``Settings`` (each with its own prefix)."""
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            prefix = nested.model_config.get("env_prefix", "")
            names |= {f"{prefix}{inner}".upper(): f"{name}.{inner}" for inner in nested.model_fields}
        else:
            names[f"QUALIBOT_{name}".upper()] = name
    return names


def test_compose_sets_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    env = compose["services"]["qualibot"]["environment"]
    assert set(env) <= set(setting_names())
    db = compose["services"]["postgres"]["environment"]
    expected = f"postgresql+asyncpg://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgres:5432/"
    assert env["QUALIBOT_DATABASE_URL"] == expected + db["POSTGRES_DB"]
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    Settings(_env_file=None)


def test_compose_serves_the_web_app() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["qualibot"]
    command = service["command"]
    assert command[0] == "serve"
    args = build_parser("serve").parse_args(command)
    assert args.host == "0.0.0.0"
    assert f"127.0.0.1:{args.port}:{args.port}" in service["ports"]
    assert "/readyz" in " ".join(service["healthcheck"]["test"])


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


def _launcher(tmp_path: Path) -> Path:
    """A ``qualibot`` on PATH that runs this checkout, as the image's installed script does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "qualibot"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m qualibot.cli "$@"\n', encoding="utf-8")
    launcher.chmod(0o755)
    return bin_dir


def _serve_as_compose_does(tmp_path: Path, database_url: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["qualibot"]
    command = list(service["command"])
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    env = (
        os.environ
        | {k: str(v) for k, v in service["environment"].items()}
        | {"PATH": f"{_launcher(tmp_path)}:{os.environ['PATH']}", "QUALIBOT_DATABASE_URL": database_url}
    )
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "compose.log"
    entrypoint = ["sh", str(ROOT / "docker-entrypoint.sh"), *command]
    with log.open("wb") as out, running(entrypoint, env, f"{url}/readyz", out, timeout=120):
        assert httpx.get(f"{url}/demo", timeout=10).status_code == 200
        started = httpx.post(f"{url}/v1/conversations", json={"flow": "bant", "locale": "ru"}, timeout=10)
        assert started.status_code == 201
        body = started.json()
        auth = {"Authorization": f"Bearer {body['token']}"}
        first = body["replies"][-1]["buttons"][0]["id"]
        answer = {
            "choice": first,
            "question_id": body["state"]["question_id"],
            "version": body["state"]["version"],
        }
        path = f"{url}/v1/conversations/{body['conversation_id']}"
        answered = httpx.post(f"{path}/messages", json=answer, headers=auth, timeout=10)
        assert answered.status_code == 200
        assert answered.json()["state"]["progress"]["answered"] == 1
        resumed = httpx.get(path, headers=auth, timeout=10).json()
        assert [m["sender"] for m in resumed["messages"]].count("visitor") == 1
        assert resumed["state"]["question_id"] == answered.json()["state"]["question_id"]
    printed = log.read_text()
    assert printed.index("is up to date") < printed.index("The demo page:")  # migrated, then served


@pytest.mark.slow
@pytest.mark.postgres
async def test_compose_serves_the_chat_from_a_fresh_postgresql(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path, migrated=False) as url:
        await asyncio.to_thread(_serve_as_compose_does, tmp_path, url)


def test_the_build_context_leaves_out_the_environment_and_keeps_what_is_copied() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "data", ".env"} <= ignored
    copied = {source.split("/")[0] for stage in _stages() for source in _copied(stage)}
    assert not copied & ignored
