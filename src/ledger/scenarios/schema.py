"""The scenario file format (docs/scenarios.md): reading YAML exactly, and the file's
outer shape. Each event is validated on its own when it is applied, so that an
`expect_error: invalid` on a malformed event can be honoured and the run carry on.

The YAML is read with the YAML 1.2 core rules of docs/rules-trust.md#reading, not
PyYAML's YAML 1.1 defaults: a plain value is null, true/false, a base-10 integer, a plain
decimal (read as `Decimal`, never a binary float) or text. `7:30`, `0100`, `0x10`,
`2026-04-01`, `.inf` are never anything but text or the number they look like. Tags,
anchors, aliases and a key written twice are refused with their line.
"""

from __future__ import annotations

import gc
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

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
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ledger.core.text import MAX_TEXT_CHARS, text_problem
from ledger.domain.base import PartyId
from ledger.errors import UsageError

# Put a limit on everything. Reading YAML takes memory in proportion to the number of
# values, and a file of tiny values (`[[[]]],[[[]]],...`) needs up to about 300 bytes per
# byte of YAML (measured: docs/architecture.md#limits), so 1 MiB keeps the worst case
# near 300 MiB. A scenario of 10,000 events is about 1 MiB; split longer ones.
MAX_FILE_BYTES = 1024 * 1024
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
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(None, None, "a key must be a plain value, not a "
                                       "list or mapping", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in mapping:
                raise ConstructorError(None, None, f"the key {str(key)[:40]!r} is written "
                                       "twice in one mapping", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


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
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _Core.__init__(self)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, Composer, _Core):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
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


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Annotated[Literal[1], BeforeValidator(_exactly_one)]
    name: Annotated[str, Field(min_length=1), _text(MAX_NAME_CHARS)]
    description: Annotated[str, _text(1000)] | None = None
    parties: Parties = Parties()
    events: list[dict] = []
    # The line where each event starts in its file (set by load_scenario).
    _lines: list[int] = PrivateAttr(default_factory=list)

    def event_line(self, index: int) -> int | None:
        return self._lines[index] if index < len(self._lines) else None


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
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        message = " ".join(first["msg"].removeprefix("Value error, ").split())
        raise UsageError(f"{path}: {where}: {message}") from None
    scenario._lines = lines
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
    if isinstance(position, int):
        return f"line {text.count(chr(10), 0, position) + 1}"
    return "somewhere"


def _problem(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if isinstance(err, yaml.reader.ReaderError):
        problem = f"the character U+{err.character:04X} is not allowed" if isinstance(
            err.character, int) else err.reason
    return " ".join(str(problem).split())
