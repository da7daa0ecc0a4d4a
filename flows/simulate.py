"""Simulating a flow: walk its answer paths and report what can and cannot happen.

``simulate(flow)`` answers every question the way a visitor could: each option (and, for a
multi-choice question, each option alone, all scoring options together and all options
together), a value inside each band (the middle of its range; an open end doubles or halves the
other), one well-formed answer for contact and text questions, "not understood" for every
question, and "skipped" for optional ones. It starts each path twice, as a cold visitor (no
facts) and as a warm one (facts that satisfy the engagement signals), and follows the engine's
rules, through the engine's own functions: the next question (``engine.next_question``), the
knock-outs (``engine.knockout_of``: an option or band with ``knockout``, a question's own
``knockout`` when it is not understood, a flow-level knock-out whose ``when`` holds) end the
path, and the closing shown (``engine.closing_index``). Every finished path is scored with
``flows.scoring``; the score the rules allow at most is ``scoring.highest_total``.

When the flow has at most ``limit`` paths all of them are walked; otherwise a deterministic
random sample of ``limit`` paths (seeded by ``seed``), plus every path that differs in one
answer from the best and the worst path found, repeated while that finds a better or worse one.

The report gives the paths walked, the score range, the fewest and most questions asked on a
path that was not knocked out, the stages, tiers and knock-outs reached
(with counts), the tiers declared but never reached, the closings never shown, the questions
never asked, and findings about knock-outs and thresholds that contradict each other. A stage's
closing without a tier and a ``when`` is the fallback the loader requires; it counts as shown
whenever its stage is reached (a knocked-out lead sees the knock-out text instead of it).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from flows.compiled import CompiledFlow
from flows.engine import closing_index, knockout_of, next_question
from flows.machine import DONE, NEW
from flows.model import JSON, Answer, ConversationState, Stage
from flows.scoring import Scored, highest_total, score_answers, scored
from flows.spec import BANDED_KINDS, Band, Condition, FlowSpec, Question, QuestionKind, tr

FACTS_NODE = "facts"
COLD, WARM = "cold", "warm"
NOT_UNDERSTOOD = "not_understood"
SKIPPED = "skipped"
MAX_ROUNDS = 10

# Facts the scoring derives itself; a profile never sets them.
_DERIVED_FACTS = frozenset({"answered_all", "hand_raise"})

# One well-formed answer per free-form kind: (typed text, stored value).
_SAMPLE_ANSWERS: dict[QuestionKind, tuple[str, str]] = {
    QuestionKind.NAME: ("Maria Ivanova", "Maria Ivanova"),
    QuestionKind.EMAIL: ("maria.ivanova@acme-industries.ru", "maria.ivanova@acme-industries.ru"),
    QuestionKind.PHONE: ("+7 495 123-45-67", "+74951234567"),
    QuestionKind.COMPANY: ("Acme Industries", "Acme Industries"),
    QuestionKind.TEXT: ("We keep our leads in spreadsheets", "We keep our leads in spreadsheets"),
}


@dataclass(frozen=True, slots=True)
class Branch:
    """One way to answer a question: a short key for reports and the answer it records."""

    key: str
    answer: Answer


@dataclass(frozen=True, slots=True)
class Finding:
    """A contradiction between knock-outs and thresholds, in words marketing reads."""

    code: str
    message: str

    def to_json(self) -> JSON:
        return {"code": self.code, "message": self.message}


Step = tuple[str, int, int]  # (question id or FACTS_NODE, branch index, branches at that node)


@dataclass(frozen=True, slots=True)
class PathResult:
    """One walked path: the answers given (``question=key``) and where it ended."""

    steps: tuple[tuple[str, str], ...]
    total: int
    stage: str
    tier: str | None
    knockout: str | None

    def describe(self) -> str:
        return ", ".join(f"{node}={key}" for node, key in self.steps)

    def to_json(self) -> JSON:
        return {
            "steps": [{"question": node, "answer": key} for node, key in self.steps],
            "total": self.total,
            "stage": self.stage,
            "tier": self.tier,
            "knockout": self.knockout,
        }


@dataclass(frozen=True, slots=True)
class SimulationReport:
    flow_id: str
    version: int
    questions: int
    paths: int
    exhaustive: bool
    limit: int
    seed: int
    min_score: int
    max_score: int
    upper_bound: int
    shortest: int
    longest: int
    stages: dict[str, int]
    tiers: dict[str, int]
    knockouts: dict[str, int]
    tiers_never_reached: tuple[str, ...]
    closings_never_shown: tuple[str, ...]
    questions_never_asked: tuple[str, ...]
    findings: tuple[Finding, ...]
    best: PathResult
    worst: PathResult

    @property
    def clean(self) -> bool:
        """True when nothing is unreachable and nothing contradicts."""
        unreachable = self.tiers_never_reached or self.closings_never_shown or self.questions_never_asked
        return not (unreachable or self.findings)

    def to_json(self) -> JSON:
        return {
            "flow_id": self.flow_id,
            "version": self.version,
            "questions": self.questions,
            "paths": self.paths,
            "exhaustive": self.exhaustive,
            "limit": self.limit,
            "seed": self.seed,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "upper_bound": self.upper_bound,
            "shortest": self.shortest,
            "longest": self.longest,
            "stages": self.stages,
            "tiers": self.tiers,
            "knockouts": self.knockouts,
            "tiers_never_reached": list(self.tiers_never_reached),
            "closings_never_shown": list(self.closings_never_shown),
            "questions_never_asked": list(self.questions_never_asked),
            "findings": [f.to_json() for f in self.findings],
            "best": self.best.to_json(),
            "worst": self.worst.to_json(),
        }


# --------------------------------------------------------------------------- answers to try


def band_value(band: Band) -> float:
    """A value inside ``band``: the middle of a closed range, else a step in from the open end."""
    low, high = band.min, band.max
    if low is not None and high is not None:
        return (low + high) / 2
    if low is not None:
        return low * 2 if low > 0 else low + 1
    if high is not None:
        return high / 2 if high > 0 else high - 1
    return 0.0


def _band_answer(spec: FlowSpec, question: Question, value: float, raw: str) -> Answer:
    if question.kind is QuestionKind.MONEY:
        return Answer(question.id, raw, {"min": value, "max": value, "currency": spec.currency})
    return Answer(question.id, raw, value)


def _multi_sets(question: Question) -> list[tuple[str, ...]]:
    singles = [(o.id,) for o in question.options]
    scoring = tuple(o.id for o in question.options if o.points > 0)
    everything = tuple(o.id for o in question.options if o.knockout is None)
    found: list[tuple[str, ...]] = []
    for ids in (*singles, scoring, everything):
        if ids and ids not in found:
            found.append(ids)
    return found


def _given_answers(spec: FlowSpec, question: Question, locale: str) -> Iterator[Branch]:
    qid = question.id
    kind = question.kind
    if kind is QuestionKind.MULTI_CHOICE:
        labels = {o.id: tr(o.label, locale) for o in question.options}
        for ids in _multi_sets(question):
            yield Branch("+".join(ids), Answer(qid, ", ".join(labels[i] for i in ids), list(ids)))
    elif kind is QuestionKind.YES_NO:
        labels = {o.id: tr(o.label, locale) for o in question.options}
        for oid in labels or ("yes", "no"):
            yield Branch(oid, Answer(qid, labels.get(oid, oid), oid == "yes"))
    elif kind is QuestionKind.CHOICE:
        for o in question.options:
            yield Branch(o.id, Answer(qid, tr(o.label, locale), [o.id]))
    elif kind in BANDED_KINDS:
        for index, band in enumerate(question.bands):
            value = band_value(band)
            raw = tr(band.label, locale) if band.label is not None else f"{value:g}"
            yield Branch(f"band:{index}", _band_answer(spec, question, value, raw))
        if not question.bands:
            yield Branch("answer", _band_answer(spec, question, 1.0, "1"))
    else:
        typed, stored = _SAMPLE_ANSWERS[kind]
        yield Branch("answer", Answer(qid, typed, stored))


def branches(spec: FlowSpec, question: Question) -> tuple[Branch, ...]:
    """Every way the simulation answers ``question`` (see the module docstring)."""
    locale = spec.locales[0]
    qid = question.id
    found = list(_given_answers(spec, question, locale))
    found.append(Branch(NOT_UNDERSTOOD, Answer(qid, "???", None, understood=False)))
    if not question.required:
        found.append(Branch(SKIPPED, Answer(qid, "", None, skipped=True)))
    return tuple(found)


def _satisfying(cond: Condition, into: dict[str, Any]) -> None:
    """Add facts that make a fact condition hold (first one wins for each fact)."""
    if cond.all is not None:
        for sub in cond.all:
            _satisfying(sub, into)
        return
    if cond.any is not None:
        if cond.any:
            _satisfying(cond.any[0], into)
        return
    if cond.fact is None or cond.fact in _DERIVED_FACTS or cond.fact in into:
        return
    value: Any = None
    if cond.equals is not None:
        value = cond.equals
    elif cond.in_:
        value = cond.in_[0]
    elif cond.gte is not None:
        value = cond.gte
    elif cond.gt is not None:
        value = cond.gt + 1
    elif cond.lte is not None:
        value = cond.lte
    elif cond.lt is not None:
        value = cond.lt - 1
    elif cond.answered:
        value = True
    if value is not None:
        into[cond.fact] = value


def profiles(spec: FlowSpec) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The visitors each path starts with: cold (no facts) and warm (every signal's facts)."""
    warm: dict[str, Any] = {}
    for signal in spec.engagement:
        _satisfying(signal.when, warm)
    if not warm:
        return ((COLD, {}),)
    return ((COLD, {}), (WARM, warm))


