"""The flow rules sales relies on, on the fixture flow: options understood when typed but never
shown, the consent notice before the first contact question, closings chosen by what the lead
said and gave, a raised hand that is always worth a call, no MQL without a way to reach the lead;
and the loader's file:line: field: message for each new field used wrongly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.compiled import CompiledFlow, compile_flow
from flows.model import Stage
from flows.spec import FlowSpecError, Problem, parse_flow

MINI = (Path(__file__).parent / "fixtures" / "mini.yaml").read_text(encoding="utf-8")
OpenChat = Callable[..., Any]

STUDENT = "      - {id: student, label: {ru: Студент, en: Student}, knockout: student}\n"
HIDDEN_STUDENT = (
    "      - {id: student, label: {ru: Студент, en: Student}, knockout: student, hidden: true,\n"
    "         synonyms: {ru: [я студент, пишу диплом], en: [i'm a student, thesis]}}\n"
)
CONSENT = (
    "consent:\n"
    "  text:\n"
    "    ru: 'Отвечая, вы соглашаетесь на обработку данных (152-ФЗ): {link}'\n"
    "    en: 'By answering you agree to our privacy policy (GDPR): {link}'\n"
    "  link: https://acme.example/privacy\n"
)
CLOSINGS = "closings:\n"
PHONE_CLOSING = (
    "closings:\n"
    "  - {stage: sql, tier: A, when: {question: phone, answered: true},"
    " text: {ru: 'Позвоним по вашему номеру.', en: 'We will call your number.'}}\n"
)


def edited(*changes: tuple[str, str]) -> str:
    text = MINI
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def flow(*changes: tuple[str, str]) -> CompiledFlow:
    return compile_flow(parse_flow(edited(*changes), "mini.yaml"))


def problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(FlowSpecError) as caught:
        parse_flow(text, "mini.yaml")
    return caught.value.problems


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def line_of(text: str, fragment: str) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def strong_lead_to_contacts(chat: Any) -> None:
    """Budget, role, need, team, timing, demo: a strong lead, now at the name question."""
    chat.say("2 млн")
    chat.tap("owner")
    chat.tap("leads", "speed")
    chat.say("12")
    chat.tap("band:1")
    chat.tap("yes")
    assert chat.state.state == "name"


# --------------------------------------------------------------------------- hidden options


def test_a_hidden_option_is_never_a_button_but_is_understood_typed(open_chat: OpenChat) -> None:
    hidden = flow((STUDENT, HIDDEN_STUDENT))
    chat = open_chat(hidden)
    chat.say("2 млн")
    assert chat.state.state == "role"
    assert [b.id for b in chat.reply.buttons] == ["owner", "manager"]
    chat.say("я студент")
    assert chat.state.knockout == "student"
    assert chat.state.stage is Stage.DISQUALIFIED


def test_a_tapped_hidden_option_still_counts(open_chat: OpenChat) -> None:
    """A client that kept an old keyboard can still send the id: it is a valid answer."""
    chat = open_chat(flow((STUDENT, HIDDEN_STUDENT)))
    chat.say("2 млн")
    chat.tap("student")
    assert chat.state.knockout == "student"


MANAGER = "{id: manager, label: {ru: Менеджер, en: Manager}, points: 8}"


def test_a_clarifying_question_never_offers_a_hidden_option(open_chat: OpenChat) -> None:
    # "собственник и менеджер" fits two options equally well: with both shown, the bot asks
    # which one; when one of them is hidden it cannot be a button, so the question is asked again.
    visible = open_chat(flow())
    visible.say("2 млн")
    visible.say("собственник и менеджер")
    assert visible.state.clarify == ("owner", "manager")
    assert [b.id for b in visible.reply.buttons] == ["owner", "manager"]
    hidden = open_chat(flow((MANAGER, MANAGER.replace("points: 8}", "points: 8, hidden: true}"))))
    hidden.say("2 млн")
    hidden.say("собственник и менеджер")
    assert (hidden.state.state, hidden.state.attempts, hidden.state.clarify) == ("role", 1, ())
    assert [b.id for b in hidden.reply.buttons] == ["owner", "student"]
    hidden.say("менеджер")
    assert hidden.state.answers["role"].value == ["manager"]


# --------------------------------------------------------------------------- consent


@pytest.mark.parametrize(
    ("locale", "words"),
    [("ru", "Отвечая, вы соглашаетесь"), ("en", "By answering you agree")],
)
def test_the_consent_notice_comes_once_before_the_first_contact_question(
    open_chat: OpenChat, locale: str, words: str
) -> None:
    chat = open_chat(flow((CLOSINGS, CONSENT + CLOSINGS)), locale)
    strong_lead_to_contacts(chat)
    first, question = chat.reply.text.split("\n")
    assert first.startswith(words)
    assert first.endswith("https://acme.example/privacy")
    assert "{link}" not in first
    assert question == ("Как вас зовут?" if locale == "ru" else "Your name?")
    chat.say("Иван Петров")
    assert chat.state.state == "email"
    assert words not in chat.reply.text
    notices = [r.text for t in chat.turns for r in t.replies if words in r.text]
    assert len(notices) == 1


def test_a_flow_without_consent_shows_no_notice(open_chat: OpenChat) -> None:
    chat = open_chat(flow())
    strong_lead_to_contacts(chat)
    assert chat.reply.text == "Как вас зовут?"


# --------------------------------------------------------------------------- closings and stages


def finish(chat: Any, *, phone: str | None) -> None:
    chat.say("Иван Петров")
    chat.say("ivan@acme.ru")
    chat.tap("cmd:skip")
    if phone is None:
        chat.tap("cmd:skip")
    else:
        chat.say(phone)
    chat.tap("cmd:skip")
    assert chat.state.completed


def test_a_closing_follows_the_contact_actually_given(open_chat: OpenChat) -> None:
    phoned = flow((CLOSINGS, PHONE_CLOSING))
    with_phone = open_chat(phoned)
    strong_lead_to_contacts(with_phone)
    finish(with_phone, phone="+7 999 123-45-67")
    assert with_phone.state.stage is Stage.SQL
    assert with_phone.reply.text == "Позвоним по вашему номеру."
    without = open_chat(phoned)
    strong_lead_to_contacts(without)
    finish(without, phone=None)
    assert without.state.stage is Stage.SQL
    assert without.state.tier == "A"
    assert without.reply.text == "Старший менеджер позвонит сегодня."  # the tier's closing without a when


def test_a_hand_raise_below_the_threshold_is_still_an_mql(open_chat: OpenChat) -> None:
    chat = open_chat(flow())
    chat.tap("band:1")  # a small budget: 10 points
    chat.tap("manager")
    chat.tap("boss")
    chat.tap("reports")
    chat.say("3")
    chat.tap("band:1")
    chat.tap("yes")  # but a demo, please
    finish(chat, phone=None)
    assert chat.state.score is not None
    assert chat.state.score < 40
    assert chat.state.stage is Stage.MQL
    assert chat.last.score is not None
    assert chat.last.score.hand_raise
    switched_off = open_chat(flow(("  mql: 40\n", "  mql: 40\n  hand_raise_mql: false\n")))
    for answer in ("band:1", "manager", "boss", "reports"):
        switched_off.tap(answer)
    switched_off.say("3")
    switched_off.tap("band:1")
    switched_off.tap("yes")
    finish(switched_off, phone=None)
    assert switched_off.state.stage is Stage.NURTURE


def test_an_email_is_enough_for_a_required_contact(open_chat: OpenChat) -> None:
    chat = open_chat(flow(("  mql: 40\n", "  mql: 40\n  contact_required: true\n")))
    strong_lead_to_contacts(chat)
    finish(chat, phone=None)
    assert chat.state.stage is Stage.SQL, "an e-mail is a way back to the lead"


def test_a_required_contact_holds_a_hand_raiser_without_one_in_nurture(open_chat: OpenChat) -> None:
    text = edited(
        ("  mql: 40\n", "  mql: 40\n  contact_required: true\n"),
        (
            '    knockout: no_contact\n    text: {ru: "Ваша почта?"',
            '    required: false\n    text: {ru: "Ваша почта?"',
        ),
    )
    required = compile_flow(parse_flow(text, "mini.yaml"))
    chat = open_chat(required)
    strong_lead_to_contacts(chat)
    chat.say("Иван Петров")
    for _ in range(4):
        chat.tap("cmd:skip")
    assert chat.state.completed
    assert chat.state.score is not None
    assert chat.state.score >= 75
    assert chat.last.score is not None
    assert chat.last.score.hand_raise
    assert chat.state.stage is Stage.NURTURE


# --------------------------------------------------------------------------- the loader


def test_the_loader_names_every_misused_new_field() -> None:
    yes_no = edited(
        (
            '      - {id: "no", label: {ru: "Нет", en: "No"}}',
            '      - {id: "no", label: {ru: "Нет", en: "No"}, hidden: true}',
        ),
    )
    found = only(yes_no)
    assert found.line == line_of(yes_no, "hidden: true}")
    assert found.field == "questions[6].options[1].hidden"
    assert "only choice options can be hidden" in found.message

    owner = "      - {id: owner, label: {ru: Собственник, en: Owner}, synonyms:"
    raised = edited((owner, owner.replace("{id: owner,", "{id: owner, hand_raise: true, hidden: true,")))
    found = only(raised)
    assert (found.field, found.line) == ("questions[1].options[0].hidden", line_of(raised, "hidden: true"))
    assert "a hand-raise is something to offer" in found.message

    two = edited(
        (
            "      - {id: manager, label: {ru: Менеджер, en: Manager}, points: 8}",
            "      - {id: manager, label: {ru: Менеджер, en: Manager}, points: 8, hidden: true}",
        ),
        (STUDENT, HIDDEN_STUDENT),
    )
    found = only(two)
    assert found.field == "questions[1].options"
    assert found.line == line_of(two, "{id: owner,") - 1
    assert "at least 2 options shown as buttons" in found.message


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("{link}'\n    en", "'\n    en", "consent.text.ru", "put {link} where its address goes"),
        (
            "en: 'By answering you agree to our privacy policy (GDPR): {link}'",
            'en: "By answering you agree\\nto our privacy policy (GDPR): {link}"',
            "consent.text.en",
            "must be one line",
        ),
        ("link: https://acme.example/privacy", "link: partners@", "consent.link", "is not a web address"),
        ("link: https://acme.example/privacy", "link: /privacy", "consent.link", "is not a web address"),
        ("    en: 'By answering", "    de: 'By answering", "consent.text.en", "missing the 'en' text"),
    ],
)
def test_a_wrong_consent_notice_is_named_with_its_line(old: str, new: str, field: str, message: str) -> None:
    text = edited((CLOSINGS, CONSENT.replace(old, new) + CLOSINGS))
    found = [p for p in problems(text) if p.field == field]
    assert found, problems(text)
    assert message in found[0].message
    assert found[0].line is not None
    assert found[0].line >= line_of(text, "consent:")
    assert str(found[0]).startswith(f"mini.yaml:{found[0].line}: {field}: ")


def test_a_long_consent_notice_is_refused() -> None:
    text = edited((CLOSINGS, CONSENT.replace("(152-ФЗ)", "(152-ФЗ) " + "очень " * 60) + CLOSINGS))
    found = only(text)
    assert (found.field, found.line) == ("consent.text.ru", line_of(text, "    ru: 'Отвечая"))
    assert "longer than 300 characters" in found.message


def test_consent_needs_a_contact_question_to_come_before() -> None:
    no_contacts = (Path(__file__).parent / "fixtures" / "demo.yaml").read_text(encoding="utf-8")
    assert "kind: email" not in no_contacts
    assert "kind: phone" not in no_contacts
    found = only(no_contacts.replace("\nclosings:\n", "\n" + CONSENT + "closings:\n", 1))
    assert found.field == "consent"
    assert "never be shown" in found.message


def test_a_closing_condition_is_checked_and_never_the_only_fallback() -> None:
    unknown = edited((CLOSINGS, PHONE_CLOSING.replace("question: phone", "question: fax")))
    found = only(unknown)
    assert (found.field, found.line) == ("closings[0].when.question", line_of(unknown, "question: fax"))
    assert "no question 'fax'" in found.message
    guarded = edited(
        (
            '  - {stage: sql, text: {ru: "Менеджер позвонит.", en: "A rep will call."}}',
            "  - {stage: sql, when: {question: phone, answered: true},"
            ' text: {ru: "Менеджер позвонит.", en: "A rep will call."}}',
        )
    )
    found = only(guarded)
    assert found.field == "closings"
    assert "no closing for stage 'sql' without a tier and a when" in found.message


def test_a_required_contact_needs_an_email_or_phone_question() -> None:
    demo = (Path(__file__).parent / "fixtures" / "demo.yaml").read_text(encoding="utf-8")
    assert demo.count("scoring: {mql: 50,") == 1
    text = demo.replace("scoring: {mql: 50,", "scoring: {contact_required: true, mql: 50,")
    found = only(text)
    assert (found.field, found.line) == ("scoring.contact_required", line_of(text, "contact_required"))
    assert "asks for no e-mail or phone" in found.message


NURTURE_IF = ("  mql: 40\n", "  mql: 40\n  nurture_if: {question: budget, lt: 1500000}\n")


def test_nurture_if_keeps_a_strong_lead_in_nurture_unless_a_hand_is_raised(open_chat: OpenChat) -> None:
    held = flow(NURTURE_IF)
    quiet = open_chat(held)
    quiet.say("1 млн")
    quiet.tap("owner")
    quiet.tap("leads", "speed")
    quiet.say("12")
    quiet.tap("band:1")
    quiet.tap("no")
    finish(quiet, phone=None)
    assert quiet.state.score is not None
    assert quiet.state.score >= 40
    assert quiet.state.stage is Stage.NURTURE
    raised = open_chat(held)
    strong_lead_to_contacts(raised)  # 2 млн: the condition does not hold
    finish(raised, phone=None)
    assert raised.state.stage is Stage.SQL
    small_raised = open_chat(held)
    small_raised.say("1 млн")
    for answer in ("owner", "leads"):
        small_raised.tap(answer)
    small_raised.say("12")
    small_raised.tap("band:1")
    small_raised.tap("yes")
    finish(small_raised, phone=None)
    assert small_raised.state.stage is Stage.MQL, "a raised hand is a call, but not an SQL"


def test_a_nurture_if_that_can_never_hold_is_named() -> None:
    text = edited(("  mql: 40\n", "  mql: 40\n  nurture_if: {question: role, gte: 3}\n"))
    found = only(text)
    assert (found.field, found.line) == ("scoring.nurture_if", line_of(text, "nurture_if"))
    assert "never holds on the choice question 'role'" in found.message
