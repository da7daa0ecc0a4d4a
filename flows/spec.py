"""Flow specs: the YAML files marketing edits, validated into frozen pydantic models.

A flow names its dimensions (with weights that add up to the fit part of the score), its
questions (each feeding one dimension), knock-outs, engagement signals, thresholds, tiers and
closing messages. ``load_flow`` turns a file into a ``FlowSpec`` or raises ``FlowSpecError`` whose
``problems`` name the file, line and field of every mistake found, so ``qualibot flows check``
can print them all at once. The format is documented in the README ("Flow file format").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from flows.commands import command_of
from flows.extract.text import fold
from flows.iso4217 import CURRENCIES
from flows.model import Inbound
from flows.safeyaml import LIMITS, Path_, YamlProblem, read_yaml

# Limits on what a flow holds. Numbers: what the database stores (PostgreSQL ``integer``) and
# what a float keeps exact; sizes: what a conversation can use, with room to spare (the state
# machine grows with the square of the questions; a chat shows a few buttons at a time).
INT32_MAX = 2**31 - 1
MAX_POINTS = 100  # a dimension's weight and the total are at most 100
MAX_NUMBER = 10**15  # band bounds and compared numbers (a float is exact to 2**53)
MAX_RATE = 10**9
MAX_LOCALES = 20
MAX_DIMENSIONS = 50
MAX_QUESTIONS = 100
MAX_OPTIONS = 50
MAX_BANDS = 50
MAX_SYNONYMS = 100  # per option and locale
MAX_LINK = 2000
MAX_NOTICE = 300  # the consent notice: one line
MAX_ENTRIES = 100  # knock-outs, engagement signals, closings, tiers, exchange rates, condition lists

_WORDS = re.compile(r"\w+")

Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Number = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER, allow_inf_nan=False)]
Rate = Annotated[float, Field(gt=0, le=MAX_RATE, allow_inf_nan=False)]


def _scalar(value: Any) -> Any:
    """One plain value for a condition to compare: checked here, so a wrong one is one problem
    instead of one per type the value could have been."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if not isinstance(value, str | int | float | bool):
        raise ValueError("must be text, a number or true/false")
    return value


Scalar = Annotated[str | int | float | bool, BeforeValidator(_scalar)]


def _localized(value: Any) -> Any:
    """A plain string means the same text in every locale."""
    if isinstance(value, str):
        return {"*": value}
    return value


Localized = Annotated[dict[str, str], BeforeValidator(_localized)]


def tr(text: Mapping[str, str], locale: str) -> str:
    """The text in ``locale``; falls back to the any-locale text, then to any text at all."""
    found = text.get(locale) or text.get("*")
    if found is not None:
        return found
    return next(iter(text.values()), "")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuestionKind(StrEnum):
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    NUMBER = "number"
    MONEY = "money"
    TIMELINE = "timeline"
    EMAIL = "email"
    PHONE = "phone"
    TEXT = "text"
    NAME = "name"
    COMPANY = "company"


CHOICE_KINDS = frozenset({QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE, QuestionKind.YES_NO})
BANDED_KINDS = frozenset({QuestionKind.NUMBER, QuestionKind.MONEY, QuestionKind.TIMELINE})
CONTACT_KINDS = frozenset({QuestionKind.EMAIL, QuestionKind.PHONE, QuestionKind.NAME, QuestionKind.COMPANY})
REACH_KINDS = frozenset({QuestionKind.EMAIL, QuestionKind.PHONE})  # how sales can get back to a lead


class Condition(_Model):
    """A test on an earlier answer (``question``) or an engagement fact (``fact``), or a
    combination (``all`` / ``any`` / ``not``). Choice answers compare option ids; money compares
    the amount in the flow currency (range midpoint); timelines compare days.
    An unanswered or not-understood question matches nothing but ``answered: false``."""

    question: str | None = None
    fact: str | None = None
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", max_length=MAX_ENTRIES)
    not_in: list[Scalar] | None = Field(default=None, max_length=MAX_ENTRIES)
    gte: Number | None = None
    gt: Number | None = None
    lte: Number | None = None
    lt: Number | None = None
    answered: bool | None = None
    all: list[Condition] | None = Field(default=None, max_length=MAX_ENTRIES)
    any: list[Condition] | None = Field(default=None, max_length=MAX_ENTRIES)
    not_: Condition | None = Field(default=None, alias="not")

    def questions(self) -> Iterator[str]:
        """Every question id this condition reads, nested ones included."""
        if self.question:
            yield self.question
        for sub in (*(self.all or ()), *(self.any or ()), *((self.not_,) if self.not_ else ())):
            yield from sub.questions()