# --------------------------------------------------------------------------- walking


@dataclass(frozen=True, slots=True)
class _Leaf:
    steps: tuple[Step, ...]
    facts: dict[str, Any]
    answers: dict[str, Answer]
    knockout: str | None


Picker = Callable[[str, int], int]


class _Walker:
    """Walks answer paths the way the engine moves through a conversation, by its own rules.

    Paths share most of their answers, so the next question is asked of the engine
    (``engine.next_question``) once for each thing it can depend on: where the path is, the
    visitor profile (the facts), and the branches taken at the questions that the later
    ``ask_if`` conditions read (a condition reads nothing else)."""

    def __init__(self, flow: CompiledFlow) -> None:
        spec = flow.spec
        self.flow = flow
        self.questions = flow.questions
        self.branches = {q.id: branches(spec, q.spec) for q in flow.questions}
        self.profiles = profiles(spec)
        texts = flow.texts(spec.locales[0])
        self.scored: dict[str, tuple[Scored, ...]] = {
            q.id: tuple(scored(flow, q, b.answer, texts) for b in self.branches[q.id]) for q in flow.questions
        }
        self.reads = [
            tuple(sorted({qid for q in spec.questions[start:] if q.ask_if for qid in q.ask_if.questions()}))
            for start in range(len(spec.questions) + 1)
        ]
        self.asked: dict[tuple[int, int, tuple[int, ...]], int | None] = {}

    def next_index(
        self, start: int, profile: int, chosen: Mapping[str, int], answers: Mapping[str, Answer]
    ) -> int | None:
        """The index of the question asked after the first ``start`` ones (None at the end), on a
        path of this profile with these answers (``chosen``: their branch numbers)."""
        key = (start, profile, tuple(chosen.get(qid, -1) for qid in self.reads[start]))
        if key in self.asked:
            return self.asked[key]
        after = NEW if start == 0 else self.questions[start - 1].id
        target = next_question(self.flow, after, answers, self.profiles[profile][1])
        found = self.asked[key] = None if target == DONE else self.flow.question_by_id[target].index
        return found

    def knockout(
        self, index: int, number: int, answers: Mapping[str, Answer], facts: Mapping[str, Any]
    ) -> str | None:
        """The knock-out after answering question ``index`` with branch ``number``, if any."""
        question = self.questions[index]
        return knockout_of(self.flow, question, self.branches[question.id][number].answer, answers, facts)

    def all_paths(self) -> Iterator[_Leaf]:
        for index in range(len(self.profiles)):
            yield from self._descend(((FACTS_NODE, index, len(self.profiles)),), index, {}, {}, 0)

    def _descend(
        self,
        steps: tuple[Step, ...],
        profile: int,
        chosen: dict[str, int],
        answers: dict[str, Answer],
        start: int,
    ) -> Iterator[_Leaf]:
        facts = self.profiles[profile][1]
        index = self.next_index(start, profile, chosen, answers)
        if index is None:
            yield _Leaf(steps, facts, answers, None)
            return
        question = self.questions[index]
        options = self.branches[question.id]
        for number, branch in enumerate(options):
            now = {**answers, question.id: branch.answer}
            here = (*steps, (question.id, number, len(options)))
            reason = self.knockout(index, number, now, facts)
            if reason is not None:
                yield _Leaf(here, facts, now, reason)
            else:
                yield from self._descend(here, profile, {**chosen, question.id: number}, now, index + 1)

    def follow(self, pick: Picker) -> _Leaf:
        """The one path where ``pick(node, branches)`` chooses the branch at every node."""
        profile = pick(FACTS_NODE, len(self.profiles))
        facts = self.profiles[profile][1]
        steps: list[Step] = [(FACTS_NODE, profile, len(self.profiles))]
        chosen: dict[str, int] = {}
        answers: dict[str, Answer] = {}
        start = 0
        while True:
            index = self.next_index(start, profile, chosen, answers)
            if index is None:
                return _Leaf(tuple(steps), facts, answers, None)
            question = self.questions[index]
            options = self.branches[question.id]
            number = pick(question.id, len(options))
            chosen[question.id] = number
            answers[question.id] = options[number].answer
            steps.append((question.id, number, len(options)))
            reason = self.knockout(index, number, answers, facts)
            if reason is not None:
                return _Leaf(tuple(steps), facts, answers, reason)
            start = index + 1

    def key_of(self, node: str, number: int) -> str:
        if node == FACTS_NODE:
            return self.profiles[number][0]
        return self.branches[node][number].key


