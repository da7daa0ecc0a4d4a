"""The dialogue end to end: a person in Telegram (the fake Bot API over real HTTP) talking to the
real bot (long polling, lanes, outbound) over the real conversation service and database, on
SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiSettings
from bot.render import MAX_DATA
from bot.settings import TelegramSettings
from bot.texts import words
from flows.spec import load_library_flow
from qualibot.settings import Settings
from qualibot.web import build_app
from tests.bot.fake_api import BOT_USERNAME, FakeBotApi, User, buttons, reply_keyboard
from tests.bot.live import MARKUP_FLOW, BotProcess, handled, labels, lead_row, question, say, tap

JSON = dict[str, Any]

RU = words("ru")
OUR_TAGS = re.compile(r"</?i>")


@pytest.fixture
async def live(fake_api: FakeBotApi, engine: AsyncEngine) -> AsyncIterator[BotProcess]:
    async with BotProcess(fake_api, engine) as process:
        yield process


def readable(text: str) -> str:
    """A sent text as Telegram shows it in HTML mode; the text must hold no markup but ours."""
    bare = OUR_TAGS.sub("", text)
    assert "<" not in bare, f"unescaped markup in {text!r}"
    assert not re.search(r"&(?!lt;|gt;|amp;|quot;)", bare), f"unescaped & in {text!r}"
    return bare.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def shown(api: FakeBotApi, user: User) -> list[str]:
    return [readable(t) for t in api.texts(user.id)]


def every_callback_fits(api: FakeBotApi) -> bool:
    return all(
        len(b["callback_data"].encode()) <= MAX_DATA
        for call in api.requests("sendMessage") + api.requests("editMessageReplyMarkup")
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    )


async def conversation_of(live: BotProcess, user: User) -> Any:
    from flows.ports import TELEGRAM, Identity

    cid = await live.service.find_conversation(Identity(TELEGRAM, str(user.id)), open_only=False)
    assert cid is not None
    return await live.service.get_conversation(cid)


# How the person answers each question of the shipped BANT flow (taps by label, or typing), the
# way people type; whatever order the flow asks them in.
TYPED = {
    "budget_amount": "около 2 млн руб",
    "role": "я директор",
    "timing": "через пару месяцев",
    "name": "Иван Петров",
    "email": "Ivan.Petrov@Romashka.ru",
}
TAPPED = {"budget_status": ["approved"], "need": ["lost_leads", "manual_work"], "next_step": ["demo"]}
BANT = load_library_flow("bant")


def label_of(question_id: str, option_id: str) -> str:
    """An option's button label in Russian, as the flow has it now."""
    option = next(o for o in BANT.question_by_id[question_id].options if o.id == option_id)
    return option.label["ru"]


async def test_a_bant_conversation_in_russian_with_taps_and_typing(
    fake_api: FakeBotApi, live: BotProcess, engine: AsyncEngine
) -> None:
    user = User(1001, first_name="Иван", language_code="ru")
    await say(fake_api, user, "/start")
    texts = shown(fake_api, user)
    assert texts[0].startswith("Здравствуйте!")
    assert re.match(r"Вопрос 1 из \d+\n", texts[1])
    asked: list[str] = []
    for _ in range(20):
        state = (await conversation_of(live, user)).conversation.state
        if state.completed:
            break
        waiting, shown_now = state.state, question(fake_api, user)
        asked.append(waiting)
        if waiting == "phone":
            keyboard = reply_keyboard(shown_now)
            assert keyboard is not None
            assert keyboard["keyboard"][0][0] == {"text": "📱 Поделиться номером", "request_contact": True}
            # Someone else's contact is not taken as the person's phone.
            await handled(fake_api, fake_api.user_contact(user, "+79990000000", owner=999))
            assert RU.not_own_contact in shown(fake_api, user)
            await handled(fake_api, fake_api.user_contact(user, "+7 916 123-45-67"))
            assert reply_keyboard(question(fake_api, user)) == {"remove_keyboard": True}
        elif waiting in TYPED:
            await say(fake_api, user, TYPED[waiting])
            # Answered by typing: its buttons are taken away.
            assert buttons(fake_api.message(user.id, shown_now["message_id"])) == []
        else:
            ids = TAPPED.get(waiting)
            chosen = [label_of(waiting, i) for i in ids] if ids else [labels(shown_now)[0]]
            for label in chosen:
                await tap(fake_api, user, label, fake_api.message(user.id, shown_now["message_id"]))
            if waiting == "need":
                assert labels(fake_api.message(user.id, shown_now["message_id"]))[:3] == [
                    "✓ Теряем заявки",
                    "Долго отвечаем клиентам",
                    "✓ Много ручной работы",
                ]
                await tap(fake_api, user, "Готово", fake_api.message(user.id, shown_now["message_id"]))
            # The answered question's keyboard now only shows the choice, ticked.
            assert labels(fake_api.message(user.id, shown_now["message_id"])) == ["✓ " + ", ".join(chosen)]
        if waiting == "budget_amount":
            assert "Записал: около 2 000 000 ₽" in shown(fake_api, user)[-1]
    assert asked[:3] == ["budget_status", "budget_amount", "role"]
    assert {"need", "next_step", "phone", "email"} <= set(asked)
    assert not buttons(fake_api.last(user.id))  # the closing

    lead = await lead_row(engine, user.id)
    assert lead["stage"] == "sql"
    assert lead["phone"] == "+79161234567"  # the shared contact, not the stranger's
    assert lead["email"] == "ivan.petrov@romashka.ru"
    view = await conversation_of(live, user)
    answers = view.conversation.state.answers
    assert answers["budget_status"].value == ["approved"]
    assert answers["budget_amount"].value["min"] == 2_000_000
    assert answers["need"].value == ["lost_leads", "manual_work"]
    assert answers["role"].value == ["owner"]
    assert view.conversation.state.facts["channel"] == "telegram"
    # Every tap was answered, every callback fits Telegram's limit, nothing failed.
    taps_made = [u for u in fake_api.calls if u.method == "answerCallbackQuery"]
    tapped = [q for q in asked if q not in TYPED and q != "phone"]
    assert len(taps_made) == sum(len(TAPPED.get(q) or [""]) for q in tapped) + 1  # and "Готово"
    assert every_callback_fits(fake_api)
    assert RU.failed not in shown(fake_api, user)
    # The consent notice's link to the privacy policy is shown without a preview card.
    consent = next(c for c in fake_api.requests("sendMessage") if "https://" in c.params["text"])
    assert consent.params["link_preview_options"] == {"is_disabled": True}


