"""The pure translation of a turn into Telegram messages and of callback data back (unit tests)."""

from __future__ import annotations

import uuid

from aiogram.types import LinkPreviewOptions
from hypothesis import given
from hypothesis import strategies as st

from bot.render import MAX_DATA, button_data, done_data, matches, messages, read_tap
from bot.texts import words
from flows.model import Button, Progress, Reply
from flows.service import TurnResult

IDS = st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True) | st.sampled_from(["band:0", "cmd:skip"])


def result(*replies: Reply, version: int = 3) -> TurnResult:
    return TurnResult(
        conversation_id=uuid.UUID(int=0xABCDEF12 << 96),
        lead_id=uuid.uuid4(),
        flow_id="bant",
        locale="ru",
        version=version,
        replies=replies,
        question_id="q",
        progress=Progress(0, 1),
        done=False,
    )


@given(question=IDS, button=IDS, version=st.integers(0, 2**31 - 1))
def test_callback_data_fits_and_reads_back(question: str, button: str, version: int) -> None:
    turn = result(version=version)
    for kind in ("a", "t"):
        data = button_data(kind, turn, question, button)
        assert len(data.encode()) <= MAX_DATA
        tap = read_tap(data)
        assert tap is not None
        assert (tap.kind, tap.conversation, tap.version) == (kind, "abcdef12", version)
        assert matches(tap.question, question)
        assert matches(tap.button, button)
    done = read_tap(done_data(turn, question))
    assert done is not None
    assert done.kind == "d"
    assert matches(done.question, question)


def test_short_ids_travel_as_they_are_and_others_do_not_match() -> None:
    tap = read_tap(button_data("a", result(), "budget_amount", "band:2"))
    assert tap is not None
    assert (tap.question, tap.button) == ("budget_amount", "band:2")
    long_id = "x" * 64
    tagged = read_tap(button_data("a", result(), long_id, long_id))
    assert tagged is not None
    assert tagged.question.startswith("#")
    assert not matches(tagged.question, "x" * 63)


@given(st.text(max_size=80))
def test_data_this_bot_did_not_make_is_not_a_tap(data: str) -> None:
    tap = read_tap(data)
    if tap is not None:  # only what has the shape of ours
        assert data.startswith(("a|", "t|", "d|"))


def test_garbage_is_refused() -> None:
    for data in (
        None,
        "",
        "x",
        "a|abc|1|q|b",
        "a|abcdef12|-1|q|b",
        "a|abcdef12|1|q",
        "a|abcdef12|1||b",
        "z" * 65,
    ):
        assert read_tap(data) is None


def test_everything_from_the_flow_or_the_person_is_escaped() -> None:
    reply = Reply(
        text="<b>Иван</b> & *Co_ `x`",
        buttons=(Button("a", "<i>A</i> & B"),),
        progress=(2, 5),
        question_id="q",
    )
    [message] = messages(result(reply), 42, words("ru"), lead="")
    assert message.parse_mode == "HTML"
    assert message.link_preview_options == LinkPreviewOptions(is_disabled=True)
    assert message.text == "<i>Вопрос 2 из 5</i>\n&lt;b&gt;Иван&lt;/b&gt; &amp; *Co_ `x`"
    markup = message.reply_markup
    assert markup is not None
    assert markup.inline_keyboard[0][0].text == "<i>A</i> & B"  # type: ignore[union-attr]  # labels are plain text
