"""The scenario file format (docs/scenarios.md): reading YAML exactly, and the file's
outer shape. Each event is validated on its own when it is applied, so that an
`expect_error: invalid` on a malformed event can be honoured and the run carry on.
`load_scenario` reads a small file whole; `ScenarioStream` reads a file of any size one
event at a time, by the same rules (docs/architecture.md#limits).

The YAML is read with the YAML 1.2 core rules of docs/rules-trust.md#reading, not
PyYAML's YAML 1.1 defaults: a plain value is null, true/false, a base-10 integer, a plain
decimal (read as `Decimal`, never a binary float) or text. `7:30`, `0100`, `0x10`,
`2026-04-01`, `.inf` are never anything but text or the number they look like. Tags,
anchors, aliases and a key written twice are refused with their line.
"""

from __future__ import annotations

import codecs
import gc
import os
import pickle
import re
import stat
import tempfile
from collections import deque
from collections.abc import Container, Generator, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidationError,
)
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ledger.core.text import MAX_TEXT_CHARS, text_problem
from ledger.domain.base import PartyId
from ledger.errors import UsageError

# Put a limit on everything (docs/architecture.md#limits). Reading a whole YAML document
# takes memory in proportion to the number of values, up to about 300 bytes per byte of a
# file of tiny values (`[[[]]],[[[]]],...`), so `load_scenario`, which reads a file whole,
# takes at most 1 MiB. `ScenarioStream` reads one event at a time, so its memory is
# bounded by one event (and the header), not by the file: it takes files up to 512 MiB.
MAX_FILE_BYTES = 1024 * 1024  # load_scenario
MAX_STREAM_BYTES = 512 * 1024 * 1024  # ScenarioStream
MAX_EVENT_CHARS = 64 * 1024  # one event, party or other value, from its start to its end
MAX_HEADER_CHARS = 8 * 1024 * 1024  # all but the events: about 130,000 parties
MAX_GAP_CHARS = 16 * 1024 * 1024  # text read with no value ending: one huge scalar
MAX_DEPTH = 20  # nesting of mappings and lists; an event needs about 5
_CHUNK = 64 * 1024

# ---------------------------------------------------------------- YAML 1.2 core


_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_DECIMAL = "tag:yaml.org,2002:float"  # a plain decimal; constructed as Decimal
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Core(SafeConstructor, BaseResolver):
    """Resolver and constructor with only what docs/rules-trust.md#reading allows.

    `BaseResolver` starts with no implicit resolvers at all (PyYAML's `Resolver` adds the
    YAML 1.1 ones: timestamps, sexagesimal and octal numbers, yes/no, .inf ...), and the
    constructor table starts empty, so nothing else can be built."""

    yaml_constructors: dict = {}
    yaml_multi_constructors: dict = {}

    def construct_undefined(self, node: Node):
        raise ConstructorError(None, None, f"the tag {node.tag} is not allowed",
                               node.start_mark)

    def construct_null(self, node: Node) -> None:
        return None

    def construct_bool(self, node: Node) -> bool:
        return self.construct_scalar(node).lower() == "true"

    def construct_int(self, node: Node) -> int:
        text = self.construct_scalar(node)
        if len(text) > 40:  # int() refuses very long digit strings; nothing needs them
            raise ConstructorError(None, None, "a number with more than 40 digits",
                                   node.start_mark)
        return int(text)

    def construct_decimal(self, node: Node) -> Decimal:
        return Decimal(self.construct_scalar(node))

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        """A mapping whose keys are plain values, each written once."""
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        mapping: dict = {}
        for key_node, value_node in node.value:
            key = self.construct_key(key_node, mapping, deep)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_event(self, node: Node) -> object:
        """`construct_document(node)`, sooner for the usual event: a mapping of plain
        values (no list or mapping inside), whose text values are taken as they are.
        Built in the same order, with the same checks and the same errors."""
        if type(node) is not MappingNode or node.tag != _MAP or not all(
                type(k) is ScalarNode and type(v) is ScalarNode for k, v in node.value):
            return self.construct_document(node)
        mapping: dict = {}
        try:
            for key_node, value_node in node.value:
                key = (key_node.value if key_node.tag == _STR
                       else self.construct_object(key_node))
                if key in mapping:
                    raise _written_twice(key, key_node)
                mapping[key] = (value_node.value if value_node.tag == _STR
                                else self.construct_object(value_node))
        finally:  # as construct_document leaves them
            self.constructed_objects: dict = {}
            self.recursive_objects: dict = {}
        return mapping

    def construct_key(self, key_node: Node, taken: Container, deep: bool = False) -> object:
        """A mapping's key: a plain value, not one of `taken` (the keys before it)."""
        if not isinstance(key_node, ScalarNode):
            raise ConstructorError(None, None, "a key must be a plain value, not a "
                                   "list or mapping", key_node.start_mark)
        key = self.construct_object(key_node, deep=deep)
        if key in taken:
            raise _written_twice(key, key_node)
        return key


