"""`qualibot chat`: talk to a flow in the terminal as a visitor would; ends with the score.

The conversation is stored in the configured database like any other channel's, so
``--resume ID`` continues it later (or after a crash) from the question it stopped at.
Buttons are listed with numbers; type ``#2`` to tap the second, or just type an answer.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from typing import Any, TextIO

from flows.model import Reply
from qualibot.settings import add_database_url_option


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chat",
        help="chat with a flow in the terminal, as a visitor would, and see the score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--flow", default="bant", type=_flow_id, help="flow id (default: bant)")
    parser.add_argument("--locale", default="ru", type=_locale, help="ru or en (default: ru)")
    parser.add_argument(
        "--resume", metavar="ID", type=_conversation_id, help="continue the conversation with this id"
    )
    add_database_url_option(parser)
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="where the visit came from, for engagement scoring: utm_source=google, utm_medium=cpc, "
        "referrer=..., page_url=... (repeatable)",
    )
    parser.set_defaults(func=run)


# What the arguments may be; a value that is not is refused without being echoed back.
_FLOW_ID = re.compile(r"[a-z0-9_]{1,64}")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def _flow_id(text: str) -> str:
    if not _FLOW_ID.fullmatch(text):
        raise argparse.ArgumentTypeError("takes a flow id: a-z, 0-9 and _, at most 64 characters")
    return text


def _locale(text: str) -> str:
    if len(text) > 32 or not _LOCALE.fullmatch(text):
        raise argparse.ArgumentTypeError("takes a locale such as ru or en")
    return text


def _conversation_id(text: str) -> str:
    if len(text) <= 64:
        try:
            return str(uuid.UUID(text.strip()))
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(
        "takes the id of a conversation, as printed when it started (8-4-4-4-12 hex digits)"
    )


def run(args: argparse.Namespace) -> int:
    from qualibot.errors import shown
    from qualibot.logging import configure_logging
    from qualibot.settings import Settings

    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    configure_logging(settings)
    context: dict[str, str] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep:
            sys.stderr.write(f"qualibot chat: --context takes KEY=VALUE, not {shown(item, 40)}\n")
            return 2
        context[key.strip()] = value.strip()
    return asyncio.run(_chat(settings, args.flow, args.locale, args.resume, context, sys.stdin, sys.stdout))


def source_of(context: dict[str, str]) -> Any:
    """The terminal's ``--context`` pairs as a conversation source: ``utm_source=...`` and the
    other ``utm_*`` tags, ``referrer``, ``page_url`` and ``deep_link``."""
    from flows.model import Channel, Source

    utm = {key.removeprefix("utm_"): value for key, value in context.items() if key.startswith("utm_")}
    return Source(
        channel=Channel.CLI,
        page_url=context.get("page_url"),
        referrer=context.get("referrer"),
        utm=utm,
        deep_link=context.get("deep_link"),
    )


def render(reply: Reply, out: TextIO) -> None:
    if reply.progress is not None:
        out.write(f"[{reply.progress[0]}/{reply.progress[1]}] ")
    out.write(reply.text + "\n")
    for number, button in enumerate(reply.buttons, start=1):
        out.write(f"   #{number} {button.label}\n")
    if reply.multi:
        out.write("   (several: #1 #3, or type them)\n")


def inbound_for(line: str, last: Reply | None) -> Any:
    """``#2`` (or ``#1 #3`` for a multi-choice) taps buttons of the last question; the rest is typed."""
    from flows.model import Inbound

    words = line.split()
    if last is not None and last.buttons and words and all(w.startswith("#") for w in words):
        picked: list[str] = []
        for word in words:
            number = word[1:]
            if not number.isdigit() or not 1 <= int(number) <= len(last.buttons):
                return Inbound.typed(line)
            picked.append(last.buttons[int(number) - 1].id)
        return Inbound.tap(*picked)
    return Inbound.typed(line)


async def _chat(
    settings: Any,
    flow_id: str,
    locale: str,
    resume: str | None,
    context: dict[str, str],
    stdin: TextIO,
    out: TextIO,
) -> int:
    from qualibot.wiring import open_app

    async with open_app(settings) as app:
        service = app.service
        if resume is not None:
            result = await service.current(resume)
        else:
            result = await service.start_conversation(flow_id, locale, source_of(context))
        conversation_id = str(result.conversation_id)
        out.write(f"conversation {conversation_id}\n\n")
        last = _show(result.replies, None, out)
        while not result.done:
            out.write("> ")
            out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                out.write(f"\nstopped; continue with: qualibot chat --resume {conversation_id}\n")
                return 0
            if not line.strip():
                continue
            result = await service.handle_message(conversation_id, inbound_for(line.strip(), last))
            last = _show(result.replies, last, out)
        await _print_score(service, conversation_id, out)
        return 0


def _show(replies: tuple[Reply, ...], last: Reply | None, out: TextIO) -> Reply | None:
    for reply in replies:
        render(reply, out)
        if reply.question_id is not None:
            last = reply
    out.write("\n")
    return last


async def _print_score(service: Any, conversation_id: str, out: TextIO) -> None:
    view = await service.get_conversation(conversation_id)
    score = view.score
    if score is None:
        return
    tier = f", tier {score.tier}" if score.tier else ""
    out.write(f"score {score.total}/100 (fit {score.fit}, engagement {score.engagement}): ")
    out.write(f"{score.stage.value}{tier}\n")
    for line in score.breakdown:
        out.write(f"  {line['reason']}\n")
