"""A scenario file means what it looks like (docs/rules-trust.md#reading): YAML 1.2 core
values, no tags, anchors, aliases or keys written twice, a bounded read, and every
message about an event naming the file and line it starts on."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ledger.app.scenarios import RunResult, run_scenario
from ledger.core.amounts import Unit
from ledger.errors import UsageError
from ledger.scenarios.schema import MAX_FILE_BYTES, load_scenario
from ledger.store.memory import MemoryBackend

HEAD = """\
format: 1
name: t
parties:
  councils: [{id: C1, name: Council}]
  providers: [{id: P1, name: Provider}]
  holders: [{id: H1, name: Holder, council: C1}]
events:
"""
ISF = """\
- {date: 2026-04-01, type: isf_open, holder: H1, provider: P1, hours_per_month: 40,
   rate: "20.00"}
- {date: 2026-04-01, type: isf_advance, holder: H1, provider: P1, month: 2026-04}
"""


def _write(tmp_path: Path, events: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + textwrap.dedent(events), encoding="utf-8")
    return path


def _replay(tmp_path: Path, events: str) -> tuple[RunResult, MemoryBackend]:
    path = _write(tmp_path, events)
    backend = MemoryBackend()
    result = run_scenario(backend, load_scenario(path), source=str(path))
    return result, backend


def _usage_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(("written", "pence"), [
    ("0100", 10000),  # YAML 1.1 read this as octal: 64
    ("100", 10000),
    ("12.50", 1250),
    (".5", 50),
    ("7.", 700),
    ('"0100"', 10000),
    ("'12.5'", 1250),
])
def test_a_plain_number_is_the_base_10_number_it_looks_like(tmp_path, written, pence):
    result, backend = _replay(tmp_path, f"""\
        - {{date: 2026-04-01, type: dp_payment, holder: H1, amount: {written}}}
    """)
    assert result.failure is None, result.failure
    assert backend.balance("holder:H1:dp", Unit.GBP) == pence


@pytest.mark.parametrize(("written", "minutes"), [
    ("7:30", 450),  # YAML 1.1 read this as sexagesimal: 450 hours
    ("0:20", 20),
    ('"1:05"', 65),
    ("7.5", 450),
    ("2", 120),
])
def test_hours_are_decimal_hours_or_h_mm(tmp_path, written, minutes):
    result, backend = _replay(tmp_path, ISF + textwrap.dedent(f"""\
        - {{date: 2026-04-02, type: isf_delivery, holder: H1, provider: P1,
           hours: {written}}}
    """))
    assert result.failure is None, result.failure
    assert backend.balance("provider:P1:delivered", Unit.HRS) == minutes


@pytest.mark.parametrize("written", [
    "0x10", "0b1010", "0o17", "1e3", "1_000", ".inf", "-.inf", ".nan", ".NaN", "yes", "on",
    "100.000", '"100.000"', '"١٠٠"', '"1e2"', '"£5"', '"1 000"', "12:30", '"+ 5"', "2026-04-01",
    "true", "~",
])
def test_anything_else_is_text_and_not_an_amount(tmp_path, written):
    result, backend = _replay(tmp_path, f"""\
        - {{date: 2026-04-01, type: dp_payment, holder: H1, amount: {written},
           expect_error: invalid}}
    """)
    assert result.failure is None, result.failure
    assert result.rejected_as_expected == 1 and backend.journals == []


@pytest.mark.parametrize("written", ["7:60", "7:5", "1:2:3", "0x10", "1.333", "٧:٣٠"])
def test_hours_that_are_not_whole_minutes_or_not_h_mm_are_invalid(tmp_path, written):
    result, _ = _replay(tmp_path, ISF + textwrap.dedent(f"""\
        - {{date: 2026-04-02, type: isf_delivery, holder: H1, provider: P1,
           hours: "{written}", expect_error: invalid}}
    """))
    assert result.failure is None, result.failure
    assert result.rejected_as_expected == 1


@pytest.mark.parametrize(("field", "event"), [
    ("date", "{date: 2026-02-30, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 2026-13-01, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 0, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 1767225600, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 9999-12-31, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 1899-12-31, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: 2026-4-1, type: dp_payment, holder: H1, amount: 1}"),
    ("date", "{date: '2026-04-01T10:00:00', type: dp_payment, holder: H1, amount: 1}"),
    ("start", "{date: 2026-04-01, type: dp_schedule, holder: H1, amount: 1, every: weekly,"
              " start: 2026-02-30}"),
    ("end", "{date: 2026-04-01, type: dp_schedule, holder: H1, amount: 1, every: weekly,"
            " start: 2026-04-01, end: 2026-04-31}"),
    ("until", "{date: 2026-04-01, type: run_payments, until: 2026-02-29}"),
    ("until", "{date: 2026-04-01, type: close_period, until: 0}"),
    ("from", "{date: 2026-04-01, type: budget, holder: H1, amount: 1, from: 2026-02-30,"
             " to: 2027-03-31}"),
    ("from", "{date: 2026-04-01, type: framework_open, framework: FW, council: C1,"
             " rates: [{service: care, rate: 1, from: 2026-02-30}]}"),
    ("month", "{date: 2026-04-01, type: isf_advance, holder: H1, provider: P1,"
              " month: 9999-12}"),
    ("month", "{date: 2026-04-01, type: isf_advance, holder: H1, provider: P1,"
              " month: 202604}"),
])
def test_a_date_that_is_not_on_the_calendar_or_is_a_number_is_invalid(tmp_path, field, event):
    """In every date field: never a traceback, never a date made from a number."""
    result, backend = _replay(tmp_path, f"""\
        - {event}
    """)
    assert result.failure is not None
    assert "event 0 (id t#0" in result.failure and "): invalid: " in result.failure
    assert f"{field}: " in result.failure, result.failure
    assert backend.journals == []


# ---------------------------------------------------------------- what is refused


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("format: 1\nname: x\nevents:\n  - {date: 2026-04-01, type: dp_payment, holder: H1,"
     " amount: !!int 3}\n", 4, "tags"),
    ("format: 1\nname: x\nevents:\n  - {date: 2026-04-01, type: dp_payment, holder: H1,"
     " amount: !!int abc}\n", 4, "tags"),
    ("format: 1\nname: !!str x\n", 2, "tags"),
    ("format: 1\nname: ! x\n", 2, "tags"),
    ("format: 1\nname: x\nevents:\n  - &e {date: 2026-04-01, type: expect, balances: {}}\n",
     4, "anchors"),
    ("format: 1\nname: x\nd: &d 2026-04-01\nevents:\n  - {date: *d, type: expect}\n",
     3, "anchors"),
    ("format: 1\nname: x\nevents:\n  - {date: 2026-04-01, type: dp_payment, holder: H1,"
     " amount: 10, amount: 20}\n", 4, "written twice"),
    ("format: 1\nname: x\nname: y\n", 3, "written twice"),
    ("format: 1\nname: x\nevents:\n  - date: 2026-04-01\n    type: dp_payment\n"
     "    holder: H1\n    amount: 10\n    amount: 20\n", 8, "written twice"),
    ("format: 1\nname: x\nevents:\n  - {? [a]: 1}\n", 4, "key must be a plain value"),
    ("format: 1\nname: x\nevents: " + "[" * 30 + "]" * 30 + "\n", 3, "nested"),
    ("format: 1\nname: x\nevents:\n  - {amount: " + "9" * 50 + "}\n", 4, "digits"),
    ("format: 1\nname: x\ndescription: a\x00b\n", 3, "U+0000"),
])
def test_tags_anchors_and_keys_written_twice_are_refused_with_their_line(tmp_path, text, line,
                                                                         problem):
    message = _usage_error(tmp_path, text)
    assert f": line {line}: " in message and problem in message, message


def test_a_file_is_read_in_bounded_chunks_and_refused_beyond_the_limit(tmp_path):
    at_limit = tmp_path / "at-limit.yaml"
    body = "format: 1\nname: big\n"
    at_limit.write_text(body + "#" * (MAX_FILE_BYTES - len(body) - 1) + "\n")
    assert load_scenario(at_limit).name == "big"
    over = tmp_path / "over.yaml"
    over.write_text(body + "#" * (MAX_FILE_BYTES - len(body)) + "\n")
    assert "larger than" in _usage_error_at(over)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_that_never_ends_is_one_error_not_all_the_memory():
    # stat() says 0 bytes for a device or a pipe: only reading in chunks stops it.
    assert "larger than" in _usage_error_at(Path("/dev/zero"))


def _usage_error_at(path: Path) -> str:
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    return str(err.value)


# ---------------------------------------------------------------- where


def test_an_event_that_stops_the_run_is_named_by_file_and_line(tmp_path):
    result, _ = _replay(tmp_path, """\
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: 10}
        # a comment line

        - date: 2026-04-02
          type: dp_spend
          holder: H1
          payee: SHOP
          amount: 50
    """)
    path = tmp_path / "s.yaml"
    first_line = HEAD.count("\n") + 4  # the line `- date: 2026-04-02` is on
    assert result.failure is not None
    assert result.failure.startswith(
        f"{path}:{first_line}: event 1 (id t#1, dp_spend): insufficient_funds: "), result.failure


def test_an_invalid_event_is_named_by_line_index_and_id(tmp_path):
    result, _ = _replay(tmp_path, """\
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: 10}
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1.001", id: pay-2}
    """)
    path = tmp_path / "s.yaml"
    assert result.failure == (f"{path}:{HEAD.count(chr(10)) + 2}: event 1 (id pay-2, "
                              "dp_payment): invalid: amount: '1.001' has more than 2 decimal "
                              "places")


@pytest.mark.parametrize("field", [
    "allow_pool_contributions: yes", "allow_pool_contributions: on",
    "allow_pool_contributions: 1", "allow_pool_contributions: 'true'",
    "carry: {expire_after_months: 1_0}", "carry: {expire_after_months: true}",
    "carry: {expire_after_months: 1.0}", "carry: {expire_after_months: '١'}",
])
def test_yes_no_and_whole_number_fields_take_only_what_they_look_like(tmp_path, field):
    """Pydantic alone reads "yes", "on" and 1 as true and "1_0" as ten."""
    result, _ = _replay(tmp_path, f"""\
        - {{date: 2026-04-01, type: isf_open, holder: H1, provider: P1, hours_per_month: 40,
           rate: "20.00", {field}, expect_error: invalid}}
    """)
    assert result.failure is None, result.failure
    assert result.rejected_as_expected == 1


@pytest.mark.parametrize(("text", "where"), [
    ("format: true\nname: x\n", "format"),
    ("format: 1.0\nname: x\n", "format"),
    ("format: 1\nname: x\nparties:\n  councils: [{id: C1, name: C}]\n"
     "  holders: [{id: H1, name: A, council: C1, show_name: yes}]\n",
     "parties.holders.0.show_name"),
])
def test_the_outer_shape_takes_only_what_it_looks_like_too(tmp_path, text, where):
    assert f": {where}: " in _usage_error(tmp_path, text)