def _written_twice(key: object, key_node: Node) -> ConstructorError:
    return ConstructorError(None, None, f"the key {str(key)[:40]!r} is written twice in one "
                            "mapping", key_node.start_mark)


_Core.add_constructor(_NULL, _Core.construct_null)
_Core.add_constructor(_BOOL, _Core.construct_bool)
_Core.add_constructor(_INT, _Core.construct_int)
_Core.add_constructor(_DECIMAL, _Core.construct_decimal)
_Core.add_constructor(_STR, SafeConstructor.construct_yaml_str)
_Core.add_constructor(_SEQ, SafeConstructor.construct_yaml_seq)
_Core.add_constructor(_MAP, SafeConstructor.construct_yaml_map)
_Core.add_constructor(None, _Core.construct_undefined)

# The YAML 1.2 core schema's plain scalars, without its exponents and .inf/.nan.
_Core.add_implicit_resolver(_NULL, re.compile(r"(?:~|null|Null|NULL|)\Z"),
                            ["~", "n", "N", ""])
_Core.add_implicit_resolver(_BOOL, re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"),
                            list("tTfF"))
_Core.add_implicit_resolver(_INT, re.compile(r"[-+]?[0-9]+\Z"), list("-+0123456789"))
_Core.add_implicit_resolver(_DECIMAL, re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)\Z"),
                            list("-+.0123456789"))

try:  # libyaml's parser when PyYAML has it (about ten times faster), else PyYAML's own
    from yaml.cyaml import CParser as _Parser

    class _Loader(_Parser, _Core):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str | _Source) -> None:
            _Parser.__init__(self, stream)
            _Core.__init__(self)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, Composer, _Core):  # type: ignore[no-redef]
        def __init__(self, stream: str | _Source) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            _Core.__init__(self)


_REFUSED_TOKENS = {
    yaml.TagToken: "tags (!!int, !name) are not allowed in a scenario",
    yaml.AnchorToken: "anchors (&name) are not allowed in a scenario",
    yaml.AliasToken: "aliases (*name) are not allowed in a scenario",
}


def _refuse_tags_and_anchors(text: str) -> None:
    """Tags change what a value means; aliases can expand a small file into billions of
    values. A scenario needs neither. Each begins with `!`, `&` or `*`, so a file
    without those characters (most files) skips this second pass."""
    if "!" not in text and "&" not in text and "*" not in text:
        return
    for token in yaml.scan(text, Loader=_Loader):
        problem = _REFUSED_TOKENS.get(type(token))
        if problem:
            raise yaml.MarkedYAMLError(problem=problem, problem_mark=token.start_mark)


