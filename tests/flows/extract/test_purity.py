"""flows.extract stays pure: no I/O library gets imported along with it."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "httpx", "aiogram", "fastapi", "starlette", "structlog", "asyncpg", "aiosqlite")


def test_importing_and_using_flows_extract_loads_no_io_library() -> None:
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from flows.extract import KINDS, parse, match_choices\n"
        "for kind in KINDS:\n"
        "    parse(kind, 'около 2 млн руб ivan@gmail.com 8 916 123 45 67', 'ru', datetime.now(UTC))\n"
        "match_choices('2', [('a', ['x']), ('b', ['y'])], 'ru', multi=False)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
