"""A loaded flow version compiled once: everything a turn needs from the spec, as attributes.

``compile_flow(spec)`` is called when the catalog loads a flow version (``flows.catalog``); the
engine, scoring and the simulator take the result instead of the spec. It holds:

- the flow's ``transitions`` machine (``flows.machine``), one per flow, never one per conversation;
- every condition as a predicate: each question's ``ask_if``, the flow-level knock-outs, the
  engagement signals, the tiers and the closings;
- per question: its place, the input it wants, which answers knock out, and what progress
  counts after it (the questions always asked later, and the ``ask_if`` of the others);
- the scoring plan: each dimension with its questions, and the questions without one;
- every text in every locale of the flow (``flows.texts.LocaleTexts``).

It is immutable and shared; nothing in it changes after it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flows.conditions import Predicate, fact_names, predicate
from flows.machine import FlowMachine, build_machine
from flows.model import InputHint
from flows.spec import REACH_KINDS, Dimension, EngagementSignal, FlowSpec, Question, QuestionKind, Tier
from flows.texts import LocaleTexts, locale_texts

_INPUT: dict[QuestionKind, InputHint] = {
    QuestionKind.NUMBER: "number",
    QuestionKind.MONEY: "money",
    QuestionKind.TIMELINE: "date",
    QuestionKind.EMAIL: "email",
    QuestionKind.PHONE: "tel",
    QuestionKind.NAME: "name",
}


@dataclass(frozen=True, slots=True)
class CompiledQuestion:
    """One question: its spec, its place in the flow and what is worked out from it.

    ``option_knockouts`` maps the options that knock out to their reason (in option order);
    ``band_knockouts`` tells whether any band does. ``always_after`` counts the later questions
    that have no ``ask_if``; ``maybe_after`` holds the ``ask_if`` of the others; ``is_contact``:
    a name, e-mail, phone or company question (the consent notice comes before the first);
    ``hidden``: the options understood when typed but never shown as buttons."""

    spec: Question
    id: str
    kind: QuestionKind
    index: int
    ask_if: Predicate | None
    input: InputHint
    multi: bool
    option_knockouts: Mapping[str, str]
    band_knockouts: bool
    always_after: int
    maybe_after: tuple[Predicate, ...]
    is_contact: bool
    hidden: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledSignal:
    """An engagement signal, its predicate and the facts it reads (named in the breakdown)."""

    spec: EngagementSignal
    when: Predicate
    facts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """One flow version, compiled (see the module docstring). ``knockouts`` are the flow-level
    ones, (reason, ``when``) in spec order; ``tiers`` pair each tier with its ``when`` (None
    without one); ``dimensions`` pair each dimension with its questions, in spec order;
    ``closings`` holds each closing's ``when`` (None without one), ``reach`` the e-mail and phone
    questions (a usable contact is an answer to one of them), ``nurture_if`` the predicate of
    ``scoring.nurture_if``."""

    spec: FlowSpec
    machine: FlowMachine
    questions: tuple[CompiledQuestion, ...]
    question_by_id: Mapping[str, CompiledQuestion]
    knockouts: tuple[tuple[str, Predicate], ...]
    engagement: tuple[CompiledSignal, ...]
    tiers: tuple[tuple[Tier, Predicate | None], ...]
    dimensions: tuple[tuple[Dimension, tuple[CompiledQuestion, ...]], ...]
    undimensioned: tuple[CompiledQuestion, ...]
    locales: Mapping[str, LocaleTexts]
    closings: tuple[Predicate | None, ...]
    reach: tuple[str, ...]
    nurture_if: Predicate | None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    def texts(self, locale: str) -> LocaleTexts:
        """Every text in ``locale``; a locale the flow does not have is worked out on each call,
        falling back as ``flows.spec.tr`` does."""
        found = self.locales.get(locale)
        return found if found is not None else locale_texts(self.spec, locale)


def _question(spec: FlowSpec, index: int, asks: Mapping[str, Predicate]) -> CompiledQuestion:
    question = spec.questions[index]
    later = spec.questions[index + 1 :]
    return CompiledQuestion(
        spec=question,
        id=question.id,
        kind=question.kind,
        index=index,
        ask_if=asks.get(question.id),
        input=_INPUT.get(question.kind, "text"),
        multi=question.kind is QuestionKind.MULTI_CHOICE,
        option_knockouts={o.id: o.knockout for o in question.options if o.knockout is not None},
        band_knockouts=any(b.knockout is not None for b in question.bands),
        always_after=sum(1 for q in later if q.ask_if is None),
        maybe_after=tuple(asks[q.id] for q in later if q.ask_if is not None),
        is_contact=question.is_contact,
        hidden=frozenset(o.id for o in question.options if o.hidden),
    )


def compile_flow(spec: FlowSpec) -> CompiledFlow:
    """Compile a validated spec (see the module docstring)."""
    asks = {q.id: predicate(q.ask_if, spec) for q in spec.questions if q.ask_if is not None}
    questions = tuple(_question(spec, index, asks) for index in range(len(spec.questions)))
    return CompiledFlow(
        spec=spec,
        machine=build_machine([q.id for q in spec.questions], asks),
        questions=questions,
        question_by_id={q.id: q for q in questions},
        knockouts=tuple((k.reason, predicate(k.when, spec)) for k in spec.knockouts if k.when is not None),
        engagement=tuple(
            CompiledSignal(s, predicate(s.when, spec), fact_names(s.when)) for s in spec.engagement
        ),
        tiers=tuple((t, None if t.when is None else predicate(t.when, spec)) for t in spec.scoring.tiers),
        dimensions=tuple(
            (dim, tuple(q for q in questions if q.spec.dimension == dim.id)) for dim in spec.dimensions
        ),
        undimensioned=tuple(q for q in questions if q.spec.dimension is None),
        locales={locale: locale_texts(spec, locale) for locale in spec.locales},
        closings=tuple(None if c.when is None else predicate(c.when, spec) for c in spec.closings),
        reach=tuple(q.id for q in spec.questions if q.kind in REACH_KINDS),
        nurture_if=None if spec.scoring.nurture_if is None else predicate(spec.scoring.nurture_if, spec),
    )