def _check_depth(root: Node) -> None:
    """Refuse nesting deeper than MAX_DEPTH, before any deep walk could overflow."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise yaml.MarkedYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep",
                                       problem_mark=node.start_mark)
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value
                         if not isinstance(child, ScalarNode))
        elif isinstance(node, MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair
                         if not isinstance(child, ScalarNode))


def _event_lines(root: Node) -> list[int]:
    """The line (from 1) where each event starts, for messages about it."""
    if isinstance(root, MappingNode):
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "events" and isinstance(
                    value, SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def read_yaml(text: str) -> tuple[object, list[int]]:
    """The document in `text`, read by docs/rules-trust.md#reading, and the start line of
    each item of its `events` list. Raises yaml.YAMLError with a mark."""
    _refuse_tags_and_anchors(text)
    loader = _Loader(text)
    collecting = gc.isenabled()
    gc.disable()  # the node tree has no cycles; scanning it again and again halves speed
    try:
        root = loader.get_single_node()
        if root is None:
            return None, []
        _check_depth(root)
        return loader.construct_document(root), _event_lines(root)
    finally:
        loader.dispose()
        if collecting:
            gc.enable()


# ---------------------------------------------------------------- the file's shape


def _text(max_chars: int) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, max_chars)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


Name = Annotated[str, Field(min_length=1), _text(MAX_TEXT_CHARS)]


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PartyId
    name: Name
    council: PartyId | None = None  # holders: whose budget it is
    # Extensions (see docs/scenarios.md): consent to show a holder's name to a pooling
    # group, the pseudonym used otherwise, and a statement format preference (AIS).
    show_name: StrictBool = False  # true or false, never "yes" or 1
    pseudonym: Annotated[str, _text(100)] | None = None
    statement_format: Literal["standard", "easy_read", "large_print"] = "standard"


class Parties(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    councils: list[Party] = []
    providers: list[Party] = []
    holders: list[Party] = []


def _exactly_one(value: object) -> object:
    if type(value) is not int:  # not `true`, `1.0` or "1", which pydantic would take
        raise ValueError("format must be 1")
    return value


MAX_NAME_CHARS = 120  # `{name}#{n}` is an event's key when it has no id: it must fit


class ScenarioHeader(BaseModel):
    """Everything in a scenario file but its events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Annotated[Literal[1], BeforeValidator(_exactly_one)]
    name: Annotated[str, Field(min_length=1), _text(MAX_NAME_CHARS)]
    description: Annotated[str, _text(1000)] | None = None
    parties: Parties = Parties()


class ScenarioFile(ScenarioHeader):
    events: list[dict] = []
    # The line where each event starts in its file (set by load_scenario).
    _lines: list[int] = PrivateAttr(default_factory=list)

    def event_line(self, index: int) -> int | None:
        return self._lines[index] if index < len(self._lines) else None

    def numbered_events(self) -> Iterator[tuple[int, int | None, dict]]:
        """`(index, line, event)` for each event, as `ScenarioStream.numbered_events`."""
        for index, raw in enumerate(self.events):
            yield index, self.event_line(index), raw


def _read_bounded(path: Path) -> bytes:
    """At most MAX_FILE_BYTES from a file, pipe or device (whose size `stat` does not
    know), read in chunks, so `/dev/zero` is one error, not all the memory there is."""
    chunks: list[bytes] = []
    total = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB, the "
                                 "most a scenario file may be")
            chunks.append(chunk)
    return b"".join(chunks)


def load_scenario(path: Path) -> ScenarioFile:
    """Read and check a file's outer shape; any problem is a UsageError (exit 2)."""
    try:
        text = _read_bounded(path).decode("utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        data, lines = read_yaml(text)
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: {_where(err, text)}: not valid YAML: "
                         f"{_problem(err)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a scenario must be a mapping with format, name, events")
    events = data.get("events")
    if events is not None and not isinstance(events, list):
        raise UsageError(f"{path}: events: a list of events is needed")
    for i, event in enumerate(events or []):
        if not isinstance(event, dict):  # before pydantic, which would list every one
            line = f"line {lines[i]}: " if i < len(lines) else ""
            raise UsageError(f"{path}: {line}events.{i}: an event must be a mapping")
    scenario = _validated(path, data)
    scenario._lines = lines
    return scenario


def _validated(path: Path, data: dict) -> ScenarioFile:
    """The file's outer shape checked: any problem is a UsageError naming the field."""
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        message = " ".join(first["msg"].removeprefix("Value error, ").split())
        raise UsageError(f"{path}: {where}: {message}") from None
    holders = {h.id for h in scenario.parties.holders}
    councils = {c.id for c in scenario.parties.councils}
    for h in scenario.parties.holders:
        if h.council is None:
            raise UsageError(f"{path}: parties.holders: {h.id} needs a council")
        if h.council not in councils:
            raise UsageError(f"{path}: parties.holders: {h.id}'s council {h.council} "
                             "is not declared")
    if len(holders) != len(scenario.parties.holders):
        raise UsageError(f"{path}: parties.holders: an id is declared twice")
    return scenario


