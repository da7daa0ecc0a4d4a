"""The web chat over real HTTP: chat turns/s and latency of a running ``qualibot serve``.

    python -m bench.web [--seconds S] [--visitors 1,16,64] [--workers 1,2] [--database sqlite|postgresql]

``wrk`` (from apt) plays chat visitors with ``bench/web.lua``, one connection per visitor: each
starts a conversation as the widget does, answers every question with its token (a random button
four times in five, else a typed answer of the question's kind) and starts over when done. Rate
limits stay on: each conversation comes from its own address through a trusted proxy. A turn is
one answered request (a start or an answer), counted after a warm-up second.

Beside each figure, in the same run and on the same machine: a bare FastAPI endpoint doing one
raw sqlite3 INSERT + SELECT per request (``bench.bare``), under the same uvicorn with as many
workers, driven by the same wrk. Then, at 70% of the most turns/s measured with that many workers,
visitors on a fixed schedule (latency counted from the scheduled time). Then where the time of a
turn goes: CPU per turn of the server process(es), of the bare app, of the service in process
(``bench.service``: the engine, the service and its stores) and of wrk itself.

The aims (issue 8): at least half the baseline's requests/s with one worker; p99 under 25 ms at
70% of the maximum load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from bench import bare
from bench.process import ROOT, free_port, running
from bench.service import POSTGRES_URL, engine_cost, run_service

LUA = ROOT / "bench" / "web.lua"
AIM_RATIO = 0.5
AIM_P99_MS = 25.0
PACED_SHARE = 0.7

Server = tuple[str, "subprocess.Popen[bytes]"]  # its URL and its process (group leader)


@dataclass(frozen=True, slots=True)
class Cell:
    """One wrk run against one server."""

    visitors: int
    turns: int  # answered requests in the measured window
    starts: int
    finished: int
    failed: int  # non-2xx answers, replayed answers (a key sent twice) and socket errors
    seconds: float  # the measured window
    latencies_us: list[int]
    requests: int  # every request wrk sent, warm-up included
    server_cpu: float  # seconds of CPU the server's processes used during the whole run
    wrk_cpu: float

    @property
    def rate(self) -> float:
        return self.turns / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_us)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000

    @property
    def server_us(self) -> float:
        return self.server_cpu / self.requests * 1e6 if self.requests else float("nan")

    @property
    def wrk_us(self) -> float:
        return self.wrk_cpu / self.requests * 1e6 if self.requests else float("nan")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes in process group ``pgid``."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def drive(
    url: str,
    server: subprocess.Popen[bytes],
    mode: str,
    visitors: int,
    seconds: int,
    warmup: int,
    interval_us: float = 0,
) -> Cell:
    env = os.environ | {
        "BENCH_MODE": mode,
        "BENCH_WARMUP_US": str(int(warmup * 1e6)),
        "BENCH_INTERVAL_US": str(int(interval_us)),
        "BENCH_ORIGIN": url,
        "BENCH_RUN": uuid.uuid4().hex[:12],
    }
    duration = f"{seconds + warmup}s"  # wrk takes whole seconds
    command = ["wrk", "-t", str(visitors), "-c", str(visitors), "-d", duration, "--timeout", "10s"]
    command += ["-s", str(LUA), url]
    cpu_before = group_cpu(server.pid)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + warmup + 60, check=True
    )
    server_cpu = group_cpu(server.pid) - cpu_before
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    return parse(done.stdout, visitors, server_cpu, wrk_cpu)


def parse(output: str, visitors: int, server_cpu: float, wrk_cpu: float) -> Cell:
    turns = starts = finished = failed = requests = 0
    first, last = float("inf"), 0.0
    latencies: list[int] = []
    for line in output.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "latency":
            latencies.extend(int(x) for x in rest.split(",") if x)
        elif word == "visitor":
            fields = dict(item.split("=", 1) for item in rest.split()[1:])
            starts += int(fields["starts"])
            turns += int(fields["starts"]) + int(fields["answers"])
            finished += int(fields["done"])
            failed += sum(int(x.split(":")[1]) for x in fields["statuses"].split(",") if x)
            failed += int(fields["replayed"])
            if int(fields["first"]):
                first, last = min(first, int(fields["first"])), max(last, int(fields["last"]))
        elif word == "wrk":
            fields = dict(item.split("=", 1) for item in rest.split())
            failed += sum(int(fields[k]) for k in ("connect", "read", "write", "timeout"))
        elif " requests in " in line:
            requests = int(line.split()[0])
    seconds = (last - first) / 1e6 if last > first else 0.0
    return Cell(visitors, turns, starts, finished, failed, seconds, latencies, requests, server_cpu, wrk_cpu)


@contextmanager
def qualibot_server(
    url_of_database: str, workers: int, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    environ = os.environ | {
        "QUALIBOT_DATABASE_URL": url_of_database,
        "QUALIBOT_LOG_LEVEL": "WARNING",
        "QUALIBOT_TRUSTED_PROXIES": "127.0.0.1",
    }
    migrate = [sys.executable, "-m", "qualibot.cli", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env=environ, check=True, capture_output=True, timeout=120)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qualibot.cli", "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out, running(command, environ, f"{url}/readyz", out) as process:
        yield url, process


@contextmanager
def bare_server(database: Path, workers: int, log: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "bench.bare:bare_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--no-server-header", "--log-level", "warning"]
    environ = os.environ | {"BENCH_BARE_DATABASE": str(database)}
    with log.open("wb") as out, running(command, environ, f"{url}/healthz", out) as process:
        yield url, process


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database for Qualibot: a SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'qualibot.db'}"
        return
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"qualibot_bench_web_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def row(label: str, cell: Cell) -> str:
    return (
        f"{label:<12} {cell.rate:8,.0f}/s  p50 {cell.percentile(0.5):6.1f} ms  "
        f"p99 {cell.percentile(0.99):6.1f} ms  CPU {cell.server_us:5,.0f} us/req"
        + (f"  {cell.failed} failed" if cell.failed else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=4, help="measured seconds per cell (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds not counted per cell (default 1)")
    parser.add_argument("--visitors", default="1,16,64", help="concurrent visitors (default 1,16,64)")
    parser.add_argument("--workers", default="1,2", help="server worker processes (default 1,2)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    visitors = [int(x) for x in args.visitors.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    if shutil.which("wrk") is None:
        raise SystemExit("bench.web needs wrk: apt-get install -y wrk (make bench-web installs it)")
    load_before = os.getloadavg()
    print(f"python -m bench.web {shlex.join(sys.argv[1:])}".rstrip())
    print(
        f"{os.cpu_count()} CPUs, load average {' / '.join(f'{x:.2f}' for x in load_before)}; "
        f"qualibot serve on {args.database}, the bare app on sqlite3; "
        f"{args.seconds} s per cell after {args.warmup} s of warm-up"
    )
    results: dict[tuple[int, int], tuple[Cell, Cell]] = {}
    paced: dict[int, tuple[float, Cell]] = {}
    with tempfile.TemporaryDirectory(prefix="qualibot-bench-web-") as tmp:
        workdir = Path(tmp)
        with database(args.database, workdir) as url_of_database:
            for count in workers:
                bare_db = workdir / f"bare-{count}.db"
                bare.create_database(bare_db)
                with (
                    bare_server(bare_db, count, workdir / f"bare-{count}.log") as (bare_url, bare_process),
                    qualibot_server(url_of_database, count, workdir / f"serve-{count}.log") as (url, process),
                ):
                    print(f"\n{plural(count, 'worker')}")
                    for n in visitors:
                        baseline = drive(bare_url, bare_process, "baseline", n, args.seconds, args.warmup)
                        chat = drive(url, process, "chat", n, args.seconds, args.warmup)
                        results[count, n] = chat, baseline
                        print(f"  {n:>3} visitors")
                        print("    " + row("chat turns", chat))
                        print(
                            "    "
                            + row("bare FastAPI", baseline)
                            + f"  ratio {chat.rate / baseline.rate:.2f}"
                        )
                    target = PACED_SHARE * max(results[count, n][0].rate for n in visitors)
                    n = max(visitors)
                    cell = drive(url, process, "chat", n, args.seconds, args.warmup, n / target * 1e6)
                    paced[count] = target, cell
                    print(f"  {n:>3} visitors paced at {target:,.0f} turns/s (70% of the most)")
                    print("    " + row("chat turns", cell))
            service = asyncio.run(run_service(url_of_database, 3000, 16, [0]))[0]
    step_us = engine_cost(3000)
    report(results, paced, visitors, workers, service.cpu_seconds / service.turns * 1e6, step_us)
    load_after = os.getloadavg()
    print(f"\nload average {' / '.join(f'{x:.2f}' for x in load_after)} at the end ({os.cpu_count()} CPUs)")


def report(
    results: dict[tuple[int, int], tuple[Cell, Cell]],
    paced: dict[int, tuple[float, Cell]],
    visitors: list[int],
    workers: list[int],
    service_us: float,
    step_us: float,
) -> None:
    print("\nAgainst the aims")
    if 1 in workers:
        ratios = [results[1, n][0].rate / results[1, n][1].rate for n in visitors]
        best = max(ratios)
        print(
            f"  one worker: {' / '.join(f'{r:.2f}' for r in ratios)} of the bare endpoint at "
            f"{' / '.join(str(n) for n in visitors)} visitors (aim {AIM_RATIO:.2f}: "
            f"{'met' if best >= AIM_RATIO else 'not met'} at best)"
        )
    for count, (target, cell) in paced.items():
        p99 = cell.percentile(0.99)
        print(
            f"  {plural(count, 'worker')}, {cell.rate:,.0f} turns/s of {target:,.0f} "
            f"offered: p99 {p99:.1f} ms (aim under {AIM_P99_MS:.0f} ms: "
            f"{'met' if p99 < AIM_P99_MS else 'not met'})"
        )
    n = 16 if 16 in visitors else visitors[0]
    count = workers[0]
    chat, baseline = results[count, n]
    lines = [
        ("qualibot serve, all its threads", chat.server_us, ""),
        ("  engine.step", step_us, "in process, no storage"),
        ("  service and stores", service_us - step_us, "bench.service in process, commits included"),
        ("  HTTP and the API", chat.server_us - service_us, "the rest: uvicorn, FastAPI, the API's work"),
        ("bare FastAPI + sqlite3", baseline.server_us, "the same uvicorn and FastAPI"),
        ("wrk, per chat turn", chat.wrk_us, ""),
        ("wrk, per bare request", baseline.wrk_us, ""),
    ]
    print(f"\nWhere a turn's time goes: CPU per request ({plural(count, 'worker')}, {n} visitors)")
    for label, us, note in lines:
        print(f"  {label:<32} {us:6,.0f} us" + (f"  ({note})" if note else ""))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("s" if count != 1 else "")


if __name__ == "__main__":
    main()
