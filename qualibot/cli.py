"""The `qualibot` command line.

Each subcommand lives in ``qualibot/commands/<module>.py`` with an ``add_parser(subparsers)``
function. Only the module of the command being run is imported, so the commands that need no
server (``parse``, ``flows check``, ``flows simulate``) never load aiogram, FastAPI or SQLAlchemy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qualibot.errors import one_line

# command -> (module under qualibot.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("chat", "chat with a flow in the terminal, as a visitor would, and see the score"),
    "parse": ("parse", "show how a typed answer is understood (money, number, timeline, ...)"),
    "flows": ("flows", "check flow files, or simulate every answer path of a flow"),
    "migrate": ("migrate", "create or upgrade the database schema"),
    "worker": ("worker", "deliver handoff events to the CRM webhooks (signed, retried, recorded)"),
    "keys": ("keys", "create, list or revoke admin API keys"),
    "serve": ("serve", "run the web API, the chat widget and the demo page"),
    "bot": ("bot", "run the Telegram bot (long polling)"),
}


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qualibot",
        description="Qualibot: lead-qualification chatbot service.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name == command:
            importlib.import_module(f"qualibot.commands.{module}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = args_list[0] if args_list and args_list[0] in COMMANDS else None
    parser = build_parser(command)
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if not args_list else 2
    try:
        code: int = func(args)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except Exception as exc:
        reported = one_line(exc)
        if reported is None:
            raise
        message, status = reported
        sys.stderr.write(f"qualibot {command}: {message}\n")
        return status
    return code


if __name__ == "__main__":
    raise SystemExit(main())