def _where(err: yaml.YAMLError, text: str) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}"
    position = getattr(err, "position", None)  # a reader error: a character YAML refuses
    if isinstance(position, int):  # libyaml's offset in bytes, not characters
        return f"line {text.encode('utf-8', 'surrogatepass')[:position].count(10) + 1}"
    return "somewhere"


def _problem(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if isinstance(err, yaml.reader.ReaderError):
        problem = f"the character U+{err.character:04X} is not allowed" if isinstance(
            err.character, int) else err.reason
    return " ".join(str(problem).split())


# ---------------------------------------------------------------- reading a stream
#
# `ScenarioStream` reads a file of any size up to MAX_STREAM_BYTES one event at a time,
# by the same rules as `load_scenario`, with the same messages: it composes one value at a
# time from libyaml's events (never the whole document) and builds each with `_Core`.
# The header (everything but `events`) is read and checked before the first event is
# given out. When `format`, `name` and `parties` all come before `events`, as in every file
# this project writes, the file is read once; otherwise the header is read to the end
# first and the events are read in a second pass. A regular file is read again for that;
# anything else (a pipe, /dev/stdin) is copied, as it is read, to an anonymous temporary
# file, deleted on `close`. Every pass may also be repeated (`numbered_events` again).

_BEFORE_EVENTS = frozenset({"format", "name", "parties"})  # header keys read in one pass
_PARTY_KINDS = ("councils", "providers", "holders")
_COLLECTION_STARTS = (SequenceStartEvent, MappingStartEvent)
_COLLECTION_ENDS = (SequenceEndEvent, MappingEndEvent)


def _size(n: int) -> str:
    """A limit for a message: `64 KiB`, `512 MiB`."""
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} characters"


class _Refused(Exception):
    """A problem found while streaming: its message, without the file's name."""


class _Source:
    """What the parser reads: the file's bytes in chunks, at most MAX_STREAM_BYTES,
    decoded as UTF-8 (a bad byte is one clear error) and copied to `tee` if given. It
    keeps the last few chunks to turn a byte offset into a line, and refuses to read on
    when MAX_GAP_CHARS have gone by since the parser's last event ended (libyaml would
    hold one huge scalar whole before anything could measure it)."""

    def __init__(self, raw: IO[bytes], tee: IO[bytes] | None = None) -> None:
        self.raw = raw
        self.tee = tee
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.bytes = 0  # read from `raw`
        self.newlines = 0  # in those bytes
        self.chars = 0  # handed to the parser
        self.eof = False
        self.recent: deque[tuple[int, int, bytes]] = deque(maxlen=3)
        self.mark = 0  # where the parser's last event ended (set by _Pass.get)
        self.mark_line = 0

    def read(self, size: int) -> str:
        while True:
            if self.chars - self.mark > MAX_GAP_CHARS:
                raise _Refused(f"line {self.mark_line + 1}: more than {_size(MAX_GAP_CHARS)} "
                               "of text without a value ending (one value may be at most "
                               f"{_size(MAX_EVENT_CHARS)})")
            chunk = self._chunk()
            if not chunk:
                self.eof = True
                return self._decode(b"", final=True)
            self.recent.append((self.bytes, self.newlines, chunk))
            text = self._decode(chunk)
            self.bytes += len(chunk)
            self.newlines += chunk.count(b"\n")
            if text:  # "" would mean the end to libyaml: a lone part of a character
                self.chars += len(text)
                return text

    def _chunk(self) -> bytes:
        try:
            chunk = self.raw.read(_CHUNK)
        except OSError as err:
            raise _Refused(f"cannot read: {err.strerror or err}") from None
        if self.bytes + len(chunk) > MAX_STREAM_BYTES:
            raise _Refused(f"larger than {_size(MAX_STREAM_BYTES)}, the most a scenario "
                           "file may be")
        if self.tee is not None and chunk:
            self.tee.write(chunk)
        return chunk

    def _decode(self, chunk: bytes, final: bool = False) -> str:
        pending = len(self.decoder.getstate()[0])  # the start of a character, kept back
        try:
            return self.decoder.decode(chunk, final)
        except UnicodeDecodeError as err:
            raise _Refused(f"not UTF-8 text (byte {self.bytes - pending + err.start})"
                           ) from None

    def drain(self) -> None:
        """Read (and copy to `tee`) the rest, without parsing it."""
        while not self.eof:
            chunk = self._chunk()
            self.bytes += len(chunk)
            self.eof = not chunk

    def line_at(self, offset: int) -> int | None:
        """The line (from 1) of a byte offset the parser has just read, if still known."""
        for start, newlines, chunk in self.recent:
            if start <= offset <= start + len(chunk):
                return newlines + chunk.count(b"\n", 0, offset - start) + 1
        return None


