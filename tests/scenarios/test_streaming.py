"""Scenario files past load_scenario's 1 MiB, read one event at a time by ScenarioStream
(docs/architecture.md#limits): the same rules and the same one-line messages as the
whole-file loader, wherever in the file a problem is, in memory that does not grow with
the file."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from ledger.errors import UsageError
from ledger.scenarios import schema
from ledger.scenarios.schema import (
    MAX_EVENT_CHARS,
    MAX_FILE_BYTES,
    ScenarioStream,
    iter_scenario,
    load_scenario,
)

HEAD = """\
format: 1
name: big
parties:
  councils: [{id: C1, name: Council}]
  providers: [{id: P1, name: Provider}]
  holders:
    - {id: H1, name: Holder, council: C1}
    - id: H2
      name: Another
      council: C1
"""
NOTE = "x" * 900


def _events(n: int, first_line: int) -> tuple[str, list[int]]:
    """`n` events, flow and block style with comments between them, and the line each
    starts on when the first is on `first_line`."""
    parts: list[str] = []
    lines: list[int] = []
    line = first_line
    for i in range(n):
        lines.append(line)
        if i % 3:
            parts.append(f"  - {{date: 2026-04-01, type: dp_payment, holder: H1, amount: "
                         f"\"1.{i % 100:02d}\", id: e{i}, note: {NOTE}}}\n")
            line += 1
        else:
            parts.append(f"  - date: 2026-04-02\n    type: expect  # a comment\n"
                         f"    balances: {{holder:H1:dp: {{GBP: {i}}}}}\n\n"
                         f"    note: >\n      {NOTE}\n      folded\n# between events\n")
            line += 8
    return "".join(parts), lines


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[int]]:
    """A scenario file just over 1 MiB and the line each event starts on."""
    body, lines = _events(1200, HEAD.count("\n") + 2)
    path = tmp_path_factory.mktemp("big") / "big.yaml"
    path.write_text(HEAD + "events:\n" + body, encoding="utf-8")
    assert path.stat().st_size > MAX_FILE_BYTES
    return path, lines


def _whole(path: Path, monkeypatch) -> schema.ScenarioFile:
    """The file read whole, the old way, with the 1 MiB limit lifted for comparison."""
    monkeypatch.setattr(schema, "MAX_FILE_BYTES", 8 * MAX_FILE_BYTES)
    try:
        return load_scenario(path)
    finally:
        monkeypatch.undo()


def _whole_error(path: Path, monkeypatch) -> str:
    with pytest.raises(UsageError) as err:
        _whole(path, monkeypatch)
    return str(err.value)


def _stream_error(path: Path) -> str:
    with pytest.raises(UsageError) as err, ScenarioStream(path) as scenario:
        for _ in scenario.numbered_events():
            pass
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


# ---------------------------------------------------------------- a file over 1 MiB


def test_a_file_over_1_mib_streams_every_event_with_its_line(big, monkeypatch):
    path, lines = big
    with pytest.raises(UsageError, match="larger than 1 MiB"):
        load_scenario(path)  # the whole-file loader keeps its limit
    with ScenarioStream(path) as scenario:
        assert scenario.header.name == "big" and scenario.count is None
        assert [p.id for p in scenario.parties.holders] == ["H1", "H2"]
        streamed = list(scenario.numbered_events())
        assert scenario.count == len(lines)
    assert [(i, line) for i, line, _ in streamed] == list(enumerate(lines))
    whole = _whole(path, monkeypatch)  # the same events, values and lines as read whole
    assert streamed == list(whole.numbered_events())
    assert scenario.header.model_dump() == whole.model_dump(exclude={"events"})
    assert streamed[1][2]["amount"] == "1.01" and streamed[0][2]["note"] == NOTE + " folded\n"


def test_a_flat_event_of_every_kind_of_value_reads_as_the_whole_file_reads_it(
        tmp_path, monkeypatch):
    """The usual event (a mapping of plain values) is built by a shorter path: it must
    give what the whole-file reader gives, value for value and type for type."""
    path = tmp_path / "flat.yaml"
    path.write_text(HEAD + "events:\n"
                    "  - {date: 2026-04-01, type: expect, a: 1, b: 1.50, c: true, d: null,\n"
                    "     e: \"x\", f: '007', g: 0100, h: -3, 7: y, 2.5: z, false: n, ~: m}\n"
                    "  - date: 2026-04-02\n    type: expect\n    note: >\n      folded\n")
    with ScenarioStream(path) as scenario:
        streamed = list(scenario.numbered_events())
    whole = list(_whole(path, monkeypatch).numbered_events())
    assert streamed == whole
    assert [[(k, type(k), v, type(v)) for k, v in raw.items()] for _, _, raw in streamed] == [
        [(k, type(k), v, type(v)) for k, v in raw.items()] for _, _, raw in whole]
    assert streamed[0][2]["g"] == 100 and streamed[0][2][7] == "y"


def test_memory_is_one_event_not_the_file(big):
    """Python's own allocations while streaming a 1 MiB file stay far below the file
    (reading it whole takes about 60 MiB); bench/stream_memory.py measures RSS."""
    path, _ = big
    with ScenarioStream(path) as scenario:
        tracemalloc.start()
        try:
            for _ in scenario.numbered_events():
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MAX_FILE_BYTES // 2, peak


def test_checked_events_are_handed_out_again_from_the_kept_copy_in_bounded_memory(big):
    """`check` keeps each event as read in a temporary file: the replay after it gets the
    same events in the same order, in memory that does not grow with the file."""
    path, lines = big
    with ScenarioStream(path) as scenario:
        first = list(scenario.numbered_events())
    with ScenarioStream(path) as scenario:
        tracemalloc.start()
        try:
            assert scenario.check() == len(lines)
            for _ in scenario.numbered_events():
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert list(scenario.numbered_events()) == first
        assert scenario.check() == len(lines)  # checked once is enough
    assert peak < MAX_FILE_BYTES // 2, peak


def test_what_is_replayed_after_check_is_what_was_checked(tmp_path):
    """A file rewritten after it was checked cannot slip an unchecked event in: the events
    handed out after `check` are the ones it read."""
    path = tmp_path / "swapped.yaml"
    path.write_text(HEAD + SMALL_EVENTS)
    with ScenarioStream(path) as scenario:
        assert scenario.check() == 2
        path.write_text(HEAD + "events:\n  - {date: 2026-04-01, type: nonsense, amount: !!int 3}\n")
        events = list(scenario.numbered_events())
    assert [(i, line, raw["type"]) for i, line, raw in events] == [
        (0, 12, "expect"), (1, 13, "dp_payment")]


def test_iter_scenario_gives_the_header_and_the_events(big):
    path, lines = big
    header, events = iter_scenario(path)
    assert header.format == 1 and header.name == "big" and header.description is None
    assert sum(1 for _ in events) == len(lines)


# ---------------------------------------------------------------- late errors


LATE = [
    ("  - {date: 2026-04-01, type: dp_payment, amount: 1, amount: 2}\n", "written twice"),
    ("  - {date: 2026-04-01, 1: a, 1.0: b}\n", "the key '1.0' is written twice"),
    ("  - {true: 1, True: 2, 5: " + "9" * 50 + "}\n", "the key 'True' is written twice"),
    ("  - {~: 1, null: 2}\n", "the key 'None' is written twice"),
    ("  - {a: 1, b: " + "9" * 50 + ", a: 2}\n", "digits"),
    ("  - date: 2026-04-01\n    type: expect\n    type: expect\n", "written twice"),
    ("  - {date: 2026-04-01, type: dp_payment, amount: !!int 3}\n", "tags"),
    ("  - &e {date: 2026-04-01, type: expect}\n", "anchors"),
    ("  - {date: 2026-04-01, type: expect, note: \"a\x01b\"}\n", "U+0001"),
    ("  - {amount: " + "9" * 50 + "}\n", "digits"),
    ("  - " + "[" * 25 + "]" * 25 + "\n", "nested"),
    ("  - 5\n", "an event must be a mapping"),
    ("  - {date: 2026-04-01, type: [\n", "not valid YAML"),
    ("  - {type: expect}\nextra: 1\n", "extra: Extra inputs are not permitted"),
    ("  - {type: expect}\nname: again\n", "written twice"),
    ("  - {type: expect}\ndescription: \"a\\nb\"\n", "description: "),
    ("  - {type: expect}\n---\nformat: 1\n", "another document"),
]


@pytest.mark.parametrize(("tail", "problem"), LATE)
def test_an_error_late_in_a_big_file_is_its_file_line_and_the_whole_file_message(
        big, tmp_path, monkeypatch, tail, problem):
    path, lines = big
    bad = tmp_path / "late.yaml"
    bad.write_bytes(path.read_bytes() + tail.encode())
    message = _stream_error(bad)
    assert message == _whole_error(bad, monkeypatch)
    assert problem in message
    if "line " in message:  # where the tail is, not the start of the file
        assert int(message.split("line ")[1].split(":")[0]) > lines[-1], message


def test_a_byte_that_is_not_utf_8_late_in_a_big_file_is_named_by_its_offset(
        big, tmp_path, monkeypatch):
    path, _ = big
    bad = tmp_path / "bytes.yaml"
    data = path.read_bytes() + b"  - {type: expect, note: caf\xe9}\n"
    bad.write_bytes(data)
    message = _stream_error(bad)
    assert message == _whole_error(bad, monkeypatch)
    assert message.endswith(f"not UTF-8 text (byte {data.index(b'caf') + 3})")


def test_the_events_before_an_error_are_given_out_first(big, tmp_path):
    """The caller gets every event before the bad one: a run that wants nothing written
    for a bad file checks it first (ScenarioStream.check), as `scenario run` does."""
    path, lines = big
    bad = tmp_path / "late.yaml"
    bad.write_bytes(path.read_bytes() + b"  - 5\n")
    seen = 0
    with pytest.raises(UsageError), ScenarioStream(bad) as scenario:
        for _ in scenario.numbered_events():
            seen += 1
    assert seen == len(lines)


# ---------------------------------------------------------------- order and sources


SMALL_EVENTS = ("events:\n  - {date: 2026-04-01, type: expect}\n"
                "  - date: 2026-04-02\n    type: dp_payment\n    amount: 1\n")


def test_events_before_the_parties_are_read_in_a_second_pass(tmp_path, monkeypatch):
    path = tmp_path / "order.yaml"
    path.write_text(SMALL_EVENTS + HEAD.replace("format: 1\n", "") + "format: 1\n")
    with ScenarioStream(path) as scenario:
        assert scenario.count == 2  # known from the first pass, before any event is read
        assert scenario.name == "big" and len(scenario.parties.holders) == 2
        events = list(scenario.numbered_events())
        assert [(i, line) for i, line, _ in events] == [(0, 2), (1, 3)]
        assert list(scenario.numbered_events()) == events  # and again, on request
    assert events == list(_whole(path, monkeypatch).numbered_events())


def test_a_description_after_the_events_is_in_the_header_once_they_are_read(tmp_path):
    path = tmp_path / "described.yaml"
    path.write_text(HEAD + SMALL_EVENTS + "description: written last\n")
    with ScenarioStream(path) as scenario:
        assert scenario.header.description is None  # read in one pass: not yet known
        assert scenario.check() == 2
        assert scenario.header.description == "written last"


def test_a_file_changed_between_passes_is_refused(tmp_path):
    path = tmp_path / "changing.yaml"
    path.write_text(SMALL_EVENTS + HEAD)
    with ScenarioStream(path) as scenario:
        path.write_text(SMALL_EVENTS + SMALL_EVENTS.replace("events", "more") + HEAD)
        with pytest.raises(UsageError, match="changed while it was being read"):
            scenario.check()


def _piped(text: str) -> tuple[Path, threading.Thread, int]:
    """A pipe with `text` written into it, as `/dev/fd/N` (what `<(...)` and
    /dev/stdin are)."""
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(text.encode())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return Path(f"/dev/fd/{read_end}"), writer, read_end


@pytest.mark.skipif(not os.path.exists("/dev/fd"), reason="needs /dev/fd")
@pytest.mark.parametrize("events_first", [False, True])
def test_a_pipe_is_read_once_and_can_be_read_again(big, events_first):
    """A pipe cannot be read twice: it is copied to a temporary file as it is read."""
    path, lines = big
    text = path.read_text()
    if events_first:
        head, body = text.split("events:\n")
        text = "events:\n" + body + head
        lines = [line - HEAD.count("\n") for line in lines]
    source, writer, read_end = _piped(text)
    try:
        with ScenarioStream(source) as scenario:
            assert scenario.header.name == "big"
            first = scenario.numbered_events()
            assert [next(first)[:2] for _ in range(3)] == list(enumerate(lines[:3]))
            again = [(i, line) for i, line, _ in scenario.numbered_events()]
            assert again == list(enumerate(lines)) and scenario.count == len(lines)
    finally:
        writer.join()
        os.close(read_end)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_that_never_ends_is_one_error_at_once():
    started = time.monotonic()
    with pytest.raises(UsageError) as err:
        ScenarioStream(Path("/dev/zero"))
    assert str(err.value) == "/dev/zero: line 1: not valid YAML: the character U+0000 is " \
                             "not allowed"
    assert time.monotonic() - started < 1


# ---------------------------------------------------------------- limits


def test_one_event_longer_than_the_limit_is_refused_with_its_line(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(HEAD + SMALL_EVENTS + "  - {type: expect, note: "
                    + "n" * MAX_EVENT_CHARS + "}\n")
    line = HEAD.count("\n") + 6  # after `events:` and two events, one of three lines
    assert _stream_error(path) == (f"{path}: line {line}: events.2: longer than 64 KiB, "
                                   "the most one event may be")


def test_a_file_over_the_stream_limit_is_refused(big, monkeypatch):
    path, _ = big
    monkeypatch.setattr(schema, "MAX_STREAM_BYTES", MAX_FILE_BYTES)
    assert _stream_error(path) == f"{path}: larger than 1 MiB, the most a scenario file may be"


def test_the_header_has_a_limit_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_HEADER_CHARS", 4096)
    parties = "".join(f"    - {{id: H{i}, name: Person {i}, council: C1}}\n" for i in range(200))
    path = tmp_path / "parties.yaml"
    path.write_text(HEAD + parties + SMALL_EVENTS)
    message = _stream_error(path)
    assert "everything but the events is longer than 4 KiB, the most it may be" in message
    assert message.startswith(f"{path}: line ") and ": parties.holders." in message


def test_one_huge_value_is_refused_before_it_is_held_whole(tmp_path, monkeypatch):
    """libyaml holds a scalar whole before giving it out: reading stops first."""
    monkeypatch.setattr(schema, "MAX_GAP_CHARS", 256 * 1024)
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + SMALL_EVENTS + "  - {type: expect, note: \""
                    + "n" * (400 * 1024) + "\"}\n")
    message = _stream_error(path)
    assert "more than 256 KiB of text without a value ending" in message, message


# ---------------------------------------------------------------- the same as read whole


ODD = [
    "", "just text", "[1, 2]", "format: 2\nname: x", "format: 1",
    "format: 1\nname: x\nevents: 5", "format: 1\nname: x\nevents: [5]",
    "format: 1\nname: x\nevents: {a: 1}", "format: 1\nname: x\nevents:\n",
    "format: 1\nname: x\nevents: !!seq []\n", "format: 1\nname: x\nbogus: 1",
    "format: 1\nname: x\nbogus: [[1], {a: 1}]\nevents: []\n", "{a: [}",
    "format: 1\nname: x\nparties: {holders: [{id: h1, name: y, council: C}]}",
    "format: 1\nname: x\nparties: {holders: [{id: H1, name: y, council: C9}]}",
    "format: 1\nname: x\nparties: {holders: [{id: H1, name: y}], councils: [{id: C1, "
    "name: b}]}",
    "format: 1\nname: x\nparties: {councils: [{id: C1, name: b}], holders: [{id: H1, name: "
    "a, council: C1}, {id: H1, name: a, council: C1}]}",
    "format: 1\nname: x\nparties: {holders: [{id: H1, name: a, council: C1}, {id: H2}], "
    "councils: [{id: C1, name: b}, {id: C2}]}",
    "format: 1\nname: x\nparties: ~\n", "format: 1\nname: x\nparties: {holders: 5}\n",
    "format: 1\nname: x\nparties: &p {}\n", "format: 1\nname: x\nparties: !!map {}\n",
    "format: 1\nname: x\nparties: {councils: !!seq []}\n", "format: 1\nname: &n x\n",
    "format: 1\nname: x\nparties: {councils: [&c {id: C1, name: C}]}\n",
    "format: 1\nname: x\nevents: &e []\n", "format: 1\nname: x\nevents: *e\n",
    "format: 1\nname: x\nbogus: &b [1]\n", "format: 1\nname: x\nbogus: [!!str 1]\n",
    "format: 1\nname: x\nparties: {foo: [1]}\n", "format: 1\nname: x\nparties: [1]\n",
    "format: 1\nname: x\nevents:\n  - {date: 2026-04-01, type: expect}\n\t- bad",
    "format: 1\nname: x\na: &a [1, 2, 3]\nb: [*a, *a, *a]\n",
    "a: 1\n---\nb: 2\n", "[1]\n---\n[2]\n", "---\n...\n", "# only a comment\n",
    "--- !!map\nformat: 1\n", "&a\nformat: 1\n", "*a\n", "format: 1\nname: ! x\n",
    "format: 1\nname: x\n1: a\n1.0: b\n", "format: 1\nname: x\n[a]: b\n",
    "format: 1\nname: x\nbogus: " + "[" * 30 + "]" * 30 + "\n",
    "format: 1\nname: x\nparties: " + "{a: " * 30 + "1" + "}" * 30 + "\n",
    "format: 1\nname: x\ndescription: a\x00b\n", "format: true\nname: x\n",
    "format: 1\nname: é\ndescription: ünïcödé\nbogus: \x01\nmore: 1\nand: 2\n",
    "format: 1.0\nname: x\n", "\ufeffformat: 1\nname: x\n",
    "%YAML 1.1\n---\nformat: 1\nname: x\n",
    "format: 1\nname: x\nparties:\n  councils: [{id: C1, name: C}]\n"
    "  holders: [{id: H1, name: A, council: C1, show_name: yes}]\n",
    "format: 1\nname: x\nparties: {councils: [{id: \"C1\\n\", name: C}]}\n",
    "format: 1\nname: x\nparties: {councils: [{id: C1, name: " + "N" * 300 + "}]}\n",
    "events: [{a: 1}]\nname: late\nformat: 1\nevents: []\n",
    "events: [{a: 1}, 5]\nname: late\nformat: 1\n",
    "events: [{a: 1}]\nformat: 2\nname: x\n",
    "format: 1\nname: x\nparties: {}\nevents: [{type: expect}]\nbogus: [1, 2]\n",
    "format: 1\nname: x\nparties: {}\nevents: [{type: expect}]\ndescription: [bad]\n",
]


@pytest.mark.parametrize("text", ODD)
def test_any_file_reads_as_it_does_whole(tmp_path, text):
    """Every rule of the whole-file loader, and its message, for files with one problem
    (or none): a file with several may be reported by a different one of them first."""
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        whole = load_scenario(path)
    except UsageError as err:
        assert _stream_error(path) == str(err)
        return
    with ScenarioStream(path) as scenario:
        assert list(scenario.numbered_events()) == list(whole.numbered_events())
        assert scenario.header.model_dump() == whole.model_dump(exclude={"events"})


def test_every_scenario_in_the_repository_reads_as_it_does_whole():
    for path in sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml")):
        whole = load_scenario(path)
        with ScenarioStream(path) as scenario:
            assert list(scenario.numbered_events()) == list(whole.numbered_events()), path
            assert scenario.header.model_dump() == whole.model_dump(exclude={"events"})