async def test_texts_are_escaped_and_long_ids_still_fit(fake_api: FakeBotApi, live: BotProcess) -> None:
    user = User(1002)
    first = await say(fake_api, user, f"/start {MARKUP_FLOW}")
    texts = shown(fake_api, user)
    assert texts[0] == "Привет, <b>гость</b> & друг *звёздочка* _курсив_ `код`!"
    assert texts[1] == "Вопрос 1 из 2\nЧто нужно <компании> & *команде*? <script>alert(1)</script>"
    assert labels(first) == ["CRM <&> *звёзды*", "Отчёты _курсив_", "Ничего", "Готово ✅"]
    assert every_callback_fits(fake_api)
    await tap(fake_api, user, "CRM <&> *звёзды*")
    await tap(fake_api, user, "Отчёты _курсив_")
    budget = await tap(fake_api, user, "Готово", fake_api.message(user.id, first["message_id"]))
    assert readable(budget["text"]) == "Вопрос 2 из 2\nБюджет <i>в рублях</i>?"
    closing = await tap(fake_api, user, "Большой & <b>очень</b>")
    assert readable(closing["text"]) == "Спасибо, <b>мы напишем</b>"
    assert labels(fake_api.message(user.id, budget["message_id"])) == ["✓ Большой & <b>очень</b>"]
    answers = (await conversation_of(live, user)).conversation.state.answers
    assert answers["the_question_about_what_the_company_needs_written_very_long_0001"].value == [
        "an_option_whose_id_is_as_long_as_a_flow_file_may_make_it_00001",
        "an_option_whose_id_is_as_long_as_a_flow_file_may_make_it_00002",
    ]
    assert answers["the_question_about_money_which_also_has_a_very_long_identifier_2"].value == [
        "a_large_budget_option_with_an_identifier_as_long_as_allowed_001"
    ]
    assert every_callback_fits(fake_api)


async def test_a_deep_link_records_its_source_and_may_pick_a_flow(
    fake_api: FakeBotApi, live: BotProcess
) -> None:
    ads = User(1101)
    await say(fake_api, ads, "/start src_ads_vk")
    facts = (await conversation_of(live, ads)).conversation.state.facts
    assert facts["deep_link"] == "src_ads_vk"
    assert facts["channel"] == "telegram"
    assert (await conversation_of(live, ads)).conversation.flow_id == "bant"

    picked = User(1102, language_code="en")
    await say(fake_api, picked, "/start meddic-src_partner")
    view = await conversation_of(live, picked)
    assert view.conversation.flow_id == "meddic"
    assert view.conversation.state.facts["deep_link"] == "src_partner"
    assert view.conversation.state.locale == "en"  # from the person's Telegram language

    hostile = User(1103, language_code="de")
    await say(fake_api, hostile, "/start <script> & more")
    view = await conversation_of(live, hostile)
    assert view.conversation.flow_id == "bant"
    assert "deep_link" not in view.conversation.state.facts
    assert view.conversation.state.locale == "ru"  # no German: the bot's default
    # /start again carries on where the person is, it does not open another conversation.
    before = view.conversation.id
    await say(fake_api, hostile, "/start src_other")
    assert shown(fake_api, hostile)[-2] == "Продолжим с того места, где остановились."
    assert (await conversation_of(live, hostile)).conversation.id == before


