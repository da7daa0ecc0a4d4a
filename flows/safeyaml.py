"""Reading a flow file's YAML so that no file can hurt the process that reads it.

A flow file comes from marketing or from a folder anyone with access can write to, and the
service reads it at start-up; so the reader enforces limits while it reads, event by event, and
stops at the first one crossed: the size of the text, the nesting depth, the number of aliases
and how far they expand (a few hundred bytes of nested aliases, "billion laughs", would
otherwise expand to millions of values), and the length of one value. Only plain YAML is read:
mappings with plain keys, lists, strings, numbers, booleans and null. Tags other than the
standard ones for these, ``<<:`` merge keys and keys that are lists or mappings are refused with
the line they are on; an alias inside its own anchor is refused too.

Values are resolved as PyYAML's safe loader resolves them (``yes``/``no`` are booleans, quote
them to get text), except that dates stay text. The result is plain data plus the line of every
path, so the validator can name the line of each problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

Path_ = tuple[str | int, ...]

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null"))
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})
_MAP_TAGS = frozenset({None, "!", f"{_TAG}map"})
_SEQ_TAGS = frozenset({None, "!", f"{_TAG}seq"})

_constructor = SafeConstructor()
_resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = Resolver().resolve


def _implicit_tag(text: str) -> str:
    """The tag PyYAML's safe loader gives a plain scalar."""
    return _resolve(yaml.ScalarNode, text, (True, False))


@dataclass(frozen=True, slots=True)
class Limits:
    """What a flow file may hold. The shipped flows are about 20 KB with at most four levels of
    nesting, about 1,500 values and no alias, so these leave a wide margin."""

    max_bytes: int = 256 * 1024
    max_depth: int = 32
    max_aliases: int = 100
    max_values: int = 100_000
    max_scalar: int = 4096  # characters: a Telegram message holds at most 4096


LIMITS = Limits()


class YamlProblem(Exception):
    """The first thing that stops a flow file from being read, with its 1-based line."""

    def __init__(self, line: int | None, message: str, path: Path_ = ()) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


@dataclass(slots=True)
class _Open:
    """A mapping or list being read."""

    value: dict[Any, Any] | list[Any]
    path: Path_
    anchor: str | None
    size: int = 1
    key: Any = None
    key_line: int = 0
    has_key: bool = False