# --------------------------------------------------------------------------- the report


@dataclass
class _Tally:
    flow: CompiledFlow
    walker: _Walker
    seen: set[tuple[Step, ...]] = field(default_factory=set)
    stages: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    knockouts: Counter[str] = field(default_factory=Counter)
    asked: set[str] = field(default_factory=set)
    closings: set[int] = field(default_factory=set)
    best: tuple[PathResult, tuple[Step, ...]] | None = None
    worst: tuple[PathResult, tuple[Step, ...]] | None = None
    lengths: set[int] = field(default_factory=set)

    def add(self, leaf: _Leaf) -> bool:
        """Score and count a path; False when it was walked already."""
        if leaf.steps in self.seen:
            return False
        self.seen.add(leaf.steps)
        spec = self.flow.spec
        state = ConversationState(
            flow_id=spec.id,
            flow_version=spec.version,
            locale=spec.locales[0],
            state="done",
            answers=leaf.answers,
            path=tuple(node for node, _, _ in leaf.steps[1:]),
            facts=leaf.facts,
            knockout=leaf.knockout,
        )
        answers = {node: self.walker.scored[node][number] for node, number, _ in leaf.steps[1:]}
        result = score_answers(self.flow, state, answers, self.flow.texts(state.locale))
        stage = result.stage.value
        self.stages[stage] += 1
        if result.tier is not None:
            self.tiers[result.tier] += 1
        if leaf.knockout is not None:
            self.knockouts[leaf.knockout] += 1
        else:
            self.lengths.add(len(state.path))
            shown = closing_index(self.flow, stage, result.tier, leaf.answers, leaf.facts)
            if shown is not None:
                self.closings.add(shown)
        self.asked.update(state.path)
        better = self.best is None or result.total > self.best[0].total
        worse = self.worst is None or result.total < self.worst[0].total
        if better or worse:
            path = PathResult(
                steps=tuple((node, self.walker.key_of(node, number)) for node, number, _ in leaf.steps),
                total=result.total,
                stage=stage,
                tier=result.tier,
                knockout=leaf.knockout,
            )
            if better:
                self.best = (path, leaf.steps)
            if worse:
                self.worst = (path, leaf.steps)
        return True

    def extremes(self) -> tuple[tuple[PathResult, tuple[Step, ...]], tuple[PathResult, tuple[Step, ...]]]:
        """The best and the worst path so far (every flow has at least one path)."""
        if self.best is None or self.worst is None:
            raise ValueError("no path was walked")
        return self.best, self.worst