async def test_a_web_conversation_continues_in_telegram(
    fake_api: FakeBotApi, live: BotProcess, engine: AsyncEngine
) -> None:
    url = str(engine.url.render_as_string(hide_password=False))
    settings = Settings(
        _env_file=None,
        database_url=url,
        log_level="WARNING",
        api=ApiSettings(_env_file=None),
        telegram=TelegramSettings(_env_file=None, bot_username=BOT_USERNAME),
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            started = (await web.post("/v1/conversations", json={"flow": "bant", "locale": "ru"})).json()
            auth = {"Authorization": f"Bearer {started['token']}"}
            cid = started["conversation_id"]
            state = started["state"]
            answered = await web.post(
                f"/v1/conversations/{cid}/messages",
                json={"choice": "approved", "question_id": state["question_id"], "version": state["version"]},
                headers=auth,
            )
            assert answered.json()["state"]["question_id"] == "budget_amount"
            handover = (await web.post(f"/v1/conversations/{cid}/handover/telegram", headers=auth)).json()
            payload = handover["url"].split("?start=")[1]
            assert handover["url"].startswith(f"https://t.me/{BOT_USERNAME}?start=")

            user = User(1201)
            waiting = await say(fake_api, user, f"/start {payload}")
            assert shown(fake_api, user)[-2] == "Продолжаем разговор с сайта."
            assert "Какой порядок суммы?" in waiting["text"]
            await say(fake_api, user, "около 2 млн")

            # The same conversation went on: the web sees the answer given in Telegram.
            seen = (await web.get(f"/v1/conversations/{cid}", headers=auth)).json()
            assert seen["state"]["question_id"] == "role"
            view = await conversation_of(live, user)
            assert str(view.conversation.id) == cid
            assert view.conversation.state.answers["budget_amount"].value["min"] == 2_000_000
            lead = await lead_row(engine, user.id)
            assert uuid.UUID(str(lead["id"])) == view.conversation.lead_id

    # The link was for one use: another person gets a word and a conversation of their own.
    other = User(1202)
    await say(fake_api, other, f"/start {payload}")
    assert shown(fake_api, other)[0] == "Эта ссылка уже использована или устарела."
    assert str((await conversation_of(live, other)).conversation.id) != cid


async def test_commands_stale_buttons_and_what_is_not_text(fake_api: FakeBotApi, live: BotProcess) -> None:
    user = User(1301)
    await say(fake_api, user, "/help")
    assert shown(fake_api, user)[-1].startswith("Я задам несколько коротких вопросов")
    first = copy.deepcopy(await say(fake_api, user, "/start"))  # as the person still sees it
    second = await tap(fake_api, user, "Планируем заложить")
    before = (await conversation_of(live, user)).conversation.version

    # The first question's button again (from the message as it was): nothing changes.
    await tap(fake_api, user, "Да, утверждён", first)
    assert shown(fake_api, user)[-2].startswith("На этот вопрос уже есть ответ")
    assert (await conversation_of(live, user)).conversation.version == before
    assert labels(fake_api.message(user.id, first["message_id"])) == ["✓ Планируем заложить"]

    sent = len(fake_api.texts(user.id))
    for content in (
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "s",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}], "caption": "<b>x</b>"},
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}},
    ):
        await handled(fake_api, fake_api.user_message(user, content))
    await handled(fake_api, fake_api.user_edit(user, "3 млн"))
    hints = shown(fake_api, user)[sent:]
    assert hints == [RU.not_text, RU.not_text, RU.not_text, RU.edited]
    assert RU.not_text.startswith("Я понимаю только текст и кнопки.")
    # A group: nothing is answered there, and nothing is recorded.
    group = {"id": -100500, "type": "supergroup", "title": "Чат"}
    await handled(fake_api, fake_api.user_text(user, "/start", chat=group))
    await handled(fake_api, fake_api.user_text(user, "2 млн", chat=group))
    assert fake_api.texts(-100500) == []
    assert (await conversation_of(live, user)).conversation.version == before

    await say(fake_api, user, "/cancel")
    assert shown(fake_api, user)[-1].startswith("Хорошо, прервёмся.")
    assert buttons(fake_api.message(user.id, second["message_id"])) == []
    resumed = await say(fake_api, user, "/start")
    assert "Какой порядок суммы?" in resumed["text"]
    restarted = await say(fake_api, user, "/restart")
    assert "Вопрос 1 из" in restarted["text"]
    view = await conversation_of(live, user)
    assert view.conversation.state.answers == {}
    assert view.conversation.state.state == "budget_status"
    assert "Что-то пошло не так" not in " ".join(shown(fake_api, user))
