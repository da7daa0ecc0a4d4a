"""Engine throughput and memory, in process, with a baseline measured in the same run.

    python -m bench.engine [--seconds S]    # S: one timed round (default 1)

Scripted conversations (a mix of button taps and typed answers, including one miss and one
"back") run through ``flows.engine.step`` on the shipped BANT flow and one more shipped flow.
Printed: full conversations and turns per second on one core; memory per 10,000 conversation
states as held between turns (the objects, and their JSON form); and the baseline the design
avoids, one ``transitions.Machine`` per conversation: time per create and memory per 10,000
(measured on a sample and scaled), with the ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flows.compiled import CompiledFlow, compile_flow
from flows.engine import step
from flows.machine import build_machine
from flows.model import ConversationState, Inbound, Reply
from flows.spec import LIBRARY, QuestionKind, library_path, load_library_flow, tr

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STATES = 10_000
STEPPED_SAMPLE = 2_000
MACHINE_SAMPLE = 100
ROUNDS = 3

TYPED = {
    QuestionKind.NUMBER: "около 50",
    QuestionKind.MONEY: "около 2 млн руб",
    QuestionKind.TIMELINE: "через пару месяцев",
    QuestionKind.EMAIL: "ivan.petrov@acme.ru",
    QuestionKind.PHONE: "+7 999 123-45-67",
    QuestionKind.NAME: "Иван Петров",
    QuestionKind.COMPANY: "ООО Ромашка",
    QuestionKind.TEXT: "Хотим быстрее отвечать на заявки с сайта",
    QuestionKind.YES_NO: "да",
}


def _answer(flow: CompiledFlow, reply: Reply, turn: int, buttons_only: bool) -> Inbound:
    """Tap the first button that keeps the lead in on even turns (on every turn with
    ``buttons_only``), type the answer otherwise and where there are no buttons."""
    question = flow.spec.question_by_id[reply.question_id or ""]
    tap = buttons_only or turn % 2 == 0
    safe = [o for o in question.options if o.knockout is None]
    if question.kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE) and safe:
        return Inbound.tap(safe[0].id) if tap else Inbound.typed(tr(safe[0].label, "ru"))
    if question.kind is QuestionKind.YES_NO and tap:
        return Inbound.tap(safe[0].id if safe else "yes")
    bands = [f"band:{i}" for i, b in enumerate(question.bands) if b.knockout is None and b.label is not None]
    if bands and tap:
        return Inbound.tap(bands[-1])
    return Inbound.typed(TYPED[question.kind])


def script_for(flow: CompiledFlow, buttons_only: bool = False) -> list[Inbound]:
    """One full conversation's inputs: start and the answers; the mixed script also has one
    miss and one "back" on the way."""
    state = ConversationState(flow.id, flow.version, "ru")
    script = [Inbound(kind="start")]
    turn = step(state, script[0], flow, NOW)
    extras = [] if buttons_only else [Inbound.typed("не знаю, сложно сказать"), Inbound.typed("назад")]
    n = 0
    while not turn.state.completed:
        n += 1
        if extras and n in (2, 4):
            inbound = extras.pop(0)
        else:
            inbound = _answer(flow, turn.replies[-1], n, buttons_only)
        script.append(inbound)
        turn = step(turn.state, inbound, flow, NOW)
        if n > 200:
            raise RuntimeError(f"{flow.id}: the scripted conversation does not end")
    return script


def run_conversation(flow: CompiledFlow, script: list[Inbound], facts: dict[str, Any]) -> ConversationState:
    state = ConversationState(flow.id, flow.version, "ru", facts=facts)
    for inbound in script:
        state = step(state, inbound, flow, NOW).state
    return state


def throughput(flow: CompiledFlow, script: list[Inbound], seconds: float) -> tuple[float, float]:
    """Best and median conversations per second over ``ROUNDS`` rounds of ``seconds`` each."""
    run_conversation(flow, script, {})
    rates = []
    for _ in range(ROUNDS):
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(10):
                run_conversation(flow, script, {"utm_source": "google"})
            done += 10
        rates.append(done / (time.perf_counter() - started))
    return max(rates), statistics.median(rates)


def measured(build: Callable[[], Any]) -> tuple[Any, int]:
    """(what ``build`` made, bytes it still holds)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    made = build()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return made, grown


