"""parse(): one entry point, JSON-ready dicts, "understood" always present."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flows.extract import KINDS, parse

NOW = datetime(2026, 11, 23, tzinfo=UTC)
FIELDS = {
    "money": {"understood", "min", "max", "currency", "unlimited"},
    "number": {"understood", "value"},
    "timeline": {"understood", "days"},
    "yes_no": {"understood", "value", "certain"},
    "email": {"understood", "value", "free", "disposable"},
    "phone": {"understood", "value"},
    "name": {"understood", "value", "lowercase", "gibberish"},
    "company": {"understood", "value", "gibberish"},
    "text": {"understood", "value", "gibberish"},
    "choice": {"understood", "ids", "clarify", "certain"},
    "multi_choice": {"understood", "ids", "clarify", "certain"},
}


def test_kinds() -> None:
    assert set(KINDS) == set(FIELDS)


@pytest.mark.parametrize("kind", sorted(FIELDS))
@pytest.mark.parametrize("text", ["", "около 2 млн руб", "ivan@gmail.com", "8 916 123 45 67", "<b>x</b>"])
def test_every_kind_has_its_fields(kind: str, text: str) -> None:
    result = parse(kind, text, "ru", NOW)
    assert set(result) == FIELDS[kind]
    assert isinstance(result["understood"], bool)
    json.dumps(result, ensure_ascii=False, allow_nan=False)


def test_whole_amounts_are_ints_and_fractions_stay_floats() -> None:
    result = parse("money", "1,5 млн", "ru", NOW)
    assert result["min"] == 1_500_000
    assert type(result["min"]) is int
    fraction = parse("number", "2,5", "ru", NOW)
    assert fraction["value"] == 2.5
    assert type(fraction["value"]) is float


def test_text_is_cleaned_before_it_is_understood() -> None:
    assert parse("money", "<b>1\u200b000</b> руб", "ru", NOW)["min"] == 1000
    assert parse("company", "<script>x</script>", "ru", NOW) == {
        "understood": False,
        "value": None,
        "gibberish": False,
    }


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        parse("colour", "red")


def test_now_defaults_to_the_current_time() -> None:
    assert parse("timeline", "через 2 недели", "ru") == {"understood": True, "days": 14}
