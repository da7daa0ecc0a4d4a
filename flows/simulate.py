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
random sample of ``limit`` paths (seeded by ``seed``), then a climb from the sample's nearest
path to each thing the report looks for (the best and the worst path; the lowest score with a
hand raised; the highest with no e-mail or phone, with no phone, and with each budget question
in its lowest band): every path that differs in one answer from it, repeated while that finds a
nearer one.

The report gives the paths walked, the score range, the fewest and most questions asked on a
path that was not knocked out, the stages, tiers and knock-outs reached
(with counts), the tiers declared but never reached, the closings never shown, the questions
never asked, and findings (problems): knock-outs and thresholds that contradict each other, and
what paths that are not knocked out show, each with how many paths and the first of them:

- ``hand_raise_below_mql``: an answer raised a hand (``Score.hand_raise``) and the lead ends as
  nurture (unless ``scoring.contact_required`` held it back for want of an e-mail or phone:
  nobody could call back);
- ``no_contact``: the lead ends as mql or sql with no e-mail or phone given (understood, not
  skipped);
- ``call_without_phone``: the closing shown (``engine.closing_index``) has ``promises_call`` and
  no phone was given;
- ``top_tier_with_lowest_budget``: the lead reaches the top tier (A, when the flow has two or
  more) with a budget question (``Question.is_budget``) answered in its lowest band that does
  not knock out (when it has two or more such bands).

A stage's closing without a tier and a ``when`` is the fallback the loader requires; it counts as
shown whenever its stage is reached (a knocked-out lead sees the knock-out text instead of it).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from flows.compiled import CompiledFlow
from flows.conditions import is_answered
from flows.engine import closing_index, knockout_of, next_question
from flows.machine import DONE, NEW
from flows.model import JSON, Answer, ConversationState, Stage
from flows.scoring import Scored, highest_total, score_answers, scored
from flows.spec import BANDED_KINDS, REACH_KINDS, Band, Condition, FlowSpec, Question, QuestionKind, tr

FACTS_NODE = "facts"
COLD, WARM = "cold", "warm"
NOT_UNDERSTOOD = "not_understood"
SKIPPED = "skipped"
MAX_ROUNDS = 10

# The stages handed to sales.
_QUALIFIED = (Stage.MQL.value, Stage.SQL.value)

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
class Finding:
    """A problem of the flow, in words marketing reads; for a problem some paths show, how many
    of the walked paths show it (``paths``) and the first of them (``path``)."""

    code: str
    message: str
    paths: int = 0
    path: PathResult | None = None

    def to_json(self) -> JSON:
        found: JSON = {"code": self.code, "message": self.message}
        if self.path is not None:
            found["paths"] = self.paths
            found["path"] = self.path.to_json()
        return found


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


_CONTACT, _PHONE, _LOWEST = 1, 2, 4


def _marks(question: Question, branch: Branch, lowest: int | None) -> int:
    """What answering ``question`` with ``branch`` gives: an e-mail or phone (``_CONTACT``), a
    phone (``_PHONE``), a budget in its lowest band (``_LOWEST``, when ``lowest`` is its index)."""
    found = 0
    if question.kind in REACH_KINDS and is_answered(branch.answer):
        found |= _CONTACT | (_PHONE if question.kind is QuestionKind.PHONE else 0)
    if lowest is not None and branch.key == f"band:{lowest}":
        found |= _LOWEST
    return found


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
        # For the questions that can give a contact or a small budget: what each branch gives.
        self.top_tier = top_tier(spec)
        lowest = lowest_bands(spec)
        self.marks: dict[str, tuple[int, ...]] = {}
        for q in flow.questions:
            if q.kind in REACH_KINDS or q.id in lowest:
                self.marks[q.id] = tuple(_marks(q.spec, b, lowest.get(q.id)) for b in self.branches[q.id])
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


class _Outcome(NamedTuple):
    """What one walked path shows the checks."""

    total: int
    stage: str
    tier: str | None
    knockout: str | None
    hand: bool  # an answer raised a hand
    contact: bool  # an e-mail or a phone was given
    phone: bool  # a phone was given
    lowest: tuple[str, ...]  # the money questions answered in their lowest band
    closing: int | None  # the closing shown (None for a knock-out)


Eligible = Callable[[_Outcome], bool]


