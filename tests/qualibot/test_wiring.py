"""Loading the flow catalog: a bad file in QUALIBOT_FLOWS_DIR never stops the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from flows.catalog import FlowCatalog, FlowEntry
from flows.spec import LIBRARY, library_path, load_library_flow
from qualibot.settings import Settings
from qualibot.wiring import load_catalog

DEMO = Path(__file__).resolve().parents[1] / "flows" / "fixtures" / "demo.yaml"


def test_every_shipped_flow_is_loaded_without_a_flows_dir() -> None:
    catalog = load_catalog(Settings(flows_dir=None))
    for flow_id in LIBRARY:
        assert catalog.current(flow_id).spec.id == flow_id


def test_own_flows_load_and_broken_ones_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: broken\nversion: [\n", encoding="utf-8")
    catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("demo").spec.version == 1
    assert catalog.current("bant").spec.id == "bant"


def test_an_edited_flow_with_the_same_version_keeps_the_shipped_one(tmp_path: Path) -> None:
    shipped = library_path("bant").read_text(encoding="utf-8")
    (tmp_path / "bant.yaml").write_text(
        shipped.replace("greeting:", "# edited\ngreeting:", 1), encoding="utf-8"
    )
    catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("bant").source == shipped


def test_a_newer_version_replaces_the_shipped_flow(tmp_path: Path) -> None:
    shipped = library_path("bant").read_text(encoding="utf-8")
    version = load_library_flow("bant").version
    assert f"\nversion: {version}\n" in shipped
    (tmp_path / "bant.yaml").write_text(
        shipped.replace(f"\nversion: {version}\n", f"\nversion: {version + 1}\n", 1), encoding="utf-8"
    )
    catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("bant").spec.version == version + 1


def _hostile_folder(folder: Path) -> dict[str, str]:
    """A folder of broken flow files beside one good one; file name -> what is wrong with it."""
    demo = DEMO.read_text(encoding="utf-8")
    files: dict[str, bytes] = {
        "aliases.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n".encode()
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "unhashable.yaml": b"? [a, b]\n: c\n",
        "merge.yaml": demo.replace("  - id: role\n", "  - <<: {id: role}\n").encode(),
        "tag.yaml": b"id: !!python/object/apply:os.system [true]\n",
        "deep.yaml": b"id: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
        "binary.yaml": bytes(range(256)),
        "utf16.yaml": b"\xff\xfe" + demo.encode("utf-16-le"),
        "huge.yaml": b"# " + b"x" * (1024 * 1024) + b"\n",
        "range.yaml": demo.replace("version: 1\n", "version: 2147483648\n").encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "folder.yaml").mkdir()
    (folder / "dangling.yaml").symlink_to(folder / "nowhere")
    (folder / "good.yaml").write_text(demo, encoding="utf-8")
    return {name: name for name in [*files, "folder.yaml", "dangling.yaml"]}


def test_every_kind_of_broken_file_is_logged_and_skipped(tmp_path: Path) -> None:
    broken = _hostile_folder(tmp_path)
    with capture_logs() as logs:
        catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("demo").spec.version == 1
    for flow_id in LIBRARY:
        assert catalog.current(flow_id).spec.id == flow_id
    logged = {Path(entry["file"]).name: entry for entry in logs if entry["log_level"] == "error"}
    assert set(logged) == set(broken)
    assert all(entry["event"] == "flow_invalid" and entry["problems"] for entry in logged.values())
    assert "the alias *e repeats 66,430 values" in logged["aliases.yaml"]["problems"][0]
    assert "2147483647" in str(logged["range.yaml"]["problems"])


def test_a_file_that_fails_to_build_is_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "demo.yaml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "other.yaml").write_text(
        DEMO.read_text(encoding="utf-8").replace("id: demo", "id: other"), encoding="utf-8"
    )
    original = FlowCatalog.add

    def add(self: FlowCatalog, source: str, file: str = "<flow>") -> FlowEntry:
        if file.endswith("demo.yaml"):
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, source, file)

    monkeypatch.setattr(FlowCatalog, "add", add)
    with capture_logs() as logs:
        catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("other").spec.id == "other"
    (failed,) = [entry for entry in logs if entry["event"] == "flow_failed"]
    assert failed["file"].endswith("demo.yaml")
    assert failed["error"] == "RecursionError: maximum recursion depth exceeded"
