"""What a hostile flow file costs the loader, beside PyYAML's own safe loader in the same run.

    python -m bench.flowfiles

An alias bomb ("billion laughs": each line a list of nine aliases of the line before) of nine
levels, 342 bytes, would expand to 387 million strings. ``flows.spec.parse_flow`` refuses it
when the expansion crosses the limit. The baseline is the loader before the limits: PyYAML's
safe composer, then a walk that builds plain data and the line of every path (aliases shared
by reference cost nothing to compose; it is walking them as a tree, as any validator does, that
multiplies them), on the same bomb cut to five and six levels, since seven take tens of seconds
and over a gigabyte. Also printed: the time to load a shipped flow, so the price of the
limits on a good file shows.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import yaml

from flows.spec import FlowSpecError, library_path, parse_flow


def bomb(levels: int) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def measure(run: Callable[[], Any], repeat: int = 1) -> tuple[float, float]:
    """The fastest of ``repeat`` calls in seconds, and the peak MB of Python memory (tracemalloc) of
    one more call."""
    elapsed = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        elapsed = min(elapsed, time.perf_counter() - started)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return elapsed, peak


def previous_loader(text: str) -> Any:
    """Plain data and the line of every path, as flows were read before the limits."""
    lines: dict[tuple[Any, ...], int] = {}
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return {build(k, (*path, "<key>")): build(v, (*path, str(k.value))) for k, v in node.value}
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return None if root is None else build(root, ())


def refuse(text: str) -> None:
    try:
        parse_flow(text, "bomb.yaml")
    except FlowSpecError:
        return
    raise AssertionError("the alias bomb was accepted")


def main() -> None:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}")
    nine = bomb(9)
    seconds, peak = measure(lambda: refuse(nine), repeat=20)
    print(
        f"parse_flow refuses the 9-level bomb ({len(nine)} bytes): "
        f"{seconds * 1000:.2f} ms, peak {peak:.2f} MB"
    )
    for levels in (5, 6):
        text = bomb(levels)
        base_seconds, base_peak = measure(functools.partial(previous_loader, text))
        print(
            f"baseline, the previous loader, {levels}-level bomb ({len(text)} bytes, {9**levels:,} strings): "
            f"{base_seconds * 1000:.1f} ms, peak {base_peak:,.0f} MB "
            f"({base_seconds / seconds:,.0f}x the refusal of the 9-level one)"
        )
    shipped = library_path("bant").read_text(encoding="utf-8")
    parse_seconds = measure(lambda: parse_flow(shipped, "bant.yaml"), repeat=5)[0]
    base = measure(lambda: yaml.safe_load(shipped), repeat=5)[0]
    print(
        f"a shipped flow (bant, {len(shipped.encode()):,} bytes): parse_flow {parse_seconds * 1000:.1f} ms "
        f"(read, validate, check), yaml.safe_load alone {base * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
