"""How well typed answers are understood: the answer corpus read through ``flows.extract.parse``.

    python -m bench.corpus [--misreads | --missed] [--corpus PATH] [--reader CHECKOUT]

Every line of ``tests/flows/extract/corpus.jsonl`` is a phrasing as people type it, with what a
sales person would write down for it (``expect``), or ``{"understood": false}`` where the only
safe answer is to ask again. Choice lines name an option set of ``options.json`` (or carry their
``candidates`` inline). Each phrasing is judged:

* **right**: understood with the expected value, or not understood where that was expected;
* **missed**: not understood although a value was expected (the bot asks again: safe);
* **misread**: understood, but with another value than expected, or understood where it should
  not have been (the bot believes a wrong answer: the failure that matters).

Printed: per kind and locale the number of phrasings, how many of those that should be
understood were understood right (and the share), the misses and the misreads, then the totals.
``--misreads`` lists every misread phrasing with what came out, ``--missed`` every phrasing not
understood. ``--reader CHECKOUT`` reads with the ``flows.extract`` of another checkout of this
repository instead (say ``git worktree add /tmp/before 56ffaab``, to measure the reader as it was
before): one that predates the choice kinds of ``parse`` has its ``match_choices`` read the choice
lines.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from flows.extract import parse

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "flows" / "extract"
CORPUS = CORPUS_DIR / "corpus.jsonl"
OPTION_SETS = CORPUS_DIR / "options.json"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
"""The moment every timeline phrasing counts from (a Monday)."""

Verdict = Literal["right", "missed", "misread"]
Case = dict[str, Any]
Reader = Callable[[Case], dict[str, Any]]


def option_sets(path: Path = OPTION_SETS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load(path: Path = CORPUS, sets: Mapping[str, Any] | None = None) -> list[Case]:
    """The corpus lines, with choice lines resolved to ``options`` (id, phrases, flags) and ``multi``."""
    sets = option_sets() if sets is None else sets
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case: Case = json.loads(line)
        if case["kind"] == "choice":
            case = {**case, **_choice_options(case, sets)}
        cases.append(case)
    return cases


def _choice_options(case: Case, sets: Mapping[str, Any]) -> Case:
    if "candidates" in case:
        options = [{"id": option_id, "phrases": phrases} for option_id, phrases in case["candidates"]]
        return {"options": options, "multi": case["multi"]}
    chosen = sets[case["options"]]
    options = [
        {
            "id": option["id"],
            "phrases": option["phrases"][case["locale"]],
            "knockout": option.get("knockout", False),
            "hand_raise": option.get("hand_raise", False),
        }
        for option in chosen["options"]
    ]
    return {"options": options, "multi": chosen["multi"]}


def parse_kind(case: Case) -> str:
    """The kind ``parse`` is asked for: a multi-choice line is ``multi_choice``."""
    if case["kind"] == "choice" and case["multi"]:
        return "multi_choice"
    return str(case["kind"])


def read(case: Case) -> dict[str, Any]:
    """What ``flows.extract.parse`` makes of the case."""
    options = case.get("options")
    return parse(parse_kind(case), case["text"], case["locale"], NOW, options=options)


def _understood(case: Case, result: Mapping[str, Any]) -> bool:
    if case["kind"] == "choice":
        return bool(result.get("ids"))
    return bool(result.get("understood"))


def _expected_understood(case: Case) -> bool:
    expect = case["expect"]
    if case["kind"] == "choice":
        return bool(expect.get("ids"))
    return bool(expect.get("understood"))


def judge(case: Case, result: Mapping[str, Any]) -> Verdict:
    """right, missed or misread (see the module docstring)."""
    expect = case["expect"]
    understood = _understood(case, result)
    if not _expected_understood(case):
        if understood:
            return "misread"
        if case["kind"] == "choice":
            return "right" if list(result.get("clarify") or ()) == expect.get("clarify", []) else "missed"
        return "right"
    if not understood:
        return "missed"
    keys = ("ids",) if case["kind"] == "choice" else tuple(expect)
    same = all(_same(result.get(key), expect.get(key)) for key in keys)
    return "right" if same else "misread"


def _same(got: Any, expected: Any) -> bool:
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(got, float) and isinstance(expected, int | float) and not isinstance(expected, bool):
        return abs(got - expected) < 1e-9
    return bool(got == expected)


@dataclass
class Row:
    cases: int = 0
    expected: int = 0
    right: int = 0
    missed: int = 0
    misread: int = 0

    def add(self, case: Case, verdict: Verdict) -> None:
        self.cases += 1
        expected = _expected_understood(case)
        self.expected += expected
        self.right += verdict == "right" and expected
        self.missed += verdict == "missed"
        self.misread += verdict == "misread"

    @property
    def share(self) -> str:
        return f"{100 * self.right / self.expected:.0f}%" if self.expected else "-"


def measure(
    cases: Iterable[Case], reader: Reader = read, show: Verdict = "misread"
) -> tuple[dict[tuple[str, str], Row], list[str]]:
    """Rows per (kind, locale) and the phrasings with the ``show`` verdict, described."""
    rows: dict[tuple[str, str], Row] = {}
    misreads = []
    for case in cases:
        result = reader(case)
        verdict = judge(case, result)
        rows.setdefault((case["kind"], case["locale"]), Row()).add(case, verdict)
        if verdict == show:
            shown = {k: v for k, v in result.items() if k in case["expect"] or k in ("ids", "understood")}
            misreads.append(
                f"{case['kind']:9} {case['locale']}  {case['text']!r}: "
                f"expected {json.dumps(case['expect'], ensure_ascii=False)}, "
                f"got {json.dumps(shown, ensure_ascii=False)}"
            )
    return rows, misreads


def table(rows: Mapping[tuple[str, str], Row]) -> str:
    header = f"{'kind':10} {'locale':6} {'phrasings':>9} {'to read':>8} {'read right':>10} {'share':>6} "
    header += f"{'missed':>7} {'misread':>8}"
    lines = [header, "-" * len(header)]
    total = Row()
    for (kind, locale), row in sorted(rows.items()):
        lines.append(
            f"{kind:10} {locale:6} {row.cases:9} {row.expected:8} {row.right:10} {row.share:>6} "
            f"{row.missed:7} {row.misread:8}"
        )
        for name in ("cases", "expected", "right", "missed", "misread"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    lines.append("-" * len(header))
    lines.append(
        f"{'all':10} {'':6} {total.cases:9} {total.expected:8} {total.right:10} {total.share:>6} "
        f"{total.missed:7} {total.misread:8}"
    )
    return "\n".join(lines)


def reader_from(checkout: Path) -> Reader:
    """``read`` with the ``flows.extract`` of another checkout (imported in its place)."""
    for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
        del sys.modules[name]
    sys.path.insert(0, str(checkout.resolve()))
    extract = importlib.import_module("flows.extract")
    if "choice" in extract.KINDS:
        return lambda case: dict(
            extract.parse(parse_kind(case), case["text"], case["locale"], NOW, options=case.get("options"))
        )

    def older(case: Case) -> dict[str, Any]:
        if case["kind"] == "choice":
            candidates = [(o["id"], o["phrases"]) for o in case["options"]]
            ids = extract.match_choices(case["text"], candidates, case["locale"], multi=case["multi"])
            return {"understood": bool(ids), "ids": list(ids), "clarify": []}
        return dict(extract.parse(case["kind"], case["text"], case["locale"], NOW))

    return older


def main(argv: list[str] | None = None, reader: Reader = read) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--misreads", action="store_true", help="list every misread phrasing")
    parser.add_argument("--missed", action="store_true", help="list every phrasing not understood")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--reader", type=Path, metavar="CHECKOUT", help="read with another checkout's flows.extract"
    )
    args = parser.parse_args(argv)
    if args.reader is not None:
        reader = reader_from(args.reader)
    cases = load(args.corpus)
    rows, listed = measure(cases, reader, "missed" if args.missed else "misread")
    kinds = Counter(case["kind"] for case in cases)
    print(f"{len(cases)} phrasings of {len(kinds)} kinds, timelines counted from {NOW:%Y-%m-%d} ({NOW:%A})")
    print(table(rows))
    if args.misreads or args.missed:
        print()
        print("\n".join(listed) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
