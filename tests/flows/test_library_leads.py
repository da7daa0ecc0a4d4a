"""Whole conversations on every shipped flow, in Russian and English: an ideal lead, a lead
without a budget, a student, a mid lead (and, where the flow has one, a lead whose budget is not
formed yet), each played twice: tapping the buttons, and typing the way people type in chats.
Both versions must end in the same stage and tier, the one sales expects for such a lead; the
closing promises a call only to a lead who gave a phone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.engine import closing_index
from flows.model import Stage
from flows.spec import LIBRARY, load_library_flow

OpenChat = Callable[..., Any]
LOCALES = ("ru", "en")
CALL = {"ru": "позвонит", "en": "call you"}


@dataclass(frozen=True)
class Said:
    """One answer: the buttons a visitor taps (None: no button fits, so it is typed both ways)
    and what they type instead, per locale."""

    tap: tuple[str, ...] | None
    ru: str
    en: str

    def typed(self, locale: str) -> str:
        return self.ru if locale == "ru" else self.en


def said(tap: str | tuple[str, ...] | None, ru: str, en: str | None = None) -> Said:
    taps = (tap,) if isinstance(tap, str) else tap
    return Said(taps, ru, ru if en is None else en)


NAME = said(None, "Мария Иванова", "Maria Ivanova")
EMAIL = said(None, "maria.ivanova@acme-industries.ru", "maria.ivanova@acme-industries.com")
PHONE = said(None, "+7 916 123-45-67", "+1 415 555 0100")
OLEG = said(None, "Олег Смирнов", "Oliver Smith")
OLEG_EMAIL = said(None, "oleg@stroymarket.ru", "oliver@buildmart.co.uk")


@dataclass(frozen=True)
class Lead:
    answers: Mapping[str, Said]
    stage: Stage
    tier: str | None
    knockout: str | None = None
    called: bool = False  # the closing promises a call


LEADS: dict[str, dict[str, Lead]] = {
    "bant": {
        "ideal": Lead(
            {
                "budget_status": said("approved", "да, бюджет уже выделен", "yes, it's approved"),
                "budget_amount": said("band:3", "около 6 млн", "about $80k"),
                "role": said("owner", "я собственник", "I'm the owner"),
                "need": said(
                    ("lost_leads", "manual_work"),
                    "теряем заявки, много ручной работы",
                    "we lose leads, too much manual work",
                ),
                "timing": said("band:0", "через пару недель", "in two weeks"),
                "alternatives": said("only_us", "нет, только вас", "no, only you"),
                "next_step": said("demo", "хочу демо", "book a demo"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {"budget_status": said("none", "денег нет, ищем бесплатное", "no money, free only")},
            Stage.DISQUALIFIED,
            None,
            "no_budget",
        ),
        "student": Lead(
            {
                "budget_status": said("unknown", "пока не думали", "haven't thought yet"),
                "role": said(None, "я студент, пишу диплом", "I'm a student writing my thesis"),
            },
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "budget_status": said("planning", "планируем заложить", "we're planning it"),
                "budget_amount": said("band:1", "около 500 тыс", "about 5k usd"),
                "role": said("head", "руководитель отдела продаж", "head of sales"),
                "decision": said("with_boss", "согласую с директором", "with my boss"),
                "need": said("slow_response", "долго отвечаем клиентам", "we reply too slowly"),
                "timing": said("band:1", "через пару месяцев", "in a couple of months"),
                "alternatives": said(
                    "comparing", "сравниваем несколько вариантов", "comparing a few vendors"
                ),
                "next_step": said("pricing", "пришлите цены", "send me pricing"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
    "gpctba": {
        "ideal": Lead(
            {
                "goal": said("grow_revenue", "хотим увеличить выручку", "grow revenue"),
                "challenge": said("few_leads", "мало качественных заявок", "too few good leads"),
                "plans": said("buy_tool", "выбираем готовое решение", "looking for a vendor"),
                "negative": said("lose_market", "конкуренты обгонят", "competitors will win"),
                "gain": said("band:3", "процентов 40", "about 40%"),
                "timeline": said("band:0", "через пару недель", "in two weeks"),
                "budget_status": said("formed", "да, выделен", "yes, approved"),
                "budget_amount": said("band:3", "около 6 млн", "about $80k"),
                "role": said("owner", "я собственник", "I'm the owner"),
                "next_step": said("demo", "хочу демо", "book a demo"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {
                "goal": said("cut_costs", "снизить затраты", "cut costs"),
                "challenge": said("chaos", "бардак в процессах", "messy processes"),
                "plans": said("buy_tool", "ищем сервис", "looking for a vendor"),
                "negative": said("lose_money", "потеряем деньги", "we lose money"),
                "gain": said("band:1", "процентов 10", "maybe 10%"),
                "timeline": said("band:1", "в этом квартале", "this quarter"),
                "budget_status": said("not_formed", "бюджета пока нет", "no budget yet"),
                "role": said("head", "руководитель отдела", "head of sales"),
                "next_step": said("materials", "почитаю материалы", "send me materials"),
                "email": OLEG_EMAIL,
            },
            Stage.NURTURE,
            "C",
        ),
        "free": Lead(
            {
                "goal": said("cut_costs", "сократить расходы", "reduce costs"),
                "challenge": said("tools", "неудобная система", "clunky system"),
                "plans": said("buy_tool", "готовое решение", "off the shelf"),
                "negative": said("slower", "рост замедлится", "slower growth"),
                "gain": said("band:0", "3", "3"),
                "timeline": said("band:3", "в следующем году", "next year"),
                "budget_status": said(None, "ищем бесплатное", "looking for something free"),
            },
            Stage.DISQUALIFIED,
            None,
            "free_only",
        ),
        "student": Lead(
            {"goal": said(None, "я студент, пишу диплом", "I'm a student, writing my thesis")},
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "goal": said("service", "улучшить сервис", "better customer service"),
                "challenge": said("tools", "неудобная система", "clunky system"),
                "plans": said("buy_tool", "выбираем подрядчика", "looking for a vendor"),
                "negative": said("slower", "будем расти медленнее", "slower growth"),
                "gain": said("band:1", "процентов 10", "maybe 10%"),
                "timeline": said("band:2", "через полгода", "in six months"),
                "budget_status": said("forming", "формируем", "being planned"),
                "budget_amount": said("band:1", "около 500 тыс", "about 5k usd"),
                "role": said("head", "руководитель отдела", "head of sales"),
                "next_step": said("pricing", "пришлите цены", "send me pricing"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
    "champ": {
        "ideal": Lead(
            {
                "challenge": said(
                    ("lost_leads", "low_conversion"),
                    "теряем заявки и плохая конверсия",
                    "we lose leads and low conversion",
                ),
                "challenge_cost": said("band:3", "миллиона три в год", "about $40k a year"),
                "role": said("owner", "я владелец", "I'm the owner"),
                "budget_status": said("formed", "да, выделен", "yes, we have it"),
                "budget_amount": said("band:3", "около 6 млн", "about $80k"),
                "priority": said("top", "горит, задача номер один", "top priority, urgent"),
                "timeline": said("band:0", "в этом месяце", "this month"),
                "alternatives": said("only_us", "нет, только вас", "no, only you"),
                "next_step": said("demo", "хочу демо", "book a demo"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {
                "challenge": said("manual_work", "много ручной работы", "too much manual work"),
                "challenge_cost": said(("cmd:skip",), "пропустить", "skip"),
                "role": said("head", "руководитель отдела", "head of sales"),
                "approver": said("with_boss", "согласую с директором", "with my manager"),
                "budget_status": said("not_formed", "пока не сформирован", "not formed yet"),
                "priority": said("top3", "одна из главных", "one of the main ones"),
                "timeline": said("band:1", "через пару месяцев", "in a couple of months"),
                "alternatives": said(
                    "comparing", "сравниваем несколько вариантов", "comparing a few vendors"
                ),
                "next_step": said("materials", "почитаю материалы", "send me materials"),
                "email": OLEG_EMAIL,
            },
            Stage.NURTURE,
            "C",
        ),
        "student": Lead(
            {
                "challenge": said("nothing", "просто смотрю", "just looking"),
                "role": said(None, "я студент, пишу диплом", "I'm a student, writing my thesis"),
            },
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "challenge": said(
                    ("lost_leads", "no_visibility"),
                    "заявки теряются, нет отчётов",
                    "leads get lost, no reports",
                ),
                "challenge_cost": said("band:1", "тысяч 200 в месяц", "about 3k usd"),
                "role": said("head", "руководитель отдела", "head of sales"),
                "approver": said("with_boss", "согласую с директором", "with my manager"),
                "budget_status": said("forming", "формируем", "being planned"),
                "budget_amount": said("band:1", "около 500 тыс", "about 5k usd"),
                "priority": said("top3", "одна из главных", "one of the main ones"),
                "timeline": said("band:2", "через полгода", "in six months"),
                "alternatives": said(
                    "comparing", "сравниваем несколько вариантов", "comparing a few vendors"
                ),
                "next_step": said("pricing", "пришлите цены", "send me pricing"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
    "anum": {
        "ideal": Lead(
            {
                "role": said("owner", "я собственник", "I'm the owner"),
                "need": said(
                    ("lead_handling", "integration"), "заявки и интеграция с CRM", "leads and CRM integration"
                ),
                "urgency": said("band:0", "как можно скорее", "as soon as possible"),
                "cost_of_delay": said("yes", "да, ощутимо", "yes, definitely"),
                "budget_status": said("formed", "да, выделен", "yes, we have it"),
                "budget_amount": said("band:3", "около 6 млн", "about $80k"),
                "next_step": said("demo", "хочу поговорить с менеджером", "talk to a manager"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {
                "role": said("head", "руководитель отдела продаж", "head of sales"),
                "decision": said("with_boss", "согласую с директором", "with my manager"),
                "need": said("reporting", "нужны отчёты", "we need reports"),
                "urgency": said("band:1", "через пару месяцев", "in a couple of months"),
                "cost_of_delay": said("no", "не особо", "not really"),
                "budget_status": said("not_formed", "бюджета пока нет", "no budget yet"),
                "next_step": said("materials", "почитаю материалы", "send me materials"),
                "email": OLEG_EMAIL,
            },
            Stage.NURTURE,
            "C",
        ),
        "student": Lead(
            {"role": said(None, "я студент", "I'm a student")},
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "role": said("head", "руководитель отдела", "head of sales"),
                "decision": said("me", "сам решаю", "my call"),
                "need": said(("lead_handling", "reporting"), "заявки и отчёты", "leads and reports"),
                "urgency": said("band:2", "через полгода", "in six months"),
                "cost_of_delay": said("yes", "да", "yes"),
                "budget_status": said("forming", "формируем", "being planned"),
                "budget_amount": said("band:1", "около 500 тыс", "about 5k usd"),
                "next_step": said("pricing", "пришлите цены", "send me pricing"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
    "meddic": {
        "ideal": Lead(
            {
                "role": said("executive", "я генеральный директор", "I'm the CEO"),
                "company_size": said("band:2", "около 1200 человек", "about 1,200 people"),
                "pain": said(
                    ("lost_leads", "no_visibility"),
                    "теряем заявки и не видим воронку",
                    "lost leads, no reports",
                ),
                "metric": said("conversion", "конверсия", "conversion"),
                "metric_values": said(None, "конверсия 2% → 4%", "conversion 2% -> 4%"),
                "economic_buyer": said("me", "я сам", "me"),
                "eb_budget": said("approved", "да, утверждён", "yes, approved"),
                "criteria": said(
                    ("integrations", "security"), "интеграции и безопасность", "integrations and security"
                ),
                "process": said("pilot", "сначала пилот", "a pilot first"),
                "timeline": said("band:0", "в этом квартале", "this quarter"),
                "next_step": said("meeting", "давайте встречу", "let's set up a meeting"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {
                "role": said("head", "руководитель отдела продаж", "head of sales"),
                "company_size": said("band:1", "человек 300", "around 300"),
                "pain": said("legacy", "старая CRM", "old CRM"),
                "metric": said("cycle", "цикл сделки", "sales cycle"),
                "metric_values": said(("cmd:skip",), "пропустить", "skip"),
                "economic_buyer": said("known", "финдиректор", "the CFO"),
                "eb_budget": said("not_yet", "пока нет", "not yet"),
                "criteria": said("price", "цена", "price"),
                "process": said("tender", "тендер", "tender"),
                "timeline": said("band:2", "до конца года", "by the end of the year"),
                "next_step": said("materials", "пришлите материалы", "send me materials"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.NURTURE,
            "C",
        ),
        "student": Lead(
            {"role": said(None, "я студент", "I'm a student")},
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "role": said("head", "руководитель отдела продаж", "head of sales"),
                "company_size": said("band:1", "человек 300", "around 300"),
                "pain": said(("lost_leads", "legacy"), "теряем заявки, старая CRM", "lost leads, old CRM"),
                "metric": said("conversion", "конверсия", "conversion"),
                "metric_values": said(None, "примерно 3% → 5%", "about 3% -> 5%"),
                "economic_buyer": said("known", "финдиректор", "the CFO"),
                "eb_budget": said("planned", "планируем", "planning"),
                "criteria": said(
                    ("integrations", "support"), "интеграции и поддержка", "integrations and support"
                ),
                "process": said("direct", "после демо", "after a demo"),
                "timeline": said("band:1", "через полгода", "in six months"),
                "next_step": said("materials", "пришлите материалы", "send me materials"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
    "puzzle": {
        "ideal": Lead(
            {
                "process": said("sales", "отдел продаж", "sales pipeline"),
                "experience": said("replacing", "да, есть система", "yes, we have a system"),
                "pain": said("measurable", "теряем деньги", "we lose money"),
                "decision_chain": said("mapped", "да, знаю всех", "yes, I know them"),
                "vendor": said("criteria", "есть критерии и шорт-лист", "we have a shortlist"),
                "budget_status": said("allocated", "да, выделен", "yes, approved"),
                "budget_amount": said("band:2", "около 15 млн", "about $200k"),
                "deadlines": said("band:0", "в этом квартале", "this quarter"),
                "next_step": said("demo", "хочу поговорить с менеджером", "talk to a manager"),
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            },
            Stage.SQL,
            "A",
            called=True,
        ),
        "no_budget": Lead(
            {
                "process": said("service", "поддержка", "support"),
                "experience": said("partly", "частично, эксель", "partly, spreadsheets"),
                "pain": said("measurable", "теряем деньги", "we lose money"),
                "decision_chain": said("mapped", "да, знаю всех", "yes, I know them"),
                "vendor": said("comparing", "сравниваем", "comparing"),
                "budget_status": said("not_formed", "пока не понятно", "not clear yet"),
                "deadlines": said("band:1", "через полгода", "in six months"),
                "next_step": said("materials", "почитаю материалы", "send me materials"),
                "email": OLEG_EMAIL,
            },
            Stage.NURTURE,
            "C",
        ),
        "student": Lead(
            {"process": said(None, "я студент", "I'm a student")},
            Stage.DISQUALIFIED,
            None,
            "student",
        ),
        "mid": Lead(
            {
                "process": said("operations", "закупки", "procurement"),
                "experience": said("partly", "частично, эксель", "partly, spreadsheets"),
                "pain": said("felt", "неудобно", "it hurts"),
                "decision_chain": said("partly", "частично", "partly"),
                "vendor": said("comparing", "сравниваем", "comparing"),
                "budget_status": said("longer", "в следующем году", "next year"),
                "budget_amount": said("band:1", "около 3 млн", "about $40k"),
                "deadlines": said("band:2", "в течение года", "within a year"),
                "next_step": said("pricing", "пришлите цены", "send me pricing"),
                "name": OLEG,
                "email": OLEG_EMAIL,
            },
            Stage.MQL,
            "B",
        ),
    },
}


@cache
def compiled(flow_id: str) -> CompiledFlow:
    return compile_flow(load_library_flow(flow_id))


def play(open_chat: OpenChat, flow_id: str, lead: Lead, locale: str, *, typing: bool) -> Any:
    """The conversation a lead has: every question asked must be one the lead has an answer for."""
    chat = open_chat(compiled(flow_id), locale)
    for _ in range(3 * len(compiled(flow_id).questions)):
        if chat.state.completed:
            break
        qid = chat.state.state
        assert qid in lead.answers, f"{flow_id}: asked {qid!r}, which this lead has no answer for"
        answer = lead.answers[qid]
        if typing or answer.tap is None:
            chat.say(answer.typed(locale))
        else:
            chat.tap(*answer.tap)
        assert chat.state.attempts == 0, f"{flow_id} {locale}: {qid}: {answer.typed(locale)!r} not understood"
        assert chat.state.state != qid or chat.state.completed, f"{flow_id}: {qid} asked again"
    assert chat.state.completed
    return chat


CASES = [(flow_id, name) for flow_id, leads in LEADS.items() for name in leads]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("flow_id", "name"), CASES)
def test_a_lead_reaches_the_same_stage_and_tier_tapped_and_typed(
    open_chat: OpenChat, flow_id: str, name: str, locale: str
) -> None:
    lead = LEADS[flow_id][name]
    for typing in (False, True):
        chat = play(open_chat, flow_id, lead, locale, typing=typing)
        how = "typed" if typing else "tapped"
        state = chat.state
        assert (state.stage, state.tier, state.knockout) == (lead.stage, lead.tier, lead.knockout), how
        answered = {qid for qid, answer in state.answers.items() if answer.understood}
        assert set(state.path) <= answered, how
        closing = chat.reply.text
        assert (CALL[locale] in closing) == lead.called, (how, closing)
        if lead.knockout is None:
            assert closing == chat.flow.texts(locale).closings[_closing_of(chat)], how


def _closing_of(chat: Any) -> int:
    state = chat.state
    found = closing_index(chat.flow, state.stage.value, state.tier, state.answers, state.facts)
    assert found is not None
    return found


def test_every_shipped_flow_has_its_leads() -> None:
    assert set(LEADS) == set(LIBRARY)
    for flow_id, leads in LEADS.items():
        assert {"ideal", "no_budget", "student", "mid"} <= set(leads), flow_id
