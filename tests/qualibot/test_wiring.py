"""Loading the flow catalog: a bad file in QUALIBOT_FLOWS_DIR never stops the service."""

from __future__ import annotations

from pathlib import Path

from flows.spec import LIBRARY, library_path
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
    assert "\nversion: 1\n" in shipped
    (tmp_path / "bant.yaml").write_text(
        shipped.replace("\nversion: 1\n", "\nversion: 2\n", 1), encoding="utf-8"
    )
    catalog = load_catalog(Settings(flows_dir=tmp_path))
    assert catalog.current("bant").spec.version == 2
