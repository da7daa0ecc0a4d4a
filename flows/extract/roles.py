"""Job titles read by their head word and seniority (ru, en): who someone is in their company.

A title is one of four levels: ``owner`` (owns the business: собственник, учредитель, founder,
partner, ИП), ``ceo`` (runs it: генеральный директор, CEO, managing director, president),
``head`` (runs a function: директор по маркетингу, IT-директор, head of sales, VP, CFO, зам
директора) and ``staff`` (менеджер, специалист, закупщик, analyst, buyer). The head word decides
and its modifiers refine it: «директор по маркетингу» and "marketing director" are heads of a
function, «генеральный директор» and "managing director" run the company, «директор» or
"director" alone could be either (``AMBIGUOUS``). A title after a negation or "бывший"/"former"
does not count ("я не директор").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from flows.extract.text import word_table

OWNER: Final = "owner"
CEO: Final = "ceo"
HEAD: Final = "head"
STAFF: Final = "staff"
AMBIGUOUS: Final = frozenset({CEO, HEAD})
"""What a bare «директор», «руководитель», "director" or "head" may be."""

_COMPANY: Final = frozenset(
    word_table(
        "компании компанией фирмы фирмой предприятия организации бизнеса холдинга группы company business "
        "firm organization organisation enterprise"
    )
)
_OWNER_STEMS: Final = word_table(
    "собственни владел совладел учредител соучредител основател сооснова предпринимател бизнесмен "
    "партнер председател самозанят owner coowner founder cofounder entrepreneur partner chairman "
    "proprietor"
)
_OWNER_WORDS: Final = frozenset(word_table("ип лпр чп"))
_STAFF_WORDS: Final = frozenset(word_table("intern interns стажер стажерка rep"))
_CEO_WORDS: Final = frozenset(
    word_table("ceo гендир гендиректор гендиректора генеральный генеральная president президент")
)
_CEO_BEFORE: Final = frozenset(
    word_table("генеральный генеральная исполнительный исполнительная managing executive general")
)
_HEAD_WORDS: Final = frozenset(
    word_table(
        "cto cfo cmo coo cio cco cpo cdo chro ciso cro cso vp svp evp финдир финдиректор комдир комдиректор "
        "техдир коммерческий роп "
        "тимлид teamlead зам заместитель замдиректора deputy начальник"
    )
)
_DIRECTOR: Final = frozenset(
    word_table(
        "директор директора директором директору director директриса руководитель руководителя руководителем"
    )
)
_HEAD_ALONE: Final = frozenset(word_table("head boss шеф"))
_STAFF_STEMS: Final = word_table(
    "менеджер manager специалист specialist сотрудни employee работни аналитик analyst маркетолог "
    "marketer закупщи снабжен buyer purchaser procurement бухгалтер accountant экономист инженер "
    "engineer разработчи программист developer дизайнер designer ассистент assistant помощни секретар "
    "secretary продажни продавец продавщиц оператор operator консультант consultant стажер associate "
    "coordinator координатор representative рекрутер recruiter"
)
_ADJECTIVE_ENDINGS: Final = ("ый", "ий", "ой", "ая", "яя", "ое", "ее", "ого", "его")
_FUNCTIONS: Final = frozenset(word_table("it ит hr эйчар pr seo smm арт"))
_NOT_MODIFIERS: Final = frozenset(
    word_table(
        "я i im a an the my our your мой моя наш наша ваш с со with and и or или of to for from у к для "
        "это this is am был была are другой такой какой этой моей нашей сам свой"
    )
)
_NEGATORS: Final = frozenset(word_table("не нет not no никакой никакая never бывший бывшая former ex"))
_NEGATION_REACH: Final = 2


def _stemmed(word: str, stems: Sequence[str]) -> bool:
    return word.startswith(tuple(stems))


def _modifier(word: str) -> bool:
    """Whether a word before a head word names a function: "коммерческий", "it", "marketing"."""
    if not word or word in _NOT_MODIFIERS:
        return False
    return word.endswith(_ADJECTIVE_ENDINGS) or word in _FUNCTIONS or word.isascii()


def _level_at(words: Sequence[str], i: int) -> str | frozenset[str] | None:
    """The level of the title whose head word is words[i], or None when it is not a head word."""
    word = words[i]
    before = words[i - 1] if i else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    if word in ("chief",) and after:
        return CEO if after == "executive" else HEAD  # "chief marketing officer"
    if word == "president":
        return HEAD if before == "vice" else CEO
    if word in _CEO_WORDS:
        return CEO
    if word in _HEAD_WORDS or (word == "vice" and after == "president"):
        return HEAD
    if word in _DIRECTOR:
        if (
            before in _CEO_BEFORE
            or after in _COMPANY
            or (after == "of" and i + 2 < len(words) and words[i + 2] in _COMPANY)
        ):
            return CEO
        if after in ("по", "of") or (after and after not in _COMPANY and word.startswith("руковод")):
            return HEAD  # "директор по маркетингу", "director of sales", "руководитель отдела"
        if _modifier(before):
            return HEAD  # "it-директор", "marketing director", "коммерческий директор"
        return AMBIGUOUS
    if word in _HEAD_ALONE:
        if after == "of":
            target = words[i + 2] if i + 2 < len(words) else ""
            target = words[i + 3] if target == "the" and i + 3 < len(words) else target
            return CEO if target in _COMPANY else HEAD
        return HEAD if _modifier(before) else AMBIGUOUS
    if word in ("manager", "менеджер") and before in ("general", "генеральный"):
        return CEO
    if word in ("manager", "менеджер", "менеджера") and before in ("top", "топ"):
        return HEAD
    if word in ("lead", "leader") and before in ("team",):
        return HEAD
    if word in _OWNER_WORDS or _stemmed(word, _OWNER_STEMS):
        return OWNER
    if word in _STAFF_WORDS or _stemmed(word, _STAFF_STEMS):
        return STAFF
    return None


def _negated(words: Sequence[str], i: int) -> bool:
    return any(words[k] in _NEGATORS for k in range(max(0, i - _NEGATION_REACH), i))


def role_levels(words: Sequence[str]) -> tuple[frozenset[str], bool]:
    """(the definite levels of the titles in folded ``words``, whether a title was ambiguous)."""
    definite: set[str] = set()
    ambiguous = False
    for i in range(len(words)):
        level = _level_at(words, i)
        if level is None or _negated(words, i):
            continue
        if isinstance(level, frozenset):
            ambiguous = True
        else:
            definite.add(level)
    if CEO in definite or HEAD in definite:
        ambiguous = False  # "генеральный директор": the bare head word was part of a clear title
    return frozenset(definite), ambiguous
