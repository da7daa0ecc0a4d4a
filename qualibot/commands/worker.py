"""`qualibot worker`: deliver handoff events to the CRM endpoints until stopped (SIGTERM, Ctrl-C).

Run as many as you like on PostgreSQL (they share the work through leases); on SQLite run one
(``qualibot serve`` already runs one in-process unless started with ``--no-worker``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def add_parser(subparsers: Any) -> None:
    from qualibot.settings import add_database_url_option

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="deliver handoff events to the CRM webhooks (signed, retried, recorded)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_url_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qualibot.logging import configure_logging
    from qualibot.settings import Settings

    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    return asyncio.run(_work(settings))


async def _work(settings: Any) -> int:
    from qualibot.wiring import open_app, open_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_app(settings) as app, open_worker(app) as worker:
        await worker.run(stop)
    return 0
