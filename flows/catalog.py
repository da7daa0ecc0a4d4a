"""The flows the service runs, in memory: the current version of each flow id, and every exact
version a conversation started on (a conversation keeps its version while the file moves on).
Each version is compiled once, when it is added (``flows.compiled``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flows.compiled import CompiledFlow, compile_flow
from flows.errors import FlowNotFound, FlowVersionConflict
from flows.spec import FlowSpec, parse_flow


@dataclass(frozen=True, slots=True)
class FlowEntry:
    flow: CompiledFlow
    source: str
    sha256: str

    @property
    def spec(self) -> FlowSpec:
        return self.flow.spec

    @property
    def key(self) -> tuple[str, int]:
        return (self.spec.id, self.spec.version)


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class FlowCatalog:
    def __init__(self) -> None:
        self._current: dict[str, FlowEntry] = {}
        self._versions: dict[tuple[str, int], FlowEntry] = {}
        self._recorded: set[tuple[str, int]] = set()

    def add(self, source: str, file: str = "<flow>") -> FlowEntry:
        """Parse a flow file and make it the current version of its id (raises
        ``FlowSpecError`` for a bad file, leaving the previous version current)."""
        entry = self._entry(source, file)
        self._current[entry.spec.id] = entry
        return entry

    def pin(self, source: str, file: str = "<flow>") -> FlowEntry:
        """Remember an exact version (read back from storage) without making it current."""
        return self._entry(source, file)

    def _entry(self, source: str, file: str) -> FlowEntry:
        spec = parse_flow(source, file)
        sha256 = source_sha256(source)
        known = self._versions.get((spec.id, spec.version))
        if known is not None:
            if known.sha256 != sha256:
                raise FlowVersionConflict(spec.id, spec.version)
            return known
        entry = FlowEntry(flow=compile_flow(spec), source=source, sha256=sha256)
        self._versions[entry.key] = entry
        return entry

    def current(self, flow_id: str) -> FlowEntry:
        entry = self._current.get(flow_id)
        if entry is None:
            raise FlowNotFound(flow_id)
        return entry

    def version(self, flow_id: str, version: int) -> FlowEntry | None:
        return self._versions.get((flow_id, version))

    def flows(self) -> tuple[FlowEntry, ...]:
        """The current version of every flow, by id (what the demo page offers)."""
        return tuple(self._current[flow_id] for flow_id in sorted(self._current))

    def is_recorded(self, entry: FlowEntry) -> bool:
        return entry.key in self._recorded

    def mark_recorded(self, entry: FlowEntry) -> None:
        self._recorded.add(entry.key)