def state_memory(flow: CompiledFlow, script: list[Inbound]) -> tuple[int, int, int]:
    """Bytes per 10k states held between turns (half-way through the conversation): as ``step``
    leaves them (traced on ``STEPPED_SAMPLE`` conversations and scaled, since tracing slows the
    engine), as loaded from their JSON, and the JSON text itself."""
    middle = script[: len(script) // 2]

    def from_steps() -> list[ConversationState]:
        return [run_conversation(flow, middle, {"utm_source": "google"}) for _ in range(STEPPED_SAMPLE)]

    sample, stepped = measured(from_steps)
    encoded = [json.dumps(sample[i % STEPPED_SAMPLE].to_json(), ensure_ascii=False) for i in range(STATES)]
    del sample
    _, loaded = measured(lambda: [ConversationState.from_json(json.loads(text)) for text in encoded])
    _, as_json = measured(lambda: [json.dumps(json.loads(text), ensure_ascii=False) for text in encoded])
    return stepped * STATES // STEPPED_SAMPLE, loaded, as_json


def machine_baseline(flow: CompiledFlow) -> tuple[float, int]:
    """Seconds per Machine create, and bytes per 10k machines (traced on a sample and scaled)."""
    ids = [q.id for q in flow.questions]
    asks = {q.id: q.ask_if for q in flow.questions if q.ask_if is not None}
    build_machine(ids, asks)
    started = time.perf_counter()
    for _ in range(MACHINE_SAMPLE):
        build_machine(ids, asks)
    per_create = (time.perf_counter() - started) / MACHINE_SAMPLE
    _, sample = measured(lambda: [build_machine(ids, asks) for _ in range(MACHINE_SAMPLE)])
    return per_create, sample * STATES // MACHINE_SAMPLE


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def bench(flow: CompiledFlow, seconds: float) -> None:
    script = script_for(flow)
    best, median = throughput(flow, script, seconds)
    taps = script_for(flow, buttons_only=True)
    taps_best, _ = throughput(flow, taps, seconds)
    stepped, loaded, as_json = state_memory(flow, script)
    per_create, machines = machine_baseline(flow)
    per_turn = 1 / (best * len(script))
    print(f"\n{flow.id}: {len(flow.questions)} questions, {len(script)} turns per scripted conversation")
    print(f"  conversations/s          {best:>10,.0f}   (median of {ROUNDS} rounds {median:,.0f})")
    print(f"  turns/s                  {best * len(script):>10,.0f}   ({per_turn * 1e6:.1f} µs per turn)")
    taps_turns = taps_best * len(taps)
    print(
        f"  turns/s, buttons only    {taps_turns:>10,.0f}   ({1e6 / taps_turns:.1f} µs per turn;"
        " typed only where no buttons)"
    )
    print(f"  10k states (from step)   {mb(stepped):>10}")
    print(f"  10k states (from JSON)   {mb(loaded):>10}")
    print(f"  10k states as JSON text  {mb(as_json):>10}")
    print("  baseline: one transitions.Machine per conversation")
    print(f"    create                 {per_create * 1e6:>10,.0f} µs = {per_create / per_turn:.0f}x a turn")
    print(f"    10k machines           {mb(machines):>10} = {machines / max(stepped, 1):.0f}x the states")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed round (default 1)")
    args = parser.parse_args()
    others = [i for i in LIBRARY if i != "bant" and library_path(i).exists()]
    chosen = ["bant", *others[-1:]]
    print(f"engine.step in process, one core; {ROUNDS} timed rounds of {args.seconds:g} s per flow")
    load = os.getloadavg()[0]
    print(
        f"load average {load:.1f} on {os.cpu_count()} cores (figures drop when other work shares the cores)"
    )
    for flow_id in chosen:
        bench(compile_flow(load_library_flow(flow_id)), args.seconds)


if __name__ == "__main__":
    main()
