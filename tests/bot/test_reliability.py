"""No update lost or doubled: redeliveries, two processes at once, a burst from one person, a
hundred people tapping at once, a storm of 429s; the real bot over the real service and database
(SQLite and PostgreSQL) against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from flows.ports import TELEGRAM, Identity
from tests.bot.fake_api import FakeBotApi, Throttle, User, buttons
from tests.bot.live import BotProcess, handled, labels, question, say

JSON = dict[str, Any]


async def conversation(process: BotProcess, user: User) -> Any:
    cid = await process.service.find_conversation(Identity(TELEGRAM, str(user.id)), open_only=False)
    assert cid is not None
    return await process.service.get_conversation(cid)


def said(view: Any) -> list[str]:
    """What the person sent, in the order the transcript has it."""
    return [
        m.text for m in view.transcript if m.direction == "in" and m.kind in ("text", "choice", "contact")
    ]


async def test_a_redelivered_update_changes_nothing(fake_api: FakeBotApi, engine: AsyncEngine) -> None:
    user = User(2001)
    async with BotProcess(fake_api, engine) as first:
        await say(fake_api, user, "/start")
        tapped = fake_api.user_tap(user, question(fake_api, user), "Да, утверждён")
        await handled(fake_api, tapped)
        typed = fake_api.user_text(user, "около 2 млн")
        await handled(fake_api, typed)
        before = await conversation(first, user)
    assert before.conversation.state.state == "role"

    # A new process gets both updates again (as after a crash before they were acknowledged).
    async with BotProcess(fake_api, engine) as second:
        fake_api.redeliver(tapped)
        fake_api.redeliver(typed)
        sent = len(fake_api.texts(user.id))
        await fake_api.wait_for(
            lambda: len(fake_api.texts(user.id)) >= sent + 2, what="the first results again"
        )
        await second.telegram.runtime.join()
        after = await conversation(second, user)
    assert after.conversation.version == before.conversation.version
    assert said(after) == said(before) == ["approved", "около 2 млн"]
    assert after.conversation.state.answers == before.conversation.state.answers
    # The person sees the question they are at (again), not a question further on.
    assert "Какая у вас роль" in fake_api.texts(user.id)[-1]


async def test_two_processes_taking_the_same_update_make_one_turn(
    fake_api: FakeBotApi, engine: AsyncEngine
) -> None:
    users = [User(2100 + n) for n in range(5)]
    async with BotProcess(fake_api, engine) as one, BotProcess(fake_api, engine) as two:
        for user in users:
            await handled(fake_api, fake_api.user_text(user, "/start"))
        await one.telegram.runtime.join()
        await two.telegram.runtime.join()
        # Both processes poll the same updates: every answer reaches both of them at once.
        updates = [fake_api.user_text(user, "да, утверждён") for user in users]
        await handled(fake_api, updates[-1])
        await one.telegram.runtime.join()
        await two.telegram.runtime.join()
        assert one.telegram.runtime.handled > len(users)
        assert two.telegram.runtime.handled > len(users)
        for user in users:
            view = await conversation(one, user)
            assert said(view) == ["да, утверждён"]
            assert view.conversation.state.answers["budget_status"].value == ["approved"]
            assert view.conversation.version == 2  # started (1), one answer (2): never two


async def test_a_burst_of_twenty_messages_from_one_person_in_order(
    fake_api: FakeBotApi, engine: AsyncEngine
) -> None:
    user = User(2201)
    # Quick typing: the first three answers, then whatever comes to mind, all before any reply.
    burst = ["да, утверждён", "около 2 млн", "я директор", *(f"сообщение {n}" for n in range(17))]
    async with BotProcess(fake_api, engine) as process:
        await say(fake_api, user, "/start")
        start = (await conversation(process, user)).conversation.version
        sent = len(fake_api.texts(user.id))
        updates = [fake_api.user_text(user, words) for words in burst]
        await handled(fake_api, updates[-1], within=60)
        view = await conversation(process, user)
    assert said(view) == burst  # every one, once, in the order sent
    assert view.conversation.version == start + 20
    answers = view.conversation.state.answers
    assert answers["budget_status"].value == ["approved"]
    assert answers["budget_amount"].value["min"] == 2_000_000
    assert answers["role"].value == ["owner"]
    # Each message was answered (a question, a hint, a re-ask), and in the transcript's order.
    replies = [m.text for m in view.transcript if m.direction == "out"]
    assert len(fake_api.texts(user.id)) - sent >= 20
    assert fake_api.texts(user.id)[-1].endswith(replies[-1].split("\n")[-1])


async def test_a_hundred_people_tapping_at_once(fake_api: FakeBotApi, engine: AsyncEngine) -> None:
    users = [User(30_000 + n) for n in range(100)]
    async with BotProcess(fake_api, engine) as process:
        starts = [fake_api.user_text(user, "/start") for user in users]
        await handled(fake_api, starts[-1], within=60)
        await process.telegram.runtime.join()
        firsts = {user.id: question(fake_api, user) for user in users}
        taps = [fake_api.user_tap(user, firsts[user.id], "Да, утверждён") for user in users]
        await handled(fake_api, taps[-1], within=60)
        await process.telegram.runtime.join()
        for user in users:
            view = await conversation(process, user)
            assert view.conversation.state.state == "budget_amount"
            assert said(view) == ["approved"]
            assert labels(fake_api.message(user.id, firsts[user.id]["message_id"])) == ["✓ Да, утверждён"]
            assert "Какой порядок суммы?" in question(fake_api, user)["text"]
    answered = {c.params["callback_query_id"] for c in fake_api.requests("answerCallbackQuery")}
    assert answered == {t["callback_query"]["id"] for t in taps}


async def test_a_storm_of_429s_delays_messages_but_drops_none(
    fake_api: FakeBotApi, engine: AsyncEngine
) -> None:
    users = [User(4000 + n) for n in range(6)]
    fake_api.throttles.append(Throttle("sendMessage", count=25, retry_after=1))
    fake_api.throttles.append(Throttle("editMessageReplyMarkup", count=4, retry_after=1))
    async with BotProcess(fake_api, engine) as process:
        for user in users:
            fake_api.user_text(user, "/start")
        await fake_api.wait_for(
            lambda: all(len(fake_api.texts(u.id)) == 2 for u in users), within=60, what="every greeting"
        )
        for user in users:
            fake_api.user_tap(user, question(fake_api, user), "Да, утверждён")
        await fake_api.wait_for(
            lambda: all(len(fake_api.texts(u.id)) == 3 for u in users),
            within=60,
            what="every second question",
        )
        for user in users:
            fake_api.user_text(user, "около 2 млн")
        last = fake_api.user_text(users[-1], "я директор")
        await handled(fake_api, last, within=90)
        await process.telegram.runtime.join()
        assert process.outbound_flood_waits == 29
    for user in users[:-1]:
        texts = fake_api.texts(user.id)
        assert len(texts) == 4
        assert texts[0].startswith("Здравствуйте!")
        assert "Какая у вас роль" in texts[3]
        assert buttons(fake_api.last(user.id))
    assert "Что хотите улучшить" in fake_api.texts(users[-1].id)[-1]
    # Each refused request was sent again after exactly the wait Telegram asked for.
    for refused, retried in itertools.pairwise(fake_api.calls):
        if refused.status == 429 and retried.method == refused.method and retried.params == refused.params:
            assert retried.at - refused.at >= 1.0


async def test_a_tap_is_not_held_up_by_another_chat_for_a_slow_turn(
    fake_api: FakeBotApi, engine: AsyncEngine
) -> None:
    """While one person's turn waits on Telegram, another's button is answered and their turn taken."""
    slow, quick = User(5001), User(5002)
    async with BotProcess(fake_api, engine):
        await say(fake_api, slow, "/start")
        await say(fake_api, quick, "/start")
        gate = asyncio.Event()

        async def hold(call: Any) -> None:
            if call.method == "sendMessage" and call.params.get("chat_id") == slow.id:
                await gate.wait()

        fake_api.on_call = hold
        fake_api.user_tap(slow, question(fake_api, slow), "Да, утверждён")
        fake_api.user_tap(quick, question(fake_api, quick), "Да, утверждён")
        await fake_api.wait_for(
            lambda: "Какой порядок суммы?" in question(fake_api, quick)["text"],
            what="the quick person's turn",
        )
        assert len(fake_api.requests("answerCallbackQuery")) == 2
        gate.set()
        await fake_api.wait_for(lambda: "Какой порядок суммы?" in question(fake_api, slow)["text"])