class _Trie:
    """The paths walked so far, as a tree of branch numbers, and which subtrees are used up."""

    __slots__ = ("children", "done")

    def __init__(self) -> None:
        self.children: dict[int, _Trie] = {}
        self.done: set[int] = set()


class _Sampler:
    """Random walks that never repeat a path: each step picks among the branches that still
    have unwalked paths below them, so every walk finds a new path until all are walked."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.root = _Trie()
        self.root_width: int | None = None

    @property
    def exhausted(self) -> bool:
        return self.root_width is not None and len(self.root.done) >= self.root_width

    def walk(self, walker: _Walker) -> _Leaf:
        trail: list[tuple[_Trie, int, int]] = []
        cursor = self.root

        def pick(_: str, width: int) -> int:
            nonlocal cursor
            if self.root_width is None:
                self.root_width = width
            open_ = [n for n in range(width) if n not in cursor.done]
            number = self.rng.choice(open_)
            trail.append((cursor, number, width))
            cursor = cursor.children.setdefault(number, _Trie())
            return number

        leaf = walker.follow(pick)
        for node, number, width in reversed(trail):
            node.done.add(number)
            node.children.pop(number, None)
            if len(node.done) < width:
                break
        return leaf


def _deviations(walker: _Walker, steps: tuple[Step, ...]) -> Iterator[_Leaf]:
    """Every path that answers one node differently from ``steps`` and the rest the same."""
    chosen = {node: number for node, number, _ in steps}
    for node, number, width in steps:
        for other in range(width):
            if other == number:
                continue

            def pick(at: str, n: int, node: str = node, other: int = other) -> int:
                if at == node:
                    return other
                wanted = chosen.get(at, 0)
                return wanted if wanted < n else 0

            yield walker.follow(pick)


def _referenced_reasons(spec: FlowSpec) -> set[str]:
    found = {k.reason for k in spec.knockouts if k.when is not None}
    for q in spec.questions:
        if q.knockout is not None:
            found.add(q.knockout)
        found.update(o.knockout for o in q.options if o.knockout is not None)
        found.update(b.knockout for b in q.bands if b.knockout is not None)
    return found


def _findings(flow: CompiledFlow, tally: _Tally, paths: int, exhaustive: bool) -> list[Finding]:
    spec = flow.spec
    found: list[Finding] = []
    never = "can never" if exhaustive else f"did not in any of the {paths} sampled paths"
    for q in spec.questions:
        for o in q.options:
            if o.knockout is not None and o.points > 0:
                found.append(
                    Finding(
                        "knockout_with_points",
                        f"{q.id}: option {o.id!r} knocks out ({o.knockout}) but also gives {o.points} points",
                    )
                )
        for index, b in enumerate(q.bands):
            if b.knockout is not None and b.points > 0:
                found.append(
                    Finding(
                        "knockout_with_points",
                        f"{q.id}: band {index} knocks out ({b.knockout}) but also gives {b.points} points",
                    )
                )
    referenced = _referenced_reasons(spec)
    for k in spec.knockouts:
        if k.reason not in referenced:
            found.append(
                Finding(
                    "knockout_never_fires",
                    f"knock-out {k.reason!r} can never fire: no option, band, question or when uses it",
                )
            )
        elif not tally.knockouts[k.reason]:
            found.append(Finding("knockout_never_fires", f"knock-out {k.reason!r} {never} fire"))

    rules = spec.scoring
    top = highest_total(flow, with_knockouts=True)
    top_clean = highest_total(flow, with_knockouts=False)
    reached_mql = tally.stages[Stage.MQL.value] + tally.stages[Stage.SQL.value]
    if rules.mql > top:
        found.append(
            Finding(
                "mql_unreachable",
                f"the MQL threshold {rules.mql} is above the highest possible score {top}",
            )
        )
    elif rules.mql > top_clean:
        found.append(
            Finding(
                "mql_only_through_knockout",
                (
                    f"the MQL threshold {rules.mql} is only reachable through answers that knock out "
                    f"(without them the score is at most {top_clean})"
                ),
            )
        )
    elif not reached_mql:
        found.append(Finding("mql_unreachable", f"MQL ({rules.mql}) {never} be reached"))
    if rules.sql.score is not None and rules.sql.score > top:
        found.append(
            Finding(
                "sql_above_max",
                f"the SQL threshold {rules.sql.score} is above the highest possible score {top}",
            )
        )
    elif rules.sql.score is not None and rules.sql.score > top_clean:
        found.append(
            Finding(
                "sql_only_through_knockout",
                (
                    f"the SQL threshold {rules.sql.score} is only reachable through answers that knock out "
                    f"(without them the score is at most {top_clean})"
                ),
            )
        )
    elif reached_mql and not tally.stages[Stage.SQL.value]:
        found.append(Finding("sql_unreachable", f"SQL {never} be reached"))
    return found


def _label(spec: FlowSpec, index: int) -> str:
    c = spec.closings[index]
    return f"closings[{index}] ({c.stage}{'/' + c.tier if c.tier else ''})"


def simulate(flow: CompiledFlow, *, limit: int = 20000, seed: int = 0) -> SimulationReport:
    """Walk the answer paths of ``flow`` and report what they reach (see the module docstring)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    spec = flow.spec
    walker = _Walker(flow)
    tally = _Tally(flow, walker)
    first = list(islice(walker.all_paths(), limit + 1))
    exhaustive = len(first) <= limit
    if exhaustive:
        for leaf in first:
            tally.add(leaf)
    else:
        sampler = _Sampler(random.Random(seed))
        while len(tally.seen) < limit and not sampler.exhausted:
            tally.add(sampler.walk(walker))
        for _ in range(MAX_ROUNDS):
            best, worst = tally.extremes()
            for base in (best[1], worst[1]):
                for leaf in _deviations(walker, base):
                    tally.add(leaf)
            after_best, after_worst = tally.extremes()
            if (after_best[0].total, after_worst[0].total) == (best[0].total, worst[0].total):
                break
    best, worst = tally.extremes()
    paths = len(tally.seen)

    declared_tiers = [t.tier for t in spec.scoring.tiers]
    reached_stages = set(tally.stages)
    unshown = []
    for index, c in enumerate(spec.closings):
        if index in tally.closings:
            continue
        if c.tier is None and c.when is None and c.stage in reached_stages:
            continue
        unshown.append(_label(spec, index))
    return SimulationReport(
        flow_id=spec.id,
        version=spec.version,
        questions=len(spec.questions),
        paths=paths,
        exhaustive=exhaustive,
        limit=limit,
        seed=seed,
        min_score=worst[0].total,
        max_score=best[0].total,
        upper_bound=highest_total(flow),
        shortest=min(tally.lengths, default=0),
        longest=max(tally.lengths, default=0),
        stages={s.value: tally.stages[s.value] for s in Stage if tally.stages[s.value]},
        tiers={t: tally.tiers[t] for t in declared_tiers if tally.tiers[t]},
        knockouts={k.reason: tally.knockouts[k.reason] for k in spec.knockouts if tally.knockouts[k.reason]},
        tiers_never_reached=tuple(t for t in declared_tiers if not tally.tiers[t]),
        closings_never_shown=tuple(unshown),
        questions_never_asked=tuple(q.id for q in spec.questions if q.id not in tally.asked),
        findings=tuple(_findings(flow, tally, paths, exhaustive)),
        best=best[0],
        worst=worst[0],
    )