@dataclass
class _Search:
    """The highest (``sign`` 1) or lowest (-1) scoring path among those ``eligible`` takes, so
    far; a sample climbs from it one changed answer at a time."""

    eligible: Eligible
    sign: int
    found: tuple[int, tuple[Step, ...], _Outcome] | None = None

    def offer(self, outcome: _Outcome, steps: tuple[Step, ...]) -> None:
        if self.eligible(outcome) and (self.found is None or (outcome.total - self.found[0]) * self.sign > 0):
            self.found = (outcome.total, steps, outcome)


ProblemKey = tuple[str, str]  # (code, what it is about: a closing's index, a question id, or "")


@dataclass
class _Tally:
    flow: CompiledFlow
    walker: _Walker
    searches: tuple[_Search, ...]
    seen: set[tuple[Step, ...]] = field(default_factory=set)
    stages: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    knockouts: Counter[str] = field(default_factory=Counter)
    asked: set[str] = field(default_factory=set)
    closings: set[int] = field(default_factory=set)
    lengths: set[int] = field(default_factory=set)
    problems: dict[ProblemKey, tuple[int, PathResult]] = field(default_factory=dict)

    def add(self, leaf: _Leaf) -> bool:
        """Score, count and check a path; False when it was walked already."""
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
        walker = self.walker
        answers = {node: walker.scored[node][number] for node, number, _ in leaf.steps[1:]}
        result = score_answers(self.flow, state, answers, self.flow.texts(state.locale), headline=False)
        stage = result.stage.value
        self.stages[stage] += 1
        if result.tier is not None:
            self.tiers[result.tier] += 1
        shown = None
        if leaf.knockout is not None:
            self.knockouts[leaf.knockout] += 1
        else:
            self.lengths.add(len(state.path))
            shown = closing_index(self.flow, stage, result.tier, leaf.answers, leaf.facts)
            if shown is not None:
                self.closings.add(shown)
        self.asked.update(state.path)
        gives = 0
        lowest: list[str] = []
        for node, number, _ in leaf.steps[1:]:
            marks = walker.marks.get(node)
            if marks is not None:
                gives |= marks[number]
                if marks[number] & _LOWEST:
                    lowest.append(node)
        outcome = _Outcome(
            total=result.total,
            stage=stage,
            tier=result.tier,
            knockout=leaf.knockout,
            hand=result.hand_raise,
            contact=bool(gives & _CONTACT),
            phone=bool(gives & _PHONE),
            lowest=tuple(lowest),
            closing=shown,
        )
        for search in self.searches:
            search.offer(outcome, leaf.steps)
        for key in _problems(self.flow, walker.top_tier, outcome):
            count, example = self.problems.get(key) or (0, None)
            self.problems[key] = (count + 1, example or self.path_result(leaf.steps, outcome))
        return True

    def path_result(self, steps: tuple[Step, ...], outcome: _Outcome) -> PathResult:
        return PathResult(
            steps=tuple((node, self.walker.key_of(node, number)) for node, number, _ in steps),
            total=outcome.total,
            stage=outcome.stage,
            tier=outcome.tier,
            knockout=outcome.knockout,
        )

    def extreme(self, search: _Search) -> PathResult:
        """The path a search found (the best and the worst searches take every path, and every
        flow has at least one)."""
        if search.found is None:
            raise ValueError("no path was walked")
        _, steps, outcome = search.found
        return self.path_result(steps, outcome)


def top_tier(spec: FlowSpec) -> str | None:
    """The highest tier (A before B) when the flow declares two tiers or more."""
    declared = sorted({t.tier for t in spec.scoring.tiers})
    return declared[0] if len(declared) > 1 else None


def lowest_bands(spec: FlowSpec) -> dict[str, int]:
    """For each budget question (``Question.is_budget``) with two bands or more that do not knock
    out: the index of the lowest of them (a small budget)."""
    found = {}
    for q in spec.questions:
        if not q.is_budget:
            continue
        usable = [(i, b) for i, b in enumerate(q.bands) if b.knockout is None]
        if len(usable) > 1:
            found[q.id] = min(usable, key=lambda ib: -math.inf if ib[1].min is None else ib[1].min)[0]
    return found


def _problems(flow: CompiledFlow, top: str | None, outcome: _Outcome) -> Iterator[ProblemKey]:
    """The problems one path shows (see the module docstring)."""
    if outcome.knockout is not None:
        return
    contact_required = flow.spec.scoring.contact_required
    if outcome.hand and outcome.stage == Stage.NURTURE.value and (outcome.contact or not contact_required):
        yield "hand_raise_below_mql", ""
    if outcome.stage in _QUALIFIED and not outcome.contact:
        yield "no_contact", ""
    if (
        outcome.closing is not None
        and flow.spec.closings[outcome.closing].promises_call
        and not outcome.phone
    ):
        yield "call_without_phone", str(outcome.closing)
    if outcome.lowest and outcome.tier is not None and outcome.tier == top:
        for qid in outcome.lowest:
            yield "top_tier_with_lowest_budget", qid