class Option(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    label: Localized
    synonyms: dict[str, Annotated[list[str], Field(max_length=MAX_SYNONYMS)]] = Field(
        default_factory=dict, max_length=MAX_LOCALES
    )
    points: Points = 0
    knockout: str | None = None
    hand_raise: bool = False
    hidden: bool = False
    reason: Localized | None = None


class Band(_Model):
    """A numeric range: ``min`` inclusive, ``max`` exclusive; either end may be open.
    Money bands are in the flow currency, timeline bands in days. A band with a ``label`` is
    also offered as a button."""

    min: Number | None = None
    max: Number | None = None
    points: Points = 0
    label: Localized | None = None
    knockout: str | None = None
    hand_raise: bool = False
    reason: Localized | None = None

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value < self.max)


class Question(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    kind: QuestionKind
    dimension: str | None = None
    text: Localized
    hint: Localized | None = None
    required: bool = True
    options: list[Option] = Field(default_factory=list, max_length=MAX_OPTIONS)
    bands: list[Band] = Field(default_factory=list, max_length=MAX_BANDS)
    points: Points = 0
    ask_if: Condition | None = None
    knockout: str | None = None
    reason: Localized | None = None
    budget: bool | None = None

    @property
    def is_contact(self) -> bool:
        return self.kind in CONTACT_KINDS

    @property
    def is_budget(self) -> bool:
        """A money question asks for the lead's budget unless it says ``budget: false`` (a cost,
        a loss: an amount the lead will not spend)."""
        return self.kind is QuestionKind.MONEY and self.budget is not False

    @cached_property
    def option_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.options)

    @cached_property
    def max_points(self) -> int:
        """The most points this question can give (never below 0)."""
        return self.most_points(with_knockouts=True)

    def most_points(self, *, with_knockouts: bool) -> int:
        """The most points this question can give, optionally leaving out the answers that knock
        out (never below 0): its best option or band (a multi-choice question: all its options
        with points), else its own ``points``, the way ``flows.scoring`` counts them."""
        options = [o for o in self.options if with_knockouts or o.knockout is None]
        bands = [b for b in self.bands if with_knockouts or b.knockout is None]
        if self.kind is QuestionKind.MULTI_CHOICE:
            return max(0, sum(o.points for o in options if o.points > 0))
        if self.options or self.bands:
            return max(0, *(o.points for o in options), *(b.points for b in bands))
        return max(0, self.points)


