"""`qualibot parse`: one answer or a JSON-lines stream, printed as JSON; no server libraries."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualibot.commands import parse as parse_command

NOW = "2026-11-23T00:00:00+00:00"
SERVER_LIBRARIES = ("aiogram", "fastapi", "starlette", "sqlalchemy", "httpx", "structlog")


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "parse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="qualibot")
    parse_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["parse", *argv])
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_answer_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["money", "около 2 млн руб"], capsys)
    assert code == 0
    assert out.count("\n") == 1
    assert json.loads(out) == {
        "understood": True,
        "min": 2000000,
        "max": 2000000,
        "currency": "RUB",
        "unlimited": False,
    }


def test_output_is_not_ascii_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["name", "иван петров"], capsys)
    assert "иван петров" in out
    assert json.loads(out)["lowercase"] is True


def test_locale_and_now(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["timeline", "next quarter", "--locale", "en", "--now", NOW], capsys)
    assert json.loads(out) == {"understood": True, "days": 39}
    _, out, _ = _run(["phone", "8 (916) 123-45-67", "--locale", "en"], capsys)
    assert json.loads(out) == {"understood": False, "value": None}


def test_unknown_kind_and_missing_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["colour", "red"], capsys)
    assert code == 2
    assert json.loads(out)["understood"] is False
    assert "unknown kind" in json.loads(out)["error"]
    code, out, err = _run(["money"], capsys)
    assert (code, out) == (2, "")
    assert "KIND and TEXT" in err
    code, _, err = _run(["money", "5", "--jsonl"], capsys)
    assert code == 2
    assert "--jsonl" in err


def test_jsonl_stream_keeps_order_and_survives_bad_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.dumps({"kind": "phone", "text": "8 (916) 123-45-67"}),
        "not json",
        json.dumps({"kind": "nope", "text": "x"}),
        "",
        json.dumps({"kind": "timeline", "text": "в марте", "now": NOW}),
        json.dumps(["a", "list"]),
        json.dumps({"kind": "money", "text": 5}),
        json.dumps({"kind": "yes_no", "text": "yep", "locale": "en"}),
        json.dumps({"kind": "yes_no", "text": "да", "locale": "fr"}),
        json.dumps({"kind": "timeline", "text": "Q3", "now": "yesterday"}),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = _run(["--jsonl"], capsys)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(lines) - 1  # the blank line is skipped
    assert results[0] == {"understood": True, "value": "+79161234567"}
    assert results[3] == {"understood": True, "days": 98}
    assert results[6] == {"understood": True, "value": True, "certain": True}
    for index in (1, 2, 4, 5, 7, 8):
        assert results[index]["understood"] is False
        assert results[index]["error"]


def test_jsonl_stream_survives_deep_nesting_extreme_moments_and_wrong_types(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [
        "[" * 200_000,
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
        json.dumps({"kind": "timeline", "text": "через год", "now": "9999-12-31T23:59:59"}),
        json.dumps({"kind": "timeline", "text": "через год", "now": "0001-01-01T00:00:00"}),
        json.dumps({"kind": ["money"], "text": "5"}),
        json.dumps({"kind": "money", "text": {"a": 1}}),
        json.dumps({"kind": "money", "text": "5", "locale": 5}),
        json.dumps({"kind": "money", "text": "5", "now": 1e308}),
        json.dumps({"kind": "choice", "text": "2", "options": "owner"}),
        json.dumps({"kind": "choice", "text": "2", "options": [5]}),
        json.dumps({"kind": "choice", "text": "2", "options": [{"id": 5, "phrases": ["x"]}]}),
        json.dumps({"kind": "choice", "text": "2", "options": [{"id": "a", "phrases": "x"}]}),
        "1e999",
        '"\\ud800"',
    ]
    good = json.dumps(
        {
            "kind": "choice",
            "text": "второй",
            "options": [{"id": "a", "phrases": ["A"]}, {"id": "b", "phrases": ["B"]}],
        }
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([*bad, good]) + "\n"))
    code, out, err = _run(["--jsonl"], capsys)
    assert (code, err) == (0, "")
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(bad) + 1
    for result in results[:-1]:
        assert result["understood"] is False
        assert result["error"]
    assert results[0]["error"] == "the line is nested too deeply"
    assert "1900-2200" in results[2]["error"]
    assert results[-1] == {"understood": True, "ids": ["b"], "clarify": [], "certain": True}


def test_an_extreme_now_or_bad_options_is_a_clear_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(["timeline", "через год", "--now", "9999-12-31T23:59:59"], capsys)
    assert (code, err) == (2, "")
    assert "1900-2200" in json.loads(out)["error"]
    code, out, _ = _run(["choice", "2", "--options", "[[[["], capsys)
    assert code == 2
    assert json.loads(out)["understood"] is False
    code, out, _ = _run(
        ["choice", "второй", "--options", '[{"id": "a", "phrases": ["A"]}, {"id": "b", "phrases": ["B"]}]'],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["ids"] == ["b"]


def test_cli_subprocess_single_and_jsonl() -> None:
    done = _cli("money", "$50k", "--locale", "en")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "understood": True,
        "min": 50000,
        "max": 50000,
        "currency": "USD",
        "unlimited": False,
    }
    stream = "\n".join(
        json.dumps({"kind": kind, "text": text, "locale": "ru", "now": NOW}, ensure_ascii=False)
        for kind, text in [("number", "человек 50"), ("timeline", "к концу года"), ("email", "A@Gmail.com")]
    )
    done = _cli("--jsonl", stdin=stream + "\n")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"understood": True, "value": 50},
        {"understood": True, "days": 38},
        {"understood": True, "value": "a@gmail.com", "free": True, "disposable": False},
    ]


def _assert_loads_no_server_library(run: str) -> None:
    """Run ``run`` (Python lines) in a fresh interpreter, then check what it imported."""
    code = (
        run
        + f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_LIBRARIES!r})\n"
        + "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_running_the_command_loads_no_server_library() -> None:
    _assert_loads_no_server_library(
        "import argparse, contextlib, io, sys\n"
        "from qualibot.commands import parse\n"
        "parser = argparse.ArgumentParser()\n"
        "parse.add_parser(parser.add_subparsers())\n"
        "args = parser.parse_args(['parse', 'money', 'около 2 млн руб'])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert args.func(args) == 0\n"
    )


def test_the_cli_entry_point_loads_no_server_library_either() -> None:
    _assert_loads_no_server_library(
        "import contextlib, io, sys\n"
        "from qualibot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['parse', 'timeline', 'next quarter', '--locale', 'en']) == 0\n"
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["money", "timeline", "choice", "multi_choice", "phone", "x"]) | JSON_VALUES,
        "text": st.text(max_size=60) | JSON_VALUES,
        "locale": st.sampled_from(["ru", "en", "fr"]) | JSON_VALUES,
        "now": st.datetimes().map(lambda moment: moment.isoformat()) | JSON_VALUES,
        "options": JSON_VALUES,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS | JSON_VALUES, min_size=1, max_size=8))
def test_any_json_lines_give_one_json_object_each(records: list[object]) -> None:
    source = io.StringIO("\n".join(json.dumps(record) for record in records) + "\n")
    out = io.StringIO()
    assert parse_command._stream(source, out) == 0
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(results) == len(records)
    assert all(isinstance(result["understood"], bool) for result in results)