def _searches(spec: FlowSpec) -> tuple[_Search, ...]:
    """The best and the worst path, and the paths nearest to each problem: the lowest score with
    a hand raised, the highest with no contact, with no phone, and with each lowest budget band."""
    found = [
        _Search(lambda _: True, 1),
        _Search(lambda _: True, -1),
        _Search(lambda o: o.hand and o.knockout is None, -1),
        _Search(lambda o: not o.contact and o.knockout is None, 1),
    ]
    if any(c.promises_call for c in spec.closings):
        found.append(_Search(lambda o: not o.phone and o.knockout is None, 1))
    found.extend(_Search(_in_lowest_band(qid), 1) for qid in lowest_bands(spec))
    return tuple(found)


def _in_lowest_band(qid: str) -> Eligible:
    return lambda o: qid in o.lowest and o.knockout is None


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
    found.extend(_path_findings(flow, tally))
    return found


_PROBLEM_ORDER = ("hand_raise_below_mql", "no_contact", "call_without_phone", "top_tier_with_lowest_budget")


def _band_words(spec: FlowSpec, question: Question, index: int) -> str:
    band = question.bands[index]
    if band.label is not None:
        return tr(band.label, spec.locales[0])
    low = "" if band.min is None else f"from {band.min:g} "
    high = "" if band.max is None else f"under {band.max:g} "
    return f"{low}{high}{spec.currency}"


def _path_findings(flow: CompiledFlow, tally: _Tally) -> Iterator[Finding]:
    """The problems some walked paths show, each with how many and the first of them."""
    spec = flow.spec
    asked = [q.id for q in spec.questions if q.kind in REACH_KINDS]
    lowest = lowest_bands(spec)

    def order(key: ProblemKey) -> tuple[int, int]:
        code, about = key
        where = int(about) if about.isdigit() else spec.question_index.get(about, -1)
        return _PROBLEM_ORDER.index(code), where

    for key in sorted(tally.problems, key=order):
        code, about = key
        count, path = tally.problems[key]
        on = f"{count} path{'' if count == 1 else 's'}"
        if code == "hand_raise_below_mql":
            message = (
                f"a hand raised ends as nurture (below MQL {spec.scoring.mql}) on {on}: "
                "sales never calls back someone who asked for it"
            )
        elif code == "no_contact":
            contacts = f"asked: {', '.join(asked)}" if asked else "the flow asks for neither"
            message = (
                f"{on} end as mql or sql with no e-mail or phone given ({contacts}): "
                "nobody can reach the lead"
            )
        elif code == "call_without_phone":
            message = f"{_label(spec, int(about))} promises a call, and {on} show it with no phone given"
        else:
            question = spec.question_by_id[about]
            message = (
                f"tier {path.tier} is reached with the lowest band of {about!r} "
                f"({_band_words(spec, question, lowest[about])}) on {on}: a small budget should cap the tier"
            )
        yield Finding(code, message, count, path)


def _label(spec: FlowSpec, index: int) -> str:
    c = spec.closings[index]
    return f"closings[{index}] ({c.stage}{'/' + c.tier if c.tier else ''})"


def simulate(flow: CompiledFlow, *, limit: int = 20000, seed: int = 0) -> SimulationReport:
    """Walk the answer paths of ``flow`` and report what they reach (see the module docstring)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    spec = flow.spec
    walker = _Walker(flow)
    searches = _searches(spec)
    tally = _Tally(flow, walker, searches)
    first = list(islice(walker.all_paths(), limit + 1))
    exhaustive = len(first) <= limit
    if exhaustive:
        for leaf in first:
            tally.add(leaf)
    else:
        sampler = _Sampler(random.Random(seed))
        while len(tally.seen) < limit and not sampler.exhausted:
            tally.add(sampler.walk(walker))
        for search in searches:
            for _ in range(MAX_ROUNDS):
                if search.found is None:
                    break
                before, steps, _ = search.found
                for leaf in _deviations(walker, steps):
                    tally.add(leaf)
                if search.found[0] == before:
                    break
    best, worst = tally.extreme(searches[0]), tally.extreme(searches[1])
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
        min_score=worst.total,
        max_score=best.total,
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
        best=best,
        worst=worst,
    )