class Dimension(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    title: Localized
    weight: int = Field(ge=0, le=100)
    confirm_at: int | None = Field(default=None, ge=1)

    @property
    def confirm_threshold(self) -> int:
        """Points at which the dimension counts as confirmed (N of M); default: half the weight."""
        return self.confirm_at if self.confirm_at is not None else max(1, (self.weight + 1) // 2)


class Knockout(_Model):
    reason: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    when: Condition | None = None
    text: Localized


class EngagementSignal(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    when: Condition
    points: Points
    reason: Localized


class SqlRule(_Model):
    """SQL = MQL and (score >= ``score`` or a hand-raise answer, if ``hand_raise``) or, in N-of-M
    mode, ``confirmed`` dimensions confirmed."""

    score: int | None = Field(default=None, ge=0, le=100)
    hand_raise: bool = True
    confirmed: int | None = Field(default=None, ge=1)


class Confirmed(_Model):
    """N-of-M mode: a lead is an MQL only when ``need`` of the ``of`` dimensions are confirmed."""

    need: int = Field(ge=1)
    of: list[str] | None = None


class Tier(_Model):
    tier: str = Field(pattern=r"^[A-Z]$")
    min: int = Field(default=0, ge=0, le=100)
    when: Condition | None = None


class Junk(_Model):
    """Points (negative) taken off for each junk signal; 0 switches a signal off."""

    lowercase_name: int = Field(default=-5, ge=-MAX_POINTS, le=0)
    free_email: int = Field(default=-5, ge=-MAX_POINTS, le=0)
    disposable_email: int = Field(default=-20, ge=-MAX_POINTS, le=0)
    gibberish: int = Field(default=-10, ge=-MAX_POINTS, le=0)


class Scoring(_Model):
    """``hand_raise_mql``: a lead who raised a hand is at least an MQL, whatever the score;
    ``contact_required``: no MQL or SQL without an understood e-mail or phone answer;
    ``nurture_if``: a lead for whom it holds ("budget not formed yet") is nurtured, or an MQL at
    most when they raised a hand."""

    fit: int = Field(default=80, ge=0, le=100)
    engagement: int = Field(default=20, ge=0, le=100)
    mql: int = Field(ge=0, le=100)
    sql: SqlRule = Field(default_factory=SqlRule)
    hand_raise_mql: bool = True
    contact_required: bool = False
    nurture_if: Condition | None = None
    confirmed: Confirmed | None = None
    tiers: list[Tier] = Field(default_factory=list, max_length=MAX_ENTRIES)
    junk: Junk = Field(default_factory=Junk)


Outcome = Literal["disqualified", "nurture", "mql", "sql"]


class Closing(_Model):
    """The goodbye of an outcome: the first closing whose stage and tier match and whose
    ``when`` holds on the answers and facts is shown. ``promises_call``: the text says someone
    will call, so it may only be shown to a lead who gave a phone (the loader wants a phone
    question in the flow; ``qualibot flows simulate`` reports every path that shows it without
    a phone)."""

    stage: Outcome
    tier: str | None = None
    when: Condition | None = None
    text: Localized
    promises_call: bool = False


class Consent(_Model):
    """The one-line notice shown before the first contact question (152-ФЗ, GDPR): ``text`` per
    locale with ``{link}`` where the address of the policy goes."""

    text: Localized
    link: str = Field(max_length=MAX_LINK)


class FlowSpec(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    version: int = Field(ge=1, le=INT32_MAX)
    framework: str
    title: Localized
    locales: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]] = Field(
        min_length=1, max_length=MAX_LOCALES
    )
    greeting: Localized
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")
    exchange_rates: dict[str, Rate] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    dimensions: list[Dimension] = Field(min_length=1, max_length=MAX_DIMENSIONS)
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)
    knockouts: list[Knockout] = Field(default_factory=list, max_length=MAX_ENTRIES)
    engagement: list[EngagementSignal] = Field(default_factory=list, max_length=MAX_ENTRIES)
    scoring: Scoring
    closings: list[Closing] = Field(min_length=1, max_length=MAX_ENTRIES)
    consent: Consent | None = None

    @cached_property
    def question_by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    @cached_property
    def question_index(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}

    @cached_property
    def dimension_by_id(self) -> dict[str, Dimension]:
        return {d.id: d for d in self.dimensions}

    @cached_property
    def knockout_by_reason(self) -> dict[str, Knockout]:
        return {k.reason: k for k in self.knockouts}


# --------------------------------------------------------------------------- loading and errors


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a flow file: where it is and what is wrong, in words marketing reads."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class FlowSpecError(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _field_name(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _line_of(path: Path_, lines: Mapping[Path_, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None


def parse_flow(text: str, file: str = "<flow>") -> FlowSpec:
    """Parse and validate flow YAML; every problem found is reported with its line.

    The YAML is read within :data:`flows.safeyaml.LIMITS` (size, nesting, aliases, plain values
    only); a file that crosses one is reported as one problem at once."""
    try:
        data, lines = read_yaml(text)
    except YamlProblem as exc:
        raise FlowSpecError([Problem(file, exc.line, _field_name(exc.path), exc.message)]) from None
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"the single value {str(data)[:40]!r}"
        raise FlowSpecError(
            [Problem(file, 1, "", f"is {what}; a flow file is a mapping (id:, version:, ...)")]
        )
    try:
        spec = FlowSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            message = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(file, _line_of(path, lines), _field_name(path), message))
        raise FlowSpecError(problems) from None
    found = [
        Problem(file, _line_of(path, lines), _field_name(path), message)
        for path, message in check_semantics(spec)
    ]
    if found:
        raise FlowSpecError(found)
    return spec


