"""The words the bot says itself (commands, hints, buttons), in Russian and English.

The flow brings the questions, options and closings; these are only the Telegram adapter's own
words around them. ``words(locale)`` falls back to Russian, the default locale of the shipped flows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Words:
    progress: str  # "Вопрос {number} из {total}"
    help: str
    cancelled: str
    not_text: str
    edited: str
    not_own_contact: str
    share_phone: str
    done: str
    pick_one: str
    link_used: str
    continued: str
    resumed: str
    old_button: str
    failed: str


_RU = Words(
    progress="Вопрос {number} из {total}",
    help=(
        "Я задам несколько коротких вопросов, чтобы понять, чем мы можем помочь.\n"
        "Отвечайте кнопками или своими словами, например «около 2 млн» или «через пару месяцев».\n\n"
        "/start — продолжить с того места, где остановились\n"
        "/restart — начать сначала\n"
        "/cancel — прерваться (ответы сохранятся)\n"
        "«назад» — вернуться к прошлому вопросу\n"
        "/help — эта подсказка"
    ),
    cancelled="Хорошо, прервёмся. Ответы сохранены: /start — продолжить, /restart — начать сначала.",
    not_text="Я понимаю только текст и кнопки. Ответьте, пожалуйста, словами или кнопкой.",
    edited=(
        "Изменённые сообщения я не перечитываю. Если ответ нужно поправить, напишите «назад» "
        "и ответьте заново."
    ),
    not_own_contact="Пожалуйста, поделитесь своим номером кнопкой ниже или напишите его.",
    share_phone="📱 Поделиться номером",
    done="Готово ✅",
    pick_one="Отметьте хотя бы один вариант, затем нажмите «Готово».",
    link_used="Эта ссылка уже использована или устарела.",
    continued="Продолжаем разговор с сайта.",
    resumed="Продолжим с того места, где остановились.",
    old_button="Эта кнопка из прошлого разговора. Продолжим отсюда:",
    failed="Что-то пошло не так с вашим сообщением. Попробуйте ещё раз через минуту.",
)

_EN = Words(
    progress="Question {number} of {total}",
    help=(
        "I'll ask a few short questions to see how we can help.\n"
        'Answer with the buttons or in your own words, e.g. "about $20k" or "next quarter".\n\n'
        "/start — carry on where you left off\n"
        "/restart — start over\n"
        "/cancel — stop for now (your answers are kept)\n"
        '"back" — go back to the previous question\n'
        "/help — this help"
    ),
    cancelled="OK, let's stop here. Your answers are kept: /start to carry on, /restart to start over.",
    not_text="I only understand text and buttons. Please answer in words or with a button.",
    edited='I don\'t re-read edited messages. To change an answer, type "back" and answer again.',
    not_own_contact="Please share your own number with the button below, or type it.",
    share_phone="📱 Share my phone number",
    done="Done ✅",
    pick_one='Tick at least one option, then press "Done".',
    link_used="This link has already been used or has expired.",
    continued="Let's carry on with the conversation from the website.",
    resumed="Let's carry on where we left off.",
    old_button="That button is from an earlier conversation. Here is where we are:",
    failed="Something went wrong with your message. Please try again in a minute.",
)

_WORDS = {"ru": _RU, "en": _EN}


def words(locale: str | None) -> Words:
    return _WORDS.get((locale or "")[:2].lower(), _RU)


def language(code: str | None) -> str | None:
    """The bot's language for a Telegram ``language_code`` ("ru", "en-US", "uk"), if it has one."""
    short = (code or "")[:2].lower()
    return short if short in _WORDS else None