def _refuse(event: Event) -> None:
    """Tags, anchors and aliases, as `_refuse_tags_and_anchors` refuses them."""
    if isinstance(event, AliasEvent):
        problem = _REFUSED_TOKENS[yaml.AliasToken]
    elif getattr(event, "anchor", None) is not None:
        problem = _REFUSED_TOKENS[yaml.AnchorToken]
    elif getattr(event, "tag", None) is not None:
        problem = _REFUSED_TOKENS[yaml.TagToken]
    else:
        return
    raise yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)


class _Pass:
    """One reading of the file from its start: libyaml's events, and values composed and
    built from them one at a time."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.loader = _Loader(source)

    def peek(self) -> Event:
        return self.loader.peek_event()

    def at(self, kind: type[Event]) -> bool:
        return self.loader.check_event(kind)

    def get(self) -> Event:
        event = self.loader.get_event()
        self.source.mark = event.end_mark.index
        self.source.mark_line = event.end_mark.line
        return event

    def node(self, depth: int, what: str, header_end: int | None = None) -> Node:
        """The next value as a node, refusing what `read_yaml` refuses. `depth` is its
        nesting (the document's mapping is 1). Its text may be at most MAX_EVENT_CHARS
        and may not pass `header_end` (where the header's allowance ends)."""
        get = self.loader.get_event
        resolve = self.loader.resolve
        source = self.source
        first = self.loader.peek_event()
        start = first.start_mark
        limit = start.index + MAX_EVENT_CHARS
        if header_end is not None and header_end < limit:
            limit = header_end
        stack: list[list] = []  # each open collection: [node, its pending key]
        while True:
            event = get()
            end = event.end_mark
            source.mark = end.index
            source.mark_line = end.line
            if end.index > limit:
                raise _Refused(self._too_long(what, start.line, limit, header_end))
            kind = type(event)
            node: Node
            if kind is ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    _refuse(event)
                node = ScalarNode(resolve(ScalarNode, event.value, event.implicit),
                                  event.value, event.start_mark, end, style=event.style)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None or event.tag is not None:
                    _refuse(event)
                if depth + len(stack) > MAX_DEPTH:
                    raise yaml.MarkedYAMLError(
                        problem=f"nested more than {MAX_DEPTH} levels deep",
                        problem_mark=event.start_mark)
                # With no tag and no path resolvers, what `resolve` would say.
                if kind is MappingStartEvent:
                    collection: Node = MappingNode(_MAP, [], event.start_mark, None,
                                                   flow_style=event.flow_style)
                else:
                    collection = SequenceNode(_SEQ, [], event.start_mark, None,
                                              flow_style=event.flow_style)
                stack.append([collection, None])
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                node = stack.pop()[0]
                node.end_mark = end
            else:
                _refuse(event)  # an alias; nothing else can come here
                raise yaml.MarkedYAMLError(problem=f"unexpected {kind.__name__}",
                                           problem_mark=event.start_mark)
            if not stack:
                return node
            parent = stack[-1]
            if type(parent[0]) is SequenceNode:
                parent[0].value.append(node)
            elif parent[1] is None:
                parent[1] = node
            else:
                parent[0].value.append((parent[1], node))
                parent[1] = None

    @staticmethod
    def _too_long(what: str, line: int, limit: int, header_end: int | None) -> str:
        if header_end is not None and limit == header_end:
            return (f"line {line + 1}: {what}: everything but the events is longer than "
                    f"{_size(MAX_HEADER_CHARS)}, the most it may be")
        one = "event" if what.startswith("events.") else "value"
        return (f"line {line + 1}: {what}: longer than {_size(MAX_EVENT_CHARS)}, the most "
                f"one {one} may be")

    def value(self, depth: int, what: str, header_end: int | None = None) -> object:
        return self.loader.construct_document(self.node(depth, what, header_end))

    def key(self, depth: int, taken: Container, header_end: int | None = None) -> object:
        """The next mapping key, checked as `_Core.construct_mapping` checks it."""
        loader = self.loader
        key = loader.construct_key(self.node(depth, "a key", header_end), taken)
        loader.constructed_objects = {}
        return key

    def discard(self, depth: int, what: str, header_end: int | None = None) -> None:
        """Read and check the next value, keeping nothing: a list or mapping one item at a
        time (so an unknown key's long list is one error, not all the memory)."""
        event = self.peek()
        if not isinstance(event, _COLLECTION_STARTS):
            self.value(depth, what, header_end)
            return
        _refuse(event)
        self.get()
        mapping = isinstance(event, MappingStartEvent)
        taken: set = set()
        while not self.at(MappingEndEvent if mapping else SequenceEndEvent):
            if mapping:
                taken.add(self.key(depth + 1, taken, header_end))
            self.value(depth + 1, what, header_end)
        self.get()

    def skip(self) -> int:
        """Pass over the next value unread (a later pass reads it); the number of items
        when it is a list."""
        depth = 0
        items = 0
        while True:
            event = self.get()
            if depth == 1 and not isinstance(event, _COLLECTION_ENDS):
                items += 1
            if isinstance(event, _COLLECTION_STARTS):
                depth += 1
            elif isinstance(event, _COLLECTION_ENDS):
                depth -= 1
            if depth == 0:
                return items


class ScenarioStream:
    """A scenario file read one event at a time, in memory bounded by one event.

        with ScenarioStream(path) as scenario:     # reads and checks the header
            scenario.header                        # format, name, description, parties
            for index, line, raw in scenario.numbered_events():
                ...

    Any problem is a UsageError (exit 2), `FILE: line N: reason`, as from `load_scenario`;
    one in an event is raised when the reading reaches it. `numbered_events` may be called
    again (each call reads the events afresh, ending any earlier iteration); `count` is
    the number of events once a pass has read them all. A `description` written after
    `events` is in `header` once the events have been read.

    `check` reads every event and keeps each, as it was read, in an anonymous temporary
    file (deleted on `close`; about the size of the YAML): every later call of
    `numbered_events` hands out exactly the events that were checked, from that file,
    without reading the YAML again. Memory stays bounded by one event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: ScenarioHeader
        self.count: int | None = None
        self._data: dict = {}  # the header as read: key -> value, in file order
        self._keys: dict = {}  # every top-level key read so far, `events` included
        self._events: bool = False  # `events` is a list (to read in a pass)
        self._rest_read = False  # everything after the events has been read and checked
        self._header_chars = 0
        self._doc_mark: yaml.Mark | None = None
        self._live: _Pass | None = None  # the first pass, stopped at the events' list
        self._iteration: Generator[tuple[int, int, dict], None, None] | None = None
        self._checked: IO[bytes] | None = None  # every event, as `check` read it
        try:
            self._file: IO[bytes] = path.open("rb")
        except OSError as err:
            raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
        self._spool: IO[bytes] | None = None
        try:
            status = os.fstat(self._file.fileno())
            self._stamp = (status.st_size, status.st_mtime_ns)
            if not stat.S_ISREG(status.st_mode):
                self._spool = tempfile.TemporaryFile(prefix="ledger-scenario-")
            self._first = _Source(self._file, self._spool)
            self._read_header(_Pass(self._first))
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ the public side

    @property
    def name(self) -> str:
        return self.header.name

    @property
    def parties(self) -> Parties:
        return self.header.parties

    def numbered_events(self) -> Iterator[tuple[int, int, dict]]:
        """`(index, line, event)` for each event in file order, each a new dict read and
        checked when it is reached. A problem in the file is a UsageError at that point."""
        if self._iteration is not None:
            self._iteration.close()
            self._iteration = None
        if not self._events:  # none, or `events: null` (refused with the header)
            self.count = 0
            return iter(())
        if self._checked is not None:
            self._iteration = self._read_checked(self._checked)
            return self._iteration
        live, self._live = self._live, None
        with self._reading(live):
            p = live or self._new_pass()
        self._iteration = self._read_events(p, rewound=live is None)
        return self._iteration

    def check(self) -> int:
        """Read every event (checking the file to its end): the count. The events are
        kept, one after another, in an anonymous temporary file that only this process
        writes and reads, so that `numbered_events` hands out what was checked without
        parsing the YAML again (docs/architecture.md#limits)."""
        if self._checked is not None:
            assert self.count is not None
            return self.count
        kept = tempfile.TemporaryFile(prefix="ledger-checked-")
        try:
            for item in self.numbered_events():
                # One pickle per event, after its length: each is read back on its own,
                # so nothing accumulates in memory.
                data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
                kept.write(len(data).to_bytes(4, "little"))
                kept.write(data)
        except BaseException:
            kept.close()
            raise
        self._checked = kept
        assert self.count is not None
        return self.count

    def _read_checked(self, kept: IO[bytes]) -> Generator[tuple[int, int, dict], None, None]:
        kept.seek(0)
        read = kept.read
        for _ in range(self.count or 0):
            size = int.from_bytes(read(4), "little")
            yield pickle.loads(read(size))  # noqa: S301 - our own file, written by `check`

    def close(self) -> None:
        if self._iteration is not None:
            self._iteration.close()
            self._iteration = None
        self._live = None
        for f in (self._checked, self._spool, getattr(self, "_file", None)):
            if f is not None:
                f.close()

    def __enter__(self) -> ScenarioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ reading

    @contextmanager
    def _reading(self, p: _Pass | None) -> Iterator[None]:
        """Whatever goes wrong while reading is one line naming the file."""
        try:
            yield
        except _Refused as err:
            raise UsageError(f"{self.path}: {err}") from None
        except yaml.YAMLError as err:
            raise UsageError(f"{self.path}: {self._where(err, p)}: not valid YAML: "
                             f"{_problem(err)}") from None

    @staticmethod
    def _where(err: yaml.YAMLError, p: _Pass | None) -> str:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        if mark is not None:
            return f"line {mark.line + 1}"
        position = getattr(err, "position", None)  # a reader error: a byte offset
        line = p.source.line_at(position) if p and isinstance(position, int) else None
        return "somewhere" if line is None else f"line {line}"

    def _read_header(self, p: _Pass) -> None:
        with self._reading(p):
            p.get()  # the stream's start
            if p.at(StreamEndEvent):
                raise _Refused("a scenario must be a mapping with format, name, events")
            self._doc_mark = p.get().start_mark
            root = p.peek()
            if not isinstance(root, MappingStartEvent):
                p.discard(1, "file", p.peek().start_mark.index + MAX_HEADER_CHARS)
                self._end_document(p)
                raise _Refused("a scenario must be a mapping with format, name, events")
            _refuse(root)
            p.get()
            while not p.at(MappingEndEvent):
                if self._read_key(p):  # `events`, a list
                    if _BEFORE_EVENTS <= self._keys.keys():
                        self._check_header()
                        self._live = p  # one pass: the events are read from here on
                        return
                    self.count = p.skip()  # read in a second pass
            p.get()
            self._end_document(p)
        self._rest_read = True
        self._check_header()

    def _read_key(self, p: _Pass) -> bool:
        """One top-level key and its value into the header; True when it is `events`
        and its value a list, which is left unread."""
        start = p.peek().start_mark.index
        header_end = start + MAX_HEADER_CHARS - self._header_chars
        key = p.key(2, self._keys, header_end)
        self._keys[key] = None
        if key == "events":
            event = p.peek()
            _refuse(event)
            if isinstance(event, SequenceStartEvent):
                self._events = True
                return True
            if not isinstance(event, ScalarEvent) or p.value(2, "events") is not None:
                raise _Refused("events: a list of events is needed")
            self._data["events"] = None  # as `load_scenario` hands it to pydantic
            return False
        if key == "parties" and isinstance(p.peek(), MappingStartEvent):
            self._data[key] = self._read_parties(p, header_end)
        elif key in ScenarioHeader.model_fields:
            self._data[key] = p.value(2, str(key), header_end)
        else:  # refused as an unknown field all the same: its value is not kept
            p.discard(2, str(key), header_end)
            self._data[key] = None
        self._header_chars += p.source.mark - start
        return False

    def _read_parties(self, p: _Pass, header_end: int) -> dict:
        """`parties`, one party at a time. Each is checked as it is read, and only the
        checked ones are kept (with the first wrong one of each kind, for pydantic to
        name as `load_scenario` would), so memory is what the parties take, not more."""
        _refuse(p.get())
        parties: dict = {}
        while not p.at(MappingEndEvent):
            kind = p.key(3, parties, header_end)
            if not isinstance(p.peek(), SequenceStartEvent):
                parties[kind] = p.value(3, f"parties.{kind}", header_end)
                continue
            _refuse(p.get())
            items: list | None = [] if kind in _PARTY_KINDS else None
            wrong = False
            n = 0
            while not p.at(SequenceEndEvent):
                raw = p.value(4, f"parties.{kind}.{n}", header_end)
                n += 1
                if items is not None and not wrong:
                    try:
                        items.append(Party.model_validate(raw))
                    except ValidationError:
                        items.append(raw)
                        wrong = True
            p.get()
            parties[kind] = items
        p.get()
        return parties

    def _end_document(self, p: _Pass) -> None:
        """After the document: nothing but the stream's end, as `get_single_node` says."""
        p.get()  # the document's end
        if not p.at(StreamEndEvent):
            raise ComposerError("expected a single document in the stream", self._doc_mark,
                                "but found another document", p.peek().start_mark)

    def _check_header(self) -> None:
        """The header checked as `load_scenario` checks a whole file's outer shape."""
        data = dict(self._data)
        if self._events:
            data["events"] = []
        checked = _validated(self.path, data)
        self.header = ScenarioHeader.model_construct(
            format=checked.format, name=checked.name, description=checked.description,
            parties=checked.parties)

    def _new_pass(self) -> _Pass:
        """A pass from the start: the regular file again, or the copy of a pipe."""
        if self._spool is None:
            status = os.fstat(self._file.fileno())
            if (status.st_size, status.st_mtime_ns) != self._stamp:
                raise UsageError(f"{self.path}: changed while it was being read")
            self._file.seek(0)
            return _Pass(_Source(self._file))
        self._first.drain()
        self._spool.flush()
        self._spool.seek(0)
        return _Pass(_Source(self._spool))

    def _read_events(self, p: _Pass, rewound: bool
                     ) -> Generator[tuple[int, int, dict], None, None]:
        with self._reading(p):
            if rewound:  # pass over the header, read and checked already
                for _ in range(3):  # the stream's, the document's and the mapping's start
                    p.get()
                while True:
                    event = p.peek()
                    if isinstance(event, ScalarEvent) and event.value == "events":
                        p.get()
                        break
                    p.skip()
                    p.skip()
            _refuse(p.get())  # the list's start
            construct = p.loader.construct_event
            index = 0
            while not p.at(SequenceEndEvent):
                node = p.node(3, f"events.{index}")
                line = node.start_mark.line + 1
                raw = construct(node)
                del node
                if not isinstance(raw, dict):
                    raise _Refused(f"line {line}: events.{index}: an event must be a mapping")
                yield index, line, raw
                index += 1
            p.get()
            self.count = index
            if not self._rest_read:
                self._read_rest(p)

    def _read_rest(self, p: _Pass) -> None:
        """The keys after `events`, checked now (in the one-pass case)."""
        late = False
        while not p.at(MappingEndEvent):
            late = True
            self._read_key(p)  # `events` again is refused as a key written twice
        p.get()
        self._end_document(p)
        self._rest_read = True
        if late:
            self._check_header()


def iter_scenario(path: Path) -> tuple[ScenarioHeader, Iterator[tuple[int, int, dict]]]:
    """The header of a scenario file and its events, `(index, line, event)`, read one at a
    time (see ScenarioStream, which this opens; the file is closed when the events end)."""
    scenario = ScenarioStream(path)

    def events() -> Iterator[tuple[int, int, dict]]:
        with scenario:
            yield from scenario.numbered_events()

    return scenario.header, events()