def load_flow(path: str | Path) -> FlowSpec:
    p = Path(path)
    return parse_flow(read_flow_text(p), str(p))


_UTF16_32_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def read_flow_text(path: Path) -> str:
    """The text of a flow file: UTF-8 (a byte-order mark is dropped), read no further than the
    size limit, so a huge file or a device costs nothing."""
    limit = LIMITS.max_bytes
    try:
        with path.open("rb") as stream:
            raw = stream.read(limit + 1)
    except OSError as exc:
        raise FlowSpecError(
            [Problem(str(path), None, "", f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    if len(raw) > limit:
        raise FlowSpecError([Problem(str(path), None, "", f"larger than {limit // 1024} KB")])
    for bom, encoding in _UTF16_32_BOMS.items():
        if raw.startswith(bom):
            raise FlowSpecError([Problem(str(path), 1, "", f"is {encoding} text; save it as UTF-8")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise FlowSpecError(
            [Problem(str(path), line, "", f"not UTF-8 text (byte 0x{byte:02x}): save the file as UTF-8")]
        ) from None


LIBRARY = ("bant", "gpctba", "champ", "meddic", "anum", "puzzle")


def library_path(flow_id: str) -> Path:
    """The file of a shipped flow (``flows/library/<id>.yaml``)."""
    return Path(__file__).resolve().parent / "library" / f"{flow_id}.yaml"


def load_library_flow(flow_id: str) -> FlowSpec:
    if flow_id not in LIBRARY:
        raise FlowSpecError([Problem(flow_id, None, "", f"no shipped flow {flow_id!r}; one of {LIBRARY}")])
    return load_flow(library_path(flow_id))


# --------------------------------------------------------------------------- semantic checks


def _localized_problems(
    text: Mapping[str, str] | None, path: Path_, locales: Sequence[str]
) -> Iterator[tuple[Path_, str]]:
    if text is None:
        return
    if "*" in text:
        if not text["*"].strip():
            yield path, "is blank"
        return
    for loc in locales:
        if not text.get(loc, "").strip():
            yield (*path, loc), f"missing the {loc!r} text"
    for loc in text:
        if loc not in locales:
            yield (*path, loc), f"locale {loc!r} is not one of the flow's locales ({', '.join(locales)})"


def check_semantics(spec: FlowSpec) -> Iterator[tuple[Path_, str]]:
    """Cross-field rules pydantic cannot see alone; yields (path, message)."""
    locs = spec.locales
    for i, loc in enumerate(locs):
        if loc in locs[:i]:
            yield ("locales", i), f"locale {loc!r} is listed twice"
    yield from _check_currencies(spec)
    yield from _localized_problems(spec.title, ("title",), locs)
    yield from _localized_problems(spec.greeting, ("greeting",), locs)

    dims = spec.dimension_by_id
    seen: set[str] = set()
    for i, d in enumerate(spec.dimensions):
        if d.id in seen:
            yield ("dimensions", i, "id"), f"dimension {d.id!r} is defined twice"
        seen.add(d.id)
        yield from _localized_problems(d.title, ("dimensions", i, "title"), locs)
        if d.confirm_at is not None and d.confirm_at > d.weight:
            yield ("dimensions", i, "confirm_at"), f"{d.confirm_at} is more than the weight {d.weight}"

    weights = sum(d.weight for d in spec.dimensions)
    if weights != spec.scoring.fit:
        yield ("dimensions",), f"the weights add up to {weights}, but scoring.fit is {spec.scoring.fit}"
    if spec.scoring.fit + spec.scoring.engagement != 100:
        yield (
            ("scoring", "fit"),
            (f"fit ({spec.scoring.fit}) + engagement ({spec.scoring.engagement}) must be 100"),
        )

    reasons = spec.knockout_by_reason
    for i, k in enumerate(spec.knockouts):
        yield from _localized_problems(k.text, ("knockouts", i, "text"), locs)

    seen = set()
    for i, q in enumerate(spec.questions):
        qp: Path_ = ("questions", i)
        if q.id in seen:
            yield (*qp, "id"), f"question {q.id!r} is defined twice"
        if q.id in ("new", "done"):
            yield (*qp, "id"), f"{q.id!r} is reserved for the conversation's own states; pick another id"
        seen.add(q.id)
        yield from _localized_problems(q.text, (*qp, "text"), locs)
        yield from _localized_problems(q.hint, (*qp, "hint"), locs)
        yield from _localized_problems(q.reason, (*qp, "reason"), locs)
        if q.dimension is None and not q.is_contact and q.kind is not QuestionKind.TEXT:
            yield (*qp, "dimension"), "a scored question needs a dimension"
        if q.dimension is not None and q.dimension not in dims:
            yield (*qp, "dimension"), f"no dimension {q.dimension!r} (have: {', '.join(dims)})"
        if q.dimension is not None and q.dimension in dims and q.max_points > dims[q.dimension].weight:
            yield (
                (*qp, "options" if q.options else "bands" if q.bands else "points"),
                (
                    f"can give {q.max_points} points, more than the {q.dimension!r} weight "
                    f"{dims[q.dimension].weight}"
                ),
            )
        if q.knockout is not None and q.knockout not in reasons:
            yield (*qp, "knockout"), f"no knock-out with reason {q.knockout!r} under knockouts:"
        if q.budget is not None and q.kind is not QuestionKind.MONEY:
            yield (*qp, "budget"), f"only a money question asks for a budget; this one is {q.kind.value}"
        yield from _check_options(spec, q, qp, reasons)
        yield from _check_bands(q, qp, reasons, locs)
        if q.ask_if is not None:
            yield from _check_condition(spec, q.ask_if, (*qp, "ask_if"), before=i)

    for i, k in enumerate(spec.knockouts):
        if k.when is not None:
            yield from _check_condition(spec, k.when, ("knockouts", i, "when"), before=None)
    for i, s in enumerate(spec.engagement):
        yield from _localized_problems(s.reason, ("engagement", i, "reason"), locs)
        yield from _check_condition(spec, s.when, ("engagement", i, "when"), before=None)
    positive = sum(s.points for s in spec.engagement if s.points > 0)
    if spec.engagement and positive < spec.scoring.engagement:
        yield (
            ("engagement",),
            (
                f"the signals give at most {positive} points, less than scoring.engagement "
                f"({spec.scoring.engagement}): that part of the score can never be full"
            ),
        )
    if not spec.engagement and spec.scoring.engagement:
        yield ("scoring", "engagement"), "is more than 0 but the flow has no engagement signals"

    yield from _check_scoring(spec)

    asks_phone = any(q.kind is QuestionKind.PHONE for q in spec.questions)
    for i, c in enumerate(spec.closings):
        yield from _localized_problems(c.text, ("closings", i, "text"), locs)
        if c.promises_call and not asks_phone:
            yield (
                ("closings", i, "promises_call"),
                "the flow asks no phone, so nobody who sees this closing can be called",
            )
        if c.when is not None:
            yield from _check_condition(spec, c.when, ("closings", i, "when"), before=None)
    for stage in ("disqualified", "nurture", "mql", "sql"):
        if not any(c.stage == stage and c.tier is None and c.when is None for c in spec.closings):
            yield ("closings",), f"no closing for stage {stage!r} without a tier and a when (the fallback)"
    yield from _check_consent(spec)


_LINK = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(/\S*)?$")


def _check_consent(spec: FlowSpec) -> Iterator[tuple[Path_, str]]:
    """The consent notice: one short line per locale naming ``{link}``, an absolute web address,
    and a contact question for it to be shown before."""
    reach = [q for q in spec.questions if q.is_contact]
    consent = spec.consent
    if consent is None:
        return
    if not reach:
        yield ("consent",), "the flow asks for no contact, so the notice would never be shown"
    yield from _localized_problems(consent.text, ("consent", "text"), spec.locales)
    for loc, text in consent.text.items():
        path: Path_ = ("consent", "text", loc) if loc != "*" else ("consent", "text")
        if "\n" in text.strip():
            yield path, "must be one line"
        if "{link}" not in text:
            yield path, "must say where the policy is: put {link} where its address goes"
        if len(text.replace("{link}", "")) > MAX_NOTICE:
            yield path, f"longer than {MAX_NOTICE} characters: the notice is one short line"
    if not _LINK.match(consent.link):
        yield (
            ("consent", "link"),
            (
                f"{consent.link[:60]!r} is not a web address: give the policy's full address, "
                "https://example.com/privacy"
            ),
        )


def _check_options(
    spec: FlowSpec, q: Question, qp: Path_, reasons: Mapping[str, Knockout]
) -> Iterator[tuple[Path_, str]]:
    if q.kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE) and len(q.options) < 2:
        yield (*qp, "options"), f"a {q.kind.value} question needs at least 2 options"
    if q.kind is QuestionKind.YES_NO and not q.option_ids <= {"yes", "no"}:
        yield (*qp, "options"), "yes_no options can only be 'yes' and 'no'"
    if q.options and q.kind not in CHOICE_KINDS:
        yield (*qp, "options"), f"a {q.kind.value} question takes bands, not options"
    shown = [o for o in q.options if not o.hidden]
    if q.kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE) and len(q.options) >= 2 > len(shown):
        yield (
            (*qp, "options"),
            (
                f"a {q.kind.value} question needs at least 2 options shown as buttons "
                "(hidden ones are only understood when typed)"
            ),
        )
    ids: set[str] = set()
    for j, o in enumerate(q.options):
        op: Path_ = (*qp, "options", j)
        if o.id in ids:
            yield (*op, "id"), f"option {o.id!r} is defined twice"
        ids.add(o.id)
        if o.hidden and q.kind is QuestionKind.YES_NO:
            yield (*op, "hidden"), "a yes/no question shows both answers; only choice options can be hidden"
        elif o.hidden and o.hand_raise:
            yield (*op, "hidden"), "a hand-raise is something to offer: it cannot be hidden"
        yield from _localized_problems(o.label, (*op, "label"), spec.locales)
        yield from _localized_problems(o.reason, (*op, "reason"), spec.locales)
        if o.knockout is not None and o.knockout not in reasons:
            yield (*op, "knockout"), f"no knock-out with reason {o.knockout!r} under knockouts:"
        for loc in o.synonyms:
            if loc not in spec.locales:
                yield (*op, "synonyms", loc), f"locale {loc!r} is not one of the flow's locales"
    yield from _check_phrases(spec, q, qp)


def _phrase_key(text: str) -> str:
    """A label or synonym as the choice matcher compares it whole (folded words)."""
    return " ".join(_WORDS.findall(fold(text)))


def _check_phrases(spec: FlowSpec, q: Question, qp: Path_) -> Iterator[tuple[Path_, str]]:
    """Typed answers are matched against each option's label and synonyms: a phrase on two
    options, or one that is a command, can never pick the option it is written for."""
    for loc in spec.locales:
        owners: dict[str, Option] = {}
        for j, o in enumerate(q.options):
            phrases = [((*qp, "options", j, "label"), tr(o.label, loc), "label")]
            phrases += [
                ((*qp, "options", j, "synonyms", loc, k), synonym, "synonym")
                for k, synonym in enumerate(o.synonyms.get(loc, ()))
            ]
            for path, phrase, what in phrases:
                key = _phrase_key(phrase)
                if not key:
                    if what == "synonym":
                        yield path, f"the synonym {phrase!r} has no letters or digits to match"
                    continue
                command = command_of(Inbound.typed(phrase))
                if command is not None:
                    yield (
                        path,
                        (
                            f"the {what} {phrase!r} is the {command!r} command when typed, "
                            "so it can never choose this option"
                        ),
                    )
                first = owners.setdefault(key, o)
                if first is not o:
                    yield (
                        path,
                        (
                            f"the {what} {phrase!r} ({loc}) also stands for option {first.id!r}: "
                            "a typed answer cannot tell them apart"
                        ),
                    )


def _check_bands(
    q: Question, qp: Path_, reasons: Mapping[str, Knockout], locales: Sequence[str]
) -> Iterator[tuple[Path_, str]]:
    if q.bands and q.kind not in BANDED_KINDS:
        yield (*qp, "bands"), f"a {q.kind.value} question takes options, not bands"
    ordered = sorted(enumerate(q.bands), key=lambda jb: -float("inf") if jb[1].min is None else jb[1].min)
    previous_max: float | None = None
    for n, (j, b) in enumerate(ordered):
        bp: Path_ = (*qp, "bands", j)
        if b.min is not None and b.max is not None and b.min >= b.max:
            yield bp, f"min {b.min:g} must be below max {b.max:g}"
        if n > 0 and (b.min is None or previous_max is None or b.min < previous_max):
            yield bp, "overlaps the band before it (min is inclusive, max exclusive)"
        previous_max = b.max
        if b.knockout is not None and b.knockout not in reasons:
            yield (*bp, "knockout"), f"no knock-out with reason {b.knockout!r} under knockouts:"
        yield from _localized_problems(b.label, (*bp, "label"), locales)
        yield from _localized_problems(b.reason, (*bp, "reason"), locales)


def _check_condition(
    spec: FlowSpec, cond: Condition, path: Path_, before: int | None
) -> Iterator[tuple[Path_, str]]:
    leaf = cond.question is not None or cond.fact is not None
    combos = [x for x in (cond.all, cond.any, cond.not_) if x is not None]
    if leaf == bool(combos) or (cond.question is not None and cond.fact is not None) or len(combos) > 1:
        yield path, "a condition names one question: or one fact:, or combines others with all:/any:/not:"
        return
    if cond.question is not None:
        q = spec.question_by_id.get(cond.question)
        if q is None:
            yield (*path, "question"), f"no question {cond.question!r}"
            return
        if before is not None and spec.question_index[q.id] >= before:
            yield (*path, "question"), f"{q.id!r} is not asked before this question"
        yield from _never_holds(q, cond, path)
    elif cond.fact is not None:
        yield from _fact_never_holds(cond, path)
    for k, sub in enumerate(cond.all or ()):
        yield from _check_condition(spec, sub, (*path, "all", k), before)
    for k, sub in enumerate(cond.any or ()):
        yield from _check_condition(spec, sub, (*path, "any", k), before)
    if cond.not_ is not None:
        yield from _check_condition(spec, cond.not_, (*path, "not"), before)


_NUMERIC_TESTS = ("gte", "gt", "lte", "lt")
_VALUE_TESTS = ("equals", "in", "not_in")
# Facts derived from the answers, always true or false.
BOOLEAN_FACTS = frozenset({"answered_all", "hand_raise"})


def _named_values(cond: Condition) -> list[Scalar]:
    return ([cond.equals] if cond.equals is not None else []) + list(cond.in_ or ()) + list(cond.not_in or ())


def _tests(cond: Condition) -> list[str]:
    values = (cond.equals, cond.in_, cond.not_in, cond.gte, cond.gt, cond.lte, cond.lt)
    return [
        name for name, value in zip(_VALUE_TESTS + _NUMERIC_TESTS, values, strict=True) if value is not None
    ]


def _common_never_holds(cond: Condition, path: Path_, subject: str) -> Iterator[tuple[Path_, str]]:
    """What makes any leaf impossible: tests beside ``answered: false``, an empty ``in``, a range
    with nothing in it."""
    tests = _tests(cond)
    if cond.answered is False and tests:
        yield (
            path,
            (
                f"answered: false holds only when {subject} has no value, so {', '.join(tests)} "
                "beside it can never be checked; split them with any:/all:"
            ),
        )
    if cond.in_ is not None and not cond.in_:
        yield (*path, "in"), "an empty list: in: [] never holds"
    low = max((v for v in (cond.gte, cond.gt) if v is not None), default=None)
    high = min((v for v in (cond.lte, cond.lt) if v is not None), default=None)
    strict = cond.gt == low or cond.lt == high
    if low is not None and high is not None and (low > high or (low == high and strict)):
        yield path, f"no number is both from {low:g} and up to {high:g}: the condition never holds"


def _never_holds(q: Question, cond: Condition, path: Path_) -> Iterator[tuple[Path_, str]]:
    """Comparisons an answer of this kind can never satisfy (see flows/conditions.py)."""
    yield from _common_never_holds(cond, path, f"{q.id!r}")
    numeric = [name for name in _NUMERIC_TESTS if getattr(cond, name) is not None]
    values = _named_values(cond)
    if q.kind in (QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE):
        for value in values:
            if _as_option_id(value) not in q.option_ids:
                yield path, f"{q.id!r} has no option {value!r}"
        if numeric:
            yield (
                path,
                (
                    f"{'/'.join(numeric)} never holds on the {q.kind.value} question {q.id!r}: "
                    "compare its option ids with equals/in/not_in"
                ),
            )
    elif q.kind is QuestionKind.YES_NO:
        for value in values:
            if not isinstance(value, bool) and value not in ("yes", "no"):
                yield (
                    path,
                    f"{value!r} is not an answer to the yes/no question {q.id!r}: compare with yes or no",
                )
    elif q.kind in BANDED_KINDS:
        for value in values:
            if isinstance(value, str | bool):
                yield (
                    path,
                    f"the {q.kind.value} question {q.id!r} is never equal to {value!r}: compare numbers",
                )
    elif numeric:
        yield (
            path,
            f"{'/'.join(numeric)} never holds on the {q.kind.value} question {q.id!r}: it has no number",
        )


def _fact_never_holds(cond: Condition, path: Path_) -> Iterator[tuple[Path_, str]]:
    yield from _common_never_holds(cond, path, f"the fact {cond.fact!r}")
    if cond.fact in BOOLEAN_FACTS:
        for value in _named_values(cond):
            if not isinstance(value, bool):
                yield path, f"the fact {cond.fact!r} is true or false, never {value!r}"
        numeric = [name for name in _NUMERIC_TESTS if getattr(cond, name) is not None]
        if numeric:
            yield path, f"{'/'.join(numeric)} never holds on the fact {cond.fact!r}: it is true or false"


def _as_option_id(value: Scalar) -> str:
    """How a condition value is compared with option ids (as flows/conditions.py does)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _check_currencies(spec: FlowSpec) -> Iterator[tuple[Path_, str]]:
    if spec.currency not in CURRENCIES:
        yield ("currency",), f"{spec.currency!r} is not an ISO 4217 currency code (RUB, USD, EUR, ...)"
    for code in spec.exchange_rates:
        if code not in CURRENCIES:
            yield ("exchange_rates", code), f"{code!r} is not an ISO 4217 currency code"
        elif code == spec.currency:
            yield ("exchange_rates", code), f"{code} is the flow's own currency; leave it out"


def _check_scoring(spec: FlowSpec) -> Iterator[tuple[Path_, str]]:
    s = spec.scoring
    if s.nurture_if is not None:
        yield from _check_condition(spec, s.nurture_if, ("scoring", "nurture_if"), before=None)
    if s.contact_required and not any(q.kind in REACH_KINDS for q in spec.questions):
        yield (
            ("scoring", "contact_required"),
            "the flow asks for no e-mail or phone, so no lead could ever be an MQL",
        )
    if s.sql.score is not None and s.sql.score < s.mql:
        yield ("scoring", "sql", "score"), f"{s.sql.score} is below the MQL threshold {s.mql}"
    if s.confirmed is not None:
        of = s.confirmed.of or [d.id for d in spec.dimensions]
        for k, dim in enumerate(of):
            if dim not in spec.dimension_by_id:
                yield ("scoring", "confirmed", "of", k), f"no dimension {dim!r}"
        if s.confirmed.need > len(of):
            yield ("scoring", "confirmed", "need"), f"{s.confirmed.need} of only {len(of)} dimensions"
        if s.sql.confirmed is not None and s.sql.confirmed > len(of):
            yield ("scoring", "sql", "confirmed"), f"{s.sql.confirmed} of only {len(of)} dimensions"
    elif s.sql.confirmed is not None:
        yield ("scoring", "sql", "confirmed"), "needs scoring.confirmed (N-of-M mode)"
    tiers_seen: set[str] = set()
    for k, t in enumerate(s.tiers):
        if t.tier in tiers_seen:
            yield ("scoring", "tiers", k, "tier"), f"tier {t.tier!r} is defined twice"
        tiers_seen.add(t.tier)
        if t.when is not None:
            yield from _check_condition(spec, t.when, ("scoring", "tiers", k, "when"), before=None)
    for k, c in enumerate(spec.closings):
        if c.tier is not None and c.tier not in tiers_seen:
            yield ("closings", k, "tier"), f"no tier {c.tier!r} under scoring.tiers"
