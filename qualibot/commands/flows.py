"""``qualibot flows check FILE...`` and ``qualibot flows simulate FILE|ID``.

``check`` validates flow files and prints every problem as ``file:line: field: message``, then
``ok FILE (id vN, N questions)`` for each good file; it exits 1 when any file has a problem.
``simulate`` walks the answer paths of a flow file or a shipped flow (by id) and prints what the
paths reach and the problems found, each with a path that shows it (``--json`` for the report as
JSON); it exits 1 when the flow cannot be loaded or has a problem.
Neither needs a server, so this module imports the pure core only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from flows.catalog import FlowCatalog
from flows.compiled import compile_flow
from flows.simulate import PathResult, SimulationReport, simulate
from flows.spec import LIBRARY, FlowSpec, FlowSpecError, load_flow, load_library_flow, read_flow_text


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "flows",
        help="check flow files, or simulate every answer path of a flow",
        description="Check flow files, or simulate every answer path of a flow.",
    )
    commands = parser.add_subparsers(dest="flows_command", metavar="SUBCOMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="validate flow files; print each problem as file:line: field: message",
        description="Validate flow files. Exit status 1 when any file has a problem.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="flow YAML files")
    check.set_defaults(func=run_check)

    sim = commands.add_parser(
        "simulate",
        help="walk the answer paths of a flow and report scores, stages, tiers and contradictions",
        description=(
            "Walk the answer paths of a flow (a file, or the id of a shipped flow: "
            f"{', '.join(LIBRARY)}) and report the score range, the stages and tiers reached, what is "
            "never reached, and problems, each with a path that shows it: knock-outs that contradict the "
            "thresholds, a raised hand that ends in nurture, an MQL or SQL with no e-mail or phone, a "
            "closing that promises a call to a lead who gave no phone, tier A with the lowest budget band. "
            "Exit status 1 when the flow cannot be loaded or has a problem."
        ),
    )
    sim.add_argument("flow", metavar="FILE|ID", help="a flow file or a shipped flow id")
    sim.add_argument(
        "--limit",
        type=_positive,
        default=20000,
        help="walk every path when there are at most this many, else a sample of this many (20000)",
    )
    sim.add_argument("--seed", type=int, default=0, help="seed of the sample (0)")
    sim.add_argument("--json", action="store_true", help="print the report as JSON")
    sim.set_defaults(func=run_simulate)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_check(args: argparse.Namespace) -> int:
    """Each file is loaded the way the service loads it (read, parsed, validated, built); a bad
    file never stops the next one from being checked."""
    failed = False
    for name in args.files:
        try:
            spec = FlowCatalog().add(read_flow_text(Path(name)), name).spec
        except FlowSpecError as exc:
            failed = True
            for problem in exc.problems:
                sys.stdout.write(f"{problem}\n")
            continue
        except Exception as exc:
            failed = True
            sys.stdout.write(f"{name}: the flow cannot be built: {type(exc).__name__}: {exc}\n")
            continue
        sys.stdout.write(f"ok {name} ({spec.id} v{spec.version}, {len(spec.questions)} questions)\n")
    return 1 if failed else 0


def _load(name: str) -> FlowSpec:
    if Path(name).exists() or name not in LIBRARY:
        return load_flow(name)
    return load_library_flow(name)


def run_simulate(args: argparse.Namespace) -> int:
    try:
        spec = _load(args.flow)
    except FlowSpecError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"{problem}\n")
        return 1
    started = time.perf_counter()
    report = simulate(compile_flow(spec), limit=args.limit, seed=args.seed)
    elapsed = time.perf_counter() - started
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render(report, elapsed))
    return 1 if report.findings else 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(items) or "none"


def render(report: SimulationReport, elapsed: float) -> str:
    """The report as text for a terminal."""
    sample = f"a sample: more than {report.limit} paths, seed {report.seed}"
    how = "all paths" if report.exhaustive else sample
    lines = [
        f"{report.flow_id} v{report.version}: {report.questions} questions, {report.paths} paths walked "
        f"({how}) in {elapsed:.1f} s",
        f"score: min {report.min_score}, max {report.max_score} (the rules allow up to {report.upper_bound})",
        f"questions asked: {report.shortest} to {report.longest} (paths not knocked out)",
        f"stages: {_counts(report.stages)}",
        f"tiers: {_counts(report.tiers)}",
        f"knock-outs: {_counts(report.knockouts)}",
        f"tiers never reached: {_listed(report.tiers_never_reached)}",
        f"closings never shown: {_listed(report.closings_never_shown)}",
        f"questions never asked: {_listed(report.questions_never_asked)}",
    ]
    if report.findings:
        lines.append("problems:")
        for finding in report.findings:
            lines.append(f"  {finding.code}: {finding.message}")
            if finding.path is not None:
                lines.append(f"    e.g. {_path_words(finding.path)}")
    else:
        lines.append("problems: none")
    lines.extend(
        f"{title} path: {_path_words(path)}"
        for title, path in (("best", report.best), ("worst", report.worst))
    )
    return "\n".join(lines) + "\n"


def _path_words(path: PathResult) -> str:
    outcome = path.stage + (f"/{path.tier}" if path.tier else "")
    if path.knockout:
        outcome += f" ({path.knockout})"
    return f"{path.total} points, {outcome}: {path.describe()}"
