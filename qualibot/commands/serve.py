"""`qualibot serve`: the web API, the widget and its demo page, on uvicorn.

The database must answer and be migrated (`qualibot migrate`); the server refuses to start
otherwise, in one line. Each server process also delivers the handoff's webhooks (as `qualibot
worker` does) unless started with ``--no-worker``. With QUALIBOT_TELEGRAM_WEBHOOK_SECRET set it
also serves the Telegram webhook (`POST /telegram/webhook`, see `qualibot bot --set-webhook`)
and checks the bot token with Telegram first. With ``--workers N`` uvicorn runs N processes on
the same port; their Prometheus metrics are added up through a shared directory, so
``/metrics`` shows the whole server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import TelegramSettings


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the web API, the chat widget and the demo page",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="worker processes (default: 1)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request (off by default)")
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="do not deliver webhooks in this server (run `qualibot worker` for that instead)",
    )
    parser.set_defaults(func=run)


def _workers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of processes, not {value!r}") from None
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("between 1 and 64 workers")
    return number


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from qualibot.logging import configure_logging
    from qualibot.settings import Settings
    from qualibot.web import NO_WORKER

    settings = Settings()
    configure_logging(settings)
    asyncio.run(_check_database(settings.database_url))  # a problem is one line (qualibot.errors)
    if settings.telegram.webhook_secret is not None:
        asyncio.run(_check_telegram(settings.telegram))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    if args.host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    sys.stdout.write(f"Qualibot is starting on http://{shown}:{args.port}\n")
    sys.stdout.write(f"The demo page: http://{shown}:{args.port}/demo\n")
    sys.stdout.flush()
    os.environ[NO_WORKER] = "1" if args.no_worker else "0"
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="qualibot-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "qualibot.web:web_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=False,  # X-Forwarded-For is read by the app, from QUALIBOT_TRUSTED_PROXIES only
            server_header=False,
            access_log=args.access_log,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=10,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


async def _check_database(url: str) -> None:
    """Refuse, before uvicorn starts, a database that does not answer, is not migrated or cannot
    be written (``storage.errors.DatabaseProblem``)."""
    from storage.db import check_database, ensure_data_dir, make_engine

    ensure_data_dir(url)
    engine = make_engine(url)
    try:
        await check_database(engine)
    finally:
        await engine.dispose()


async def _check_telegram(settings: TelegramSettings) -> None:
    """Refuse, before uvicorn starts, a bot token Telegram does not take or a Bot API that does
    not answer (``bot.app.TelegramProblem``): the webhook would take updates it cannot answer."""
    from bot.app import check_token, make_bot

    bot = make_bot(settings)
    try:
        await check_token(bot, settings)
    finally:
        await bot.session.close()
