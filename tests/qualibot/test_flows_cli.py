"""``qualibot flows check`` and ``qualibot flows simulate``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.catalog import FlowCatalog, FlowEntry
from flows.spec import LIBRARY, library_path, load_library_flow
from qualibot.cli import main

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "flows" / "fixtures"
DEMO = FIXTURES / "demo.yaml"
EXAMPLE = DEMO.read_text(encoding="utf-8")


def qualibot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qualibot.cli", "flows", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    text = EXAMPLE.replace("    dimension: authority\n", "    dimension: autority\n").replace(
        "weight: 40}\nquestions", "weight: 30}\nquestions"
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_check_says_ok_for_good_files(good: Path) -> None:
    result = qualibot("check", str(good), str(library_path("bant")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"ok {good} (demo v1, 2 questions)",
        f"ok {library_path('bant')} (bant v2, 11 questions)",
    ]


def test_check_prints_every_problem_with_file_line_and_field_and_fails(good: Path, broken: Path) -> None:
    result = qualibot("check", str(broken), str(good))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    text = broken.read_text(encoding="utf-8").splitlines()
    dimension_line = next(n for n, line in enumerate(text, start=1) if "autority" in line)
    dimensions_line = next(n for n, line in enumerate(text, start=1) if line == "dimensions:")
    assert f"{broken}:{dimensions_line}: dimensions: the weights add up to 70, but scoring.fit is 80" in lines
    wrong = "questions[1].dimension: no dimension 'autority' (have: budget, authority)"
    assert f"{broken}:{dimension_line}: {wrong}" in lines
    assert lines[-1] == f"ok {good} (demo v1, 2 questions)"


def test_check_reports_a_file_that_is_not_there(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = qualibot("check", str(missing))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{missing}: cannot read the file")


def test_simulate_a_file_as_json(good: Path) -> None:
    result = qualibot("simulate", str(good), "--json")
    # The demo flow asks no e-mail or phone: a problem, so the command fails.
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    # Cold and warm visitors: no budget (1), or an amount then the role (ceo, student, not
    # understood: 3) for each of the two amounts, or an amount not understood (1): 8 each.
    assert report["paths"] == 16
    assert report["exhaustive"] is True
    assert (report["min_score"], report["max_score"]) == (0, 100)
    # The CEO raises a hand: a cold visitor with the small amount is below the MQL threshold and
    # still an MQL (a person who asks for a call gets one).
    assert report["stages"] == {"disqualified": 6, "nurture": 5, "mql": 2, "sql": 3}
    assert report["knockouts"] == {"no_budget": 6}
    # Every MQL and SQL, none with a contact; the first is that cold CEO (5 + 40 = 45).
    assert [(f["code"], f["paths"]) for f in report["findings"]] == [("no_contact", 5)]
    assert report["findings"][0]["path"] == {
        "steps": [
            {"question": "facts", "answer": "cold"},
            {"question": "budget", "answer": "band:1"},
            {"question": "role", "answer": "ceo"},
        ],
        "total": 45,
        "stage": "mql",
        "tier": "B",
        "knockout": None,
    }
    assert report["best"]["steps"][0] == {"question": "facts", "answer": "warm"}


def test_simulate_prints_each_problem_with_a_path_and_fails() -> None:
    result = qualibot("simulate", str(FIXTURES / "sim_call_without_phone.yaml"))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("problems:")
    assert lines[at + 1].startswith("  call_without_phone: closings[0] (sql/A) promises a call, and ")
    assert lines[at + 2].startswith("    e.g. ")
    assert ", sql/A: facts=" in lines[at + 2]
    assert "phone=not_understood" in lines[at + 2] or "phone=skipped" in lines[at + 2]
    assert lines[at + 3].startswith("best path: ")


def test_simulate_a_flow_without_problems_succeeds() -> None:
    result = qualibot("simulate", str(FIXTURES / "sim_clean.yaml"))
    assert result.returncode == 0, result.stdout
    assert "\nproblems: none\n" in result.stdout


def test_simulate_a_shipped_flow_by_id_in_words() -> None:
    result = qualibot("simulate", "puzzle", "--limit", "300", "--seed", "3")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "\nproblems: none\n" in out
    spec = load_library_flow("puzzle")
    assert out.startswith(f"puzzle v{spec.version}: {len(spec.questions)} questions, ")
    assert "a sample: more than 300 paths, seed 3" in out
    assert "stages: disqualified " in out
    assert "questions never asked: none" in out
    assert "best path: " in out


def test_simulate_an_unknown_flow_fails_with_the_reason(tmp_path: Path) -> None:
    result = qualibot("simulate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "cannot read the file" in result.stderr


def test_simulate_refuses_a_limit_below_one() -> None:
    result = qualibot("simulate", "bant", "--limit", "0")
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


def test_the_flows_commands_load_no_server_library(good: Path) -> None:
    code = (
        "import sys, contextlib, io\n"
        "from qualibot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['flows', 'check', {str(good)!r}])\n"
        f"    main(['flows', 'simulate', {str(good)!r}, '--json'])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'aiogram', 'fastapi', 'sqlalchemy', "
        "'starlette', 'httpx', 'aiosqlite', 'asyncpg'})\n"
        "print(','.join(loaded) or 'none')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "none"


@pytest.mark.parametrize("flow_id", LIBRARY)
def test_every_shipped_flow_checks_ok(flow_id: str) -> None:
    result = qualibot("check", str(library_path(flow_id)))
    assert result.returncode == 0, result.stdout
    spec = load_library_flow(flow_id)
    assert (
        result.stdout
        == f"ok {library_path(flow_id)} ({flow_id} v{spec.version}, {len(spec.questions)} questions)\n"
    )


def test_check_goes_on_after_hostile_files(tmp_path: Path, good: Path) -> None:
    files = {
        "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "unhashable.yaml": "? [a, b]\n: c\n",
        "merge.yaml": "base: &b {id: x}\nother:\n  <<: *b\n",
        "tag.yaml": "id: !!python/object/apply:os.system [true]\n",
        "deep.yaml": "id: " + "[" * 10_000 + "]" * 10_000 + "\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "folder.yaml").mkdir()
    names = [*files, "binary.yaml", "folder.yaml", "missing.yaml"]
    result = qualibot("check", *(str(tmp_path / name) for name in names), str(good))
    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(names) + 1, lines
    for name, line in zip(names, lines, strict=False):
        assert line.startswith(f"{tmp_path / name}:"), line
    assert lines[-1] == f"ok {good} (demo v1, 2 questions)"


def test_check_reports_a_flow_that_cannot_be_built_and_goes_on(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = FlowCatalog.add

    def add(self: FlowCatalog, source: str, file: str = "<flow>") -> FlowEntry:
        if file == "first.yaml":
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, source, file)

    monkeypatch.setattr(FlowCatalog, "add", add)
    monkeypatch.chdir(good.parent)
    Path("first.yaml").write_text(EXAMPLE, encoding="utf-8")
    assert main(["flows", "check", "first.yaml", str(good)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "first.yaml: the flow cannot be built: RecursionError: maximum recursion depth exceeded",
        f"ok {good} (demo v1, 2 questions)",
    ]