@dataclass(slots=True)
class _Reader:
    limits: Limits
    lines: dict[Path_, int] = field(default_factory=dict)
    anchors: dict[str, tuple[Any, int]] = field(default_factory=dict)
    open_anchors: set[str] = field(default_factory=set)
    aliases: int = 0
    values: int = 0

    def read(self, events: Iterator[yaml.Event]) -> Any:
        documents = 0
        stack: list[_Open] = []
        result: Any = None
        for event in events:
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem(line, "more than one YAML document (---) in one flow file")
                continue
            if isinstance(event, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
                continue
            parent = stack[-1] if stack else None
            is_key = parent is not None and isinstance(parent.value, dict) and not parent.has_key
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                done = stack.pop()
                self._close_anchor(done.anchor, done.value, done.size)
                result = self._place(stack, done.value, done.size, line)
                continue
            path = self._child_path(parent)
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if is_key:
                    raise YamlProblem(line, "a key must be a plain word, not a list or a mapping", path)
                self._count(1, line, path)
                if len(stack) >= self.limits.max_depth:
                    raise YamlProblem(line, f"nested more than {self.limits.max_depth} levels deep", path)
                mapping = isinstance(event, yaml.MappingStartEvent)
                if event.tag not in (_MAP_TAGS if mapping else _SEQ_TAGS):
                    raise YamlProblem(line, _tag_message(event.tag), path)
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                self.lines[path] = line
                stack.append(_Open({} if mapping else [], path, event.anchor))
                continue
            if isinstance(event, yaml.AliasEvent):
                value, size = self._alias(event.anchor or "", line, path)
                if is_key and isinstance(value, dict | list):
                    raise YamlProblem(line, "a key must be a plain word, not a list or a mapping", path)
            else:
                assert isinstance(event, yaml.ScalarEvent)
                value, size = self._scalar(event, line, path, is_key), 1
                self._count(1, line, path)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
            if not is_key:
                self.lines[path] = line
            result = self._place(stack, value, size, line)
        if documents == 0 or result is None:
            raise YamlProblem(1, "the file is empty")
        return result

    def _child_path(self, parent: _Open | None) -> Path_:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        return (*parent.path, str(parent.key)) if parent.has_key else parent.path

    def _place(self, stack: list[_Open], value: Any, size: int, line: int) -> Any:
        """Put a finished value into the mapping or list around it; returns it."""
        if not stack:
            return value
        parent = stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            parent.value.append(value)
        elif not parent.has_key:
            key_path = (*parent.path, str(value))
            if value in parent.value:
                self.lines[key_path] = line
                raise YamlProblem(line, f"duplicate key {value!r}", key_path)
            parent.key, parent.key_line, parent.has_key = value, line, True
        else:
            parent.value[parent.key] = value
            self.lines[(*parent.path, str(parent.key))] = parent.key_line
            parent.has_key = False
        return value

    def _count(self, added: int, line: int, path: Path_, alias: str | None = None) -> None:
        self.values += added
        if self.values > self.limits.max_values:
            why = f"the alias *{alias} repeats {added:,} values, and the file" if alias else "the file"
            raise YamlProblem(
                line,
                f"{why} would hold more than {self.limits.max_values:,} values in all: "
                "write the values out, or use fewer aliases",
                path,
            )

    def _alias(self, anchor: str, line: int, path: Path_) -> tuple[Any, int]:
        self.aliases += 1
        if self.aliases > self.limits.max_aliases:
            raise YamlProblem(line, f"more than {self.limits.max_aliases} aliases (*name)", path)
        if anchor in self.open_anchors:
            raise YamlProblem(line, f"the alias *{anchor} is inside its own anchor &{anchor}", path)
        found = self.anchors.get(anchor)
        if found is None:
            raise YamlProblem(line, f"no anchor &{anchor} before the alias *{anchor}", path)
        value, size = found
        self._count(size, line, path, alias=anchor)
        return value, size

    def _close_anchor(self, anchor: str | None, value: Any, size: int) -> None:
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (value, size)

    def _scalar(self, event: yaml.ScalarEvent, line: int, path: Path_, is_key: bool) -> Any:
        text = event.value
        if len(text) > self.limits.max_scalar:
            raise YamlProblem(
                line, f"a value of {len(text):,} characters; at most {self.limits.max_scalar:,}", path
            )
        plain, _quoted = event.implicit
        tag = event.tag
        if tag in (None, "!"):
            if tag == "!" or not plain:
                return text
            tag = _implicit_tag(text)
            if tag == f"{_TAG}merge" and is_key:
                raise YamlProblem(line, "merge keys (<<) are not supported: write the fields out", path)
            if tag not in _SCALAR_TAGS:
                return text  # dates, "=": plain text
        elif tag not in _SCALAR_TAGS:
            raise YamlProblem(line, _tag_message(tag), path)
        elif tag != _STR and _implicit_tag(text) != tag:
            raise YamlProblem(line, f"{text!r} is not a valid !!{tag.removeprefix(_TAG)}", path)
        return _construct(tag, text, line, path)


def _construct(tag: str, text: str, line: int, path: Path_) -> Any:
    node = yaml.ScalarNode(tag, text)
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _constructor.construct_yaml_bool(node)
    try:
        if tag == _INT:
            return _constructor.construct_yaml_int(node)
        return _constructor.construct_yaml_float(node)
    except ValueError:
        raise YamlProblem(line, f"the number {text[:40]!r} is too long", path) from None


def _tag_message(tag: str | None) -> str:
    shown = f"!!{tag.removeprefix(_TAG)}" if tag and tag.startswith(_TAG) else str(tag)
    return f"the tag {shown} is not allowed: flow files hold plain values (text, numbers, true/false)"


def read_yaml(text: str, limits: Limits = LIMITS) -> tuple[Any, dict[Path_, int]]:
    """The data of one YAML document and the 1-based line of every path in it.

    Raises :class:`YamlProblem` for the first limit crossed or the first thing that is not
    plain YAML."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise YamlProblem(None, f"larger than {limits.max_bytes // 1024} KB")
    reader = _Reader(limits)
    try:
        data = reader.read(yaml.parse(text, Loader=_PARSER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "cannot be read"
        raise YamlProblem(line, f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        what = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlProblem(
            line, f"not valid YAML: the character U+{what:04X} is not allowed (is this a text file?)"
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"not valid YAML: {exc}") from None
    return data, reader.lines
