"""Problems at the edge, as a user meets them: every database problem a command can run into is one
line on stderr and a non-zero status (never a traceback, never a hang), arguments that are not
what they should be are refused without being echoed back, and settings that are wrong are named.

The servers are real sockets on 127.0.0.1: nothing listening, one that accepts and never answers,
a small PostgreSQL that refuses the password (speaking the real protocol to the real asyncpg),
and the real PostgreSQL for a database that does not exist."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.db import SCHEMA_REVISION
from storage.migrations import upgrade
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _create_postgres_database, _drop_postgres_database

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[1] / "flows" / "fixtures" / "demo.yaml"
DATABASE_COMMANDS = [["migrate"], ["chat", "--flow", "bant"], ["bot"]]


def qualibot(
    *args: str, env: dict[str, str] | None = None, stdin: str = "", **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(
        [sys.executable, "-m", "qualibot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ | (env or {}),
        timeout=60,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    return result


def one_line_failure(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The single line a failed command printed on stderr."""
    assert result.returncode == status, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def database_command(command: list[str], url: str) -> list[str]:
    return [*command, "--database-url", url]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 running ``handle`` for each connection, on a thread; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in connections:
            conn.close()
        server.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

    yield from _serve(handle)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


@pytest.fixture
def password_server() -> Iterator[int]:
    """A PostgreSQL server that asks for a password and refuses it (SQLSTATE 28P01), as a server
    with password authentication does for a wrong one."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            try:
                length, code = struct.unpack("!ii", _read(conn, 8))
                if code == 80877103:  # SSLRequest: not here
                    conn.sendall(b"N")
                    (length,) = struct.unpack("!i", _read(conn, 4))
                    startup = _read(conn, length - 4)[4:]
                else:
                    startup = _read(conn, length - 8)
                params = startup.split(b"\0")
                user = params[params.index(b"user") + 1].decode()
                conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                _read(conn, 1)
                (length,) = struct.unpack("!i", _read(conn, 4))
                _read(conn, length - 4)
                fields = (
                    b"SFATAL\0VFATAL\0C28P01\0M"
                    + f'password authentication failed for user "{user}"'.encode()
                    + b"\0\0"
                )
                conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
            except (OSError, ValueError):
                pass

    yield from _serve(handle)


@pytest.fixture
def postgres_server() -> str:
    """The URL of the real test PostgreSQL, after checking it answers."""
    url = make_url(POSTGRES_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=5).close()
    except OSError as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {url.render_as_string()} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {url.render_as_string()} is unreachable: {exc}")
    return POSTGRES_URL


# ----------------------------------------------------------------------------- the database


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=["migrate", "chat", "bot"])
def test_nothing_listening(command: list[str]) -> None:
    port = _free_port()
    url = f"postgresql+asyncpg://qualibot@127.0.0.1:{port}/qualibot"
    line = one_line_failure(qualibot(*database_command(command, url)))
    assert line == (
        f"qualibot {command[0]}: cannot use the database at {url}: "
        f"nothing is listening at 127.0.0.1:{port} (connection refused)"
    )


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=["migrate", "chat", "bot"])
def test_a_server_that_never_answers_times_out(command: list[str], silent_server: int) -> None:
    url = f"postgresql+asyncpg://qualibot@127.0.0.1:{silent_server}/qualibot?connect_timeout=1"
    line = one_line_failure(qualibot(*database_command(command, url)))
    assert line.endswith(f"no answer from 127.0.0.1:{silent_server} within 1 s (connect_timeout)"), line


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=["migrate", "chat", "bot"])
def test_wrong_password(command: list[str], password_server: int) -> None:
    url = f"postgresql+asyncpg://qualibot:wrong@127.0.0.1:{password_server}/qualibot"
    line = one_line_failure(qualibot(*database_command(command, url)))
    shown = f"postgresql+asyncpg://qualibot:***@127.0.0.1:{password_server}/qualibot"
    assert line == (
        f"qualibot {command[0]}: cannot use the database at {shown}: "
        'password authentication failed for user "qualibot"'
    )
    assert "wrong" not in line


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=["migrate", "chat", "bot"])
def test_wrong_database_name(command: list[str], postgres_server: str) -> None:
    name = f"qualibot_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    line = one_line_failure(qualibot(*database_command(command, url)))
    assert line.endswith(f': database "{name}" does not exist'), line


def test_wrong_user(postgres_server: str) -> None:
    url = make_url(postgres_server).set(username="qualibot_nobody").render_as_string(hide_password=False)
    line = one_line_failure(qualibot("chat", "--database-url", url))
    assert line.endswith(': role "qualibot_nobody" does not exist'), line


def test_unmigrated_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    line = one_line_failure(qualibot("chat", "--database-url", url))
    assert line == (
        f"qualibot chat: the database at {url} is not migrated (at no schema, need {SCHEMA_REVISION}): "
        "run `qualibot migrate`"
    )


def _migrated(folder: Path) -> Path:
    path = folder / "qualibot.db"
    result = qualibot("migrate", "--database-url", f"sqlite+aiosqlite:///{path}")
    assert result.returncode == 0, result.stderr
    return path


def test_a_sqlite_file_opened_read_only(tmp_path: Path) -> None:
    path = _migrated(tmp_path)
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    line = one_line_failure(qualibot("chat", "--database-url", url, stdin="#1\n"))
    assert line.startswith("qualibot chat: the database at sqlite+aiosqlite:///file")
    assert line.endswith("cannot be written: attempt to write a readonly database"), line


def test_a_sqlite_file_without_write_permission() -> None:
    """The file is readable but not writable by the process (as nobody when the tests run as root,
    since root may write any file)."""
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = _migrated(Path(folder))
        path.chmod(0o444)
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        command = ["chat", "--database-url", url]
        if as_root:
            result = subprocess.run(
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    sys.executable,
                    "-m",
                    "qualibot.cli",
                    *command,
                ],
                input="#1\n",
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=folder,
                env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            )
        else:
            result = qualibot(*command, stdin="#1\n")
        line = one_line_failure(result)
    assert (
        line
        == f"qualibot chat: the database at {url} cannot be written: attempt to write a readonly database"
    )


def test_a_folder_where_the_sqlite_file_should_be(tmp_path: Path) -> None:
    (tmp_path / "qualibot.db").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'qualibot.db'}"
    for command in DATABASE_COMMANDS:
        line = one_line_failure(qualibot(*database_command(command, url)))
        assert line.endswith(": unable to open database file"), line


def test_a_connect_timeout_that_is_not_a_number(silent_server: int) -> None:
    url = f"postgresql+asyncpg://qualibot@127.0.0.1:{silent_server}/qualibot?connect_timeout=soon"
    line = one_line_failure(qualibot("migrate", "--database-url", url))
    assert line.endswith("connect_timeout must be a number of seconds above 0, at most 600")


# ----------------------------------------------------------------------------- arguments and settings


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume", ""], "argument --resume: takes the id of a conversation"),
        (["--resume", "x" * 100_000], "argument --resume: takes the id of a conversation"),
        (["--resume", "<script>alert(1)</script>"], "argument --resume: takes the id of a conversation"),
        (["--flow", "Z" * 10_000], "argument --flow: takes a flow id"),
        (["--locale", "ru\x1b[31m"], "argument --locale: takes a locale such as ru or en"),
        (["--database-url", "postgresql://u@h/db"], "write it as postgresql+asyncpg://"),
        (["--database-url", "Q" * 10_000], "is not a database URL"),
    ],
    ids=[
        "empty resume",
        "oversized resume",
        "markup resume",
        "oversized flow",
        "escape locale",
        "postgresql without driver",
        "oversized url",
    ],
)
def test_arguments_are_refused_without_echoing_them(args: list[str], message: str) -> None:
    result = qualibot("chat", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr) < 1000
    for bad in ("x" * 200, "<script>", "Z" * 200, "\x1b", "Q" * 200):
        assert bad not in result.stderr


def test_resume_of_a_conversation_that_does_not_exist(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{_migrated(tmp_path)}"
    missing = uuid.uuid4()
    line = one_line_failure(qualibot("chat", "--database-url", url, "--resume", str(missing).upper()))
    assert line == f"qualibot chat: no conversation {missing}"


def test_a_context_item_that_is_not_key_value_is_cut_short(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{_migrated(tmp_path)}"
    line = one_line_failure(qualibot("chat", "--database-url", url, "--context", "y" * 10_000), status=2)
    assert line.startswith("qualibot chat: --context takes KEY=VALUE, not 'yyy")
    assert len(line) < 120


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"QUALIBOT_FLOWS_DIR": "/nonexistent/flows"},
            "bad setting QUALIBOT_FLOWS_DIR: '/nonexistent/flows' does not exist",
        ),
        ({"QUALIBOT_FLOWS_DIR": str(DEMO)}, f"bad setting QUALIBOT_FLOWS_DIR: {str(DEMO)!r} is not a folder"),
        (
            {"QUALIBOT_LOG_LEVEL": "chatty"},
            "bad setting QUALIBOT_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
        (
            {"QUALIBOT_DATABASE_URL": "mysql://u@h/db"},
            "bad setting QUALIBOT_DATABASE_URL: 'mysql://u@h/db' is not a database URL",
        ),
    ],
    ids=["missing flows dir", "flows dir is a file", "log level", "database url"],
)
@pytest.mark.parametrize("command", ["chat", "migrate"])
def test_wrong_settings_are_named(command: str, env: dict[str, str], message: str) -> None:
    line = one_line_failure(qualibot(command, env=env), status=2)
    assert line.startswith(f"qualibot {command}: {message}"), line


def test_a_hostile_flows_dir_does_not_stop_the_chat(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bomb.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        encoding="utf-8",
    )
    (flows / "unhashable.yaml").write_text("? [a, b]\n: c\n", encoding="utf-8")
    (flows / "merge.yaml").write_text("a: &a {id: x}\nb:\n  <<: *a\n", encoding="utf-8")
    (flows / "binary.yaml").write_bytes(bytes(range(256)))
    (flows / "demo.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    url = f"sqlite+aiosqlite:///{_migrated(tmp_path)}"
    result = qualibot(
        "chat",
        "--flow",
        "demo",
        "--locale",
        "en",
        "--database-url",
        url,
        env={"QUALIBOT_FLOWS_DIR": str(flows)},
        stdin="2 million\n#1\n",
    )
    assert result.returncode == 0, result.stderr
    assert "score " in result.stdout
    for name in ("bomb.yaml", "unhashable.yaml", "merge.yaml", "binary.yaml"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database."""
    url = await _create_postgres_database()
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _drop_postgres_database(url)


def test_a_connect_timeout_in_the_url_reaches_every_connection(postgres_database: str) -> None:
    """The engine, the group-commit writer and the reader's own asyncpg pool all connect with it."""
    url = f"{postgres_database}?connect_timeout=3"
    answers = [
        "#1",
        "около 2 млн руб",
        "я владелец",
        "#1 #3",
        "через пару недель",
        "только вас",
        "#1",
        "Иван Петров",
        "8 (916) 123-45-67",
        "ivan.petrov@romashka.ru",
    ]
    result = qualibot("chat", "--database-url", url, stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("score ") and ": sql" in line for line in result.stdout.splitlines()), (
        result.stdout
    )
