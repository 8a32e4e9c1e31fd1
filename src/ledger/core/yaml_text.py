"""YAML files whose values are text exactly as written (docs/exports.md#mapping).

PyYAML's `safe_load` reads by YAML 1.1 rules: `012345` is the octal number 5349, `0100`
is 64, `no` is False, `1:30` is 90. Even a YAML 1.2 core reading turns `012345` into
12345. A finance code, an account pattern or a column header is none of those, so this
reader gives every scalar, quoted or not, as the text written in the file: `012345`,
`0100`, `no`, `1:30`, `1e3`, `~`, `null` and an empty value all stay text. A reader that
needs a number converts that one field itself, and refuses it with its place when it
is not one.

What the result is made of: `Text` (a str), `Seq` (a list) and `Map` (a dict whose keys
are `Text`), each knowing the line and column (from 1) where it was written, so a
caller can refuse any value with `FILE:LINE:COLUMN: why`.

Refused, each as one such line (UsageError, exit 2): a file that is not UTF-8 or is
larger than the limit, anything YAML cannot parse, more than one document, a key
written twice in one mapping, a key that is a list or mapping, tags (`!!int`, `!x`),
anchors and aliases (`&a`, `*a`: a file can expand to billions of values through them),
and nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from ledger.errors import UsageError

try:  # libyaml's parser when PyYAML has it, else PyYAML's own; both give the same events
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.loader import BaseLoader as _Parser  # type: ignore[assignment]

MAX_FILE_BYTES = 1024 * 1024
MAX_VALUES = 100_000  # scalars, lists and mappings in one file
MAX_DEPTH = 20  # lists and mappings inside one another
_CHUNK = 64 * 1024


class Text(str):
    """A value as written, with where it was written (line and column from 1)."""

    line: int
    column: int


class Seq(list):
    """A list, with where it starts."""

    __slots__ = ("line", "column")
    line: int
    column: int


class Map(dict):
    """A mapping of `Text` keys, each written once, with where it starts."""

    __slots__ = ("line", "column")
    line: int
    column: int

    def key(self, name: str) -> Text:
        """The key `name` as written (for its place); KeyError if there is none."""
        for key in self:
            if key == name:
                return key
        raise KeyError(name)


Value = Text | Seq | Map


def where(path: Path | str, value: Value | None) -> str:
    """`FILE:LINE:COLUMN` of a value; `FILE:1:1` for none (an empty file)."""
    if value is None:
        return f"{path}:1:1"
    return f"{path}:{value.line}:{value.column}"


def refuse(path: Path | str, value: Value | None, why: str) -> UsageError:
    """The error to raise for a value: `FILE:LINE:COLUMN: why`."""
    return UsageError(f"{where(path, value)}: {why}")


def read_yaml_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Value | None:
    """The one document in the file at `path`, every scalar as text; None when the file
    holds no document. Any problem is a UsageError, `FILE:LINE:COLUMN: why`."""
    data = _read_bounded(path, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = _place(data, err.start)
        raise UsageError(f"{path}:{line}:{column}: not UTF-8 text (byte {err.start} "
                         "cannot be read); save the file as UTF-8") from None
    return parse_yaml_text(text.removeprefix("\ufeff"), str(path))


def parse_yaml_text(text: str, name: str = "<text>") -> Value | None:
    """`read_yaml_text` for text already in hand; `name` names it in errors."""
    try:
        return _Builder(_Parser(text)).document()
    except _Refused as err:
        raise UsageError(f"{name}:{err.line}:{err.column}: {err.why}") from None
    except yaml.YAMLError as err:
        line, column = _error_place(err, text)
        raise UsageError(f"{name}:{line}:{column}: not valid YAML: {_problem(err)}") from None


class _Refused(Exception):
    """A problem found while building, at a line and column (from 1)."""

    def __init__(self, at: Value | Event, why: str) -> None:
        super().__init__(why)
        if isinstance(at, Event):
            self.line, self.column = at.start_mark.line + 1, at.start_mark.column + 1
        else:
            self.line, self.column = at.line, at.column
        self.why = why


def _placed(value, event: Event):
    value.line = event.start_mark.line + 1
    value.column = event.start_mark.column + 1
    return value


class _Builder:
    """Values built straight from the parser's events (no composer, so no alias is ever
    followed), with a limit on their number and depth."""

    def __init__(self, parser) -> None:
        self.parser = parser
        self.count = 0

    def document(self) -> Value | None:
        parser = self.parser
        try:
            self._expect(StreamStartEvent)
            if parser.check_event(StreamEndEvent):
                return None
            self._expect(DocumentStartEvent)
            root = self._value()
            parser.get_event()  # the document's end
            if not parser.check_event(StreamEndEvent):
                raise _Refused(parser.peek_event(), "a second document: the file must "
                               "hold one (remove the `---` line and what follows)")
            return root
        finally:
            parser.dispose()

    def _expect(self, kind: type) -> None:
        event = self.parser.get_event()
        assert isinstance(event, kind), event

    def _value(self) -> Value:
        """The next value: a scalar, or a list or mapping read to its end without
        recursion (an open list or mapping waits on `stack` with its pending key)."""
        stack: list[list] = []
        while True:
            event = self.parser.get_event()
            self._check(event, len(stack))
            if isinstance(event, ScalarEvent):
                node: Value = _placed(Text(event.value), event)
            elif isinstance(event, SequenceStartEvent | MappingStartEvent):
                kind = Seq if isinstance(event, SequenceStartEvent) else Map
                stack.append([_placed(kind(), event), None])
                continue
            else:  # the end of the innermost list or mapping
                node = stack.pop()[0]
            if not stack:
                return node
            self._add(stack[-1], node)

    @staticmethod
    def _add(parent: list, node: Value) -> None:
        """Put `node` into the open list or mapping `parent` ([collection, key])."""
        collection, key = parent
        if isinstance(collection, Seq):
            collection.append(node)
        elif key is not None:
            collection[key] = node
            parent[1] = None
        elif not isinstance(node, Text):
            raise _Refused(node, "a key must be plain text, not a list or mapping")
        elif node in collection:
            first = collection.key(node)
            raise _Refused(node, f"the key {str(node)[:40]!r} is written twice in one "
                           f"mapping (first on line {first.line}); keep one")
        else:
            parent[1] = node

    def _check(self, event: Event, depth: int) -> None:
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(event, "anchors and aliases (&name, *name) are not allowed; "
                           "write the value out in full")
        if getattr(event, "tag", None) is not None:
            raise _Refused(event, "tags (!!int, !name) are not allowed; write the value "
                           "without one")
        if isinstance(event, SequenceEndEvent | MappingEndEvent):
            return
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Refused(event, f"more than {MAX_VALUES:,} values, the most a file "
                           "may hold")
        if depth >= MAX_DEPTH and not isinstance(event, ScalarEvent):
            raise _Refused(event, f"nested more than {MAX_DEPTH} levels deep")


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most `max_bytes` from a file, pipe or device, read in chunks."""
    chunks: list[bytes] = []
    total = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise UsageError(f"{path}:1:1: larger than {max_bytes // 1024} KiB, "
                                     "the most this file may be")
                chunks.append(chunk)
    except OSError as err:
        raise UsageError(f"{path}:1:1: cannot read it ({err.strerror or err})") from None
    return b"".join(chunks)


def _place(data: bytes, offset: int) -> tuple[int, int]:
    """Line and column (from 1, in characters) of a byte offset in UTF-8 `data`."""
    before = data[:offset]
    start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[start:].decode("utf-8", "replace")) + 1


def _error_place(err: yaml.YAMLError, text: str) -> tuple[int, int]:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        return mark.line + 1, mark.column + 1
    position = getattr(err, "position", None)  # a reader error: libyaml's byte offset
    if isinstance(position, int):
        return _place(text.encode("utf-8"), position)
    return 1, 1


def _problem(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.reader.ReaderError) and isinstance(err.character, int):
        return f"the character U+{err.character:04X} is not allowed"
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return " ".join(str(problem).split())
