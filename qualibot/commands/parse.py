"""`qualibot parse`: show how a typed answer is understood, one answer or a JSON-lines stream.

    qualibot parse money "около 2 млн руб"
    qualibot parse timeline "next quarter" --locale en --now 2026-11-23T12:00:00+00:00
    qualibot parse choice "я директор по маркетингу" --options '[{"id": "owner", "phrases": ["Собственник"]},
        {"id": "head", "phrases": ["Руководитель направления"]}]'
    printf '%s\\n' '{"kind": "phone", "text": "8 (916) 123-45-67"}' | qualibot parse --jsonl

Each answer prints one JSON object (UTF-8, not ASCII-escaped), read exactly as the engine reads a
typed answer (``flows.extract.kinds``). With --jsonl every input line is an object with "kind",
"text" and optionally "locale" ("ru" by default), "now" (ISO 8601) and, for choice kinds,
"options" ([{"id", "phrases", "knockout", "hand_raise"}]); a line that cannot be read (not JSON,
nested too deeply, wrong types, a moment out of range) prints {"understood": false, "error":
"..."} and the stream goes on. Blank lines are skipped. Only ``flows.extract`` is imported: no
server libraries.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from flows.extract import KINDS, parse

LOCALES = ("ru", "en")
EARLIEST, LATEST = 1900, 2200
"""The years a moment to count timelines from may fall in."""
_UNREADABLE = (ValueError, TypeError, RecursionError, OverflowError)  # what a bad line can raise


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="show how a typed answer is understood (money, number, timeline, ...)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("kind", nargs="?", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("text", nargs="?", metavar="TEXT", help="the answer as the visitor typed it")
    parser.add_argument(
        "--locale", choices=LOCALES, default="ru", help="the visitor's language (default: ru)"
    )
    parser.add_argument(
        "--now", metavar="ISO8601", help="the moment timelines count from (default: now, UTC)"
    )
    parser.add_argument(
        "--options",
        metavar="JSON",
        help='a choice question\'s options: [{"id": "...", "phrases": ["label", "synonym"]}, ...]',
    )
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"kind", "text", "locale", "now"} objects from stdin, one per line',
    )
    parser.set_defaults(func=run)


def _moment(value: object) -> datetime:
    """An ISO 8601 moment (naive means UTC), or the current time when absent."""
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, str):
        raise ValueError('"now" must be an ISO 8601 string')
    moment = datetime.fromisoformat(value)
    if not EARLIEST <= moment.year <= LATEST:
        raise ValueError(f'"now" must fall in the years {EARLIEST}-{LATEST}')
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _options(value: object) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError('"options" must be a list of {"id", "phrases"} objects')
    return value


def _one(record: object) -> dict[str, object]:
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    kind, text, locale = record.get("kind"), record.get("text"), record.get("locale", "ru")
    if not isinstance(kind, str):
        raise ValueError('"kind" must be a string')
    if not isinstance(text, str):
        raise ValueError('"text" must be a string')
    if locale not in LOCALES:
        raise ValueError(f'"locale" must be one of: {", ".join(LOCALES)}')
    return parse(kind, text, locale, _moment(record.get("now")), options=_options(record.get("options")))


def _write(out: TextIO, result: dict[str, object]) -> None:
    out.write(json.dumps(result, ensure_ascii=False))
    out.write("\n")


def _utf8(stream: TextIO) -> TextIO:
    """The stream, in UTF-8 whatever the platform's locale says; what cannot be encoded
    (a lone surrogate from a JSON escape) is replaced rather than crashing the stream."""
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="utf-8", errors="replace")
    return stream


def _stream(source: TextIO, out: TextIO) -> int:
    for line in source:
        if not line.strip():
            continue
        try:
            result = _one(json.loads(line))
        except RecursionError:
            result = {"understood": False, "error": "the line is nested too deeply"}
        except _UNREADABLE as error:  # not JSON, bad fields, unknown kind, a moment out of range
            result = {"understood": False, "error": str(error)}
        _write(out, result)
        out.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    out = _utf8(sys.stdout)
    if args.jsonl:
        if args.kind is not None:
            sys.stderr.write("qualibot parse: --jsonl reads stdin and takes no KIND or TEXT\n")
            return 2
        return _stream(_utf8(sys.stdin), out)
    if args.kind is None or args.text is None:
        sys.stderr.write("qualibot parse: give KIND and TEXT, or --jsonl\n")
        return 2
    try:
        options = _options(json.loads(args.options)) if args.options is not None else None
        result = parse(args.kind, args.text, args.locale, _moment(args.now), options=options)
    except _UNREADABLE as error:
        _write(out, {"understood": False, "error": str(error)})
        return 2
    _write(out, result)
    return 0
