"""Odd input is one clear error, on both engines, never a traceback, a database error or
a silent misreading (docs/rules-trust.md#reading): dates in every date field, control
characters and lengths in every text, a malformed `expect_error`, keys that must fit
their column, and the command line's dates and account prefix."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from ledger.app.events import parse_event
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.core.journal import MAX_KEY_CHARS
from ledger.domain.base import HANDLERS, Event, Strict
from ledger.errors import LedgerError, UsageError
from ledger.reports.balances import balances, stats
from ledger.scenarios.schema import ScenarioFile, load_scenario
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore

D = dt.date(2026, 4, 1)
LONG_HOLDER = "H" + "1" * 59  # the longest party id there may be (60)
PARTIES = {"councils": [{"id": "C1", "name": "Council"}],
           "providers": [{"id": "P1", "name": "Provider"}],
           "holders": [{"id": "H1", "name": "Holder", "council": "C1"},
                       {"id": LONG_HOLDER, "name": "Holder two", "council": "C1"}]}
FUNDED = [{"date": D, "type": "dp_payment", "holder": "H1", "amount": "100"}]


def _replay(engine, events: list[dict], name: str = "odd"):
    scenario = ScenarioFile.model_validate(
        {"format": 1, "name": name, "parties": PARTIES, "events": events})
    with engine.begin() as conn:
        return run_scenario(DbStore(conn), scenario)


def _balances(engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        return {(r.account, r.unit.value): r.minor for r in balances(conn)}


# ---------------------------------------------------------------- dates


def _models() -> set[type[BaseModel]]:
    """Every event model and every model nested in one."""
    found: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [model for model, _ in HANDLERS.values()]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for info in model.model_fields.values():
            todo.extend(arg for arg in _types_in(info.annotation)
                        if isinstance(arg, type) and issubclass(arg, BaseModel))
    return found


def _types_in(annotation: object) -> list[object]:
    out = [annotation]
    for arg in typing.get_args(annotation):
        out.extend(_types_in(arg))
    return out


def test_every_date_field_of_every_event_model_is_one_the_base_classes_check():
    """A date anywhere else (a list of dates, a plain BaseModel) would escape the check
    in domain/base.py that refuses numbers, impossible dates and years out of range."""
    for model in _models():
        assert issubclass(model, Event | Strict), model
        for name, info in model.model_fields.items():
            inner = [t for t in _types_in(info.annotation) if t is dt.date]
            if inner:
                direct = info.annotation is dt.date or (
                    typing.get_origin(info.annotation) in (typing.Union, types.UnionType)
                    and set(typing.get_args(info.annotation)) <= {dt.date, type(None)})
                assert direct, f"{model.__name__}.{name}: {info.annotation}"


def _date_cases() -> list[tuple[str, str]]:
    cases = []
    for event_type, (model, _) in sorted(HANDLERS.items()):
        for name, info in model.model_fields.items():
            if info.annotation is dt.date or dt.date in typing.get_args(info.annotation):
                cases.append((event_type, info.alias or name))
    return cases


@pytest.mark.parametrize(("event_type", "field"), _date_cases())
@pytest.mark.parametrize("value", [0, 1767225600, "2026-02-30", "9999-12-31", "1899-12-31",
                                   "20260401", "2026-04-01\n", "٢٠٢٦-٠٤-٠١", 20260401.0])
def test_a_date_field_takes_only_a_real_yyyy_mm_dd_date(event_type, field, value):
    raw = {"date": "2026-04-01", "type": event_type, field: value}
    with pytest.raises(LedgerError) as err:
        parse_event(raw)
    assert err.value.code == "invalid" and f"{field}: " in err.value.message, err.value


def test_a_nested_date_is_checked_too():
    raw = {"date": "2026-04-01", "type": "framework_open", "framework": "FW", "council": "C1",
           "rates": [{"service": "care", "rate": "20", "from": 1767225600}]}
    with pytest.raises(LedgerError, match="rates.0: from: 1767225600 is not a date"):
        parse_event(raw)


def test_a_date_at_the_ends_of_the_years_allowed_is_accepted():
    for day in ("1900-01-01", "2199-12-31", dt.date(2026, 4, 1)):
        assert parse_event({"date": day, "type": "close_period", "until": day}) is not None


# ---------------------------------------------------------------- text


NASTY = ["a\x00b", "a\nb", "a\rb", "a\tb", "a\x7fb", "a\x85b", "a\u2028b", "a\u202eb",
         "a\ufeffb"]
TEXT_FIELDS = [
    ({"type": "dp_spend", "holder": "H1", "amount": "1"}, "payee"),
    ({"type": "dp_spend", "holder": "H1", "amount": "1", "payee": "SHOP"}, "category"),
    ({"type": "reverse", "event": "odd#0"}, "reason"),
    ({"type": "dp_payment", "holder": "H1", "amount": "1"}, "id"),
    ({"type": "fund_open", "council": "C1", "total": "10", "cap_per_person": "5"}, "fund"),
    ({"type": "dp_payment", "holder": "H1", "amount": "1"}, "expect_error"),
]


@pytest.mark.parametrize(("event", "field", "value"), [
    *[(event, field, "a\x00b") for event, field in TEXT_FIELDS],  # NUL: PostgreSQL refuses it
    *[(TEXT_FIELDS[0][0], "payee", value) for value in NASTY[1:]],
    (TEXT_FIELDS[1][0], "category", "a\nb"),
])
def test_text_with_a_control_character_is_invalid_on_every_engine(engine, event, field, value):
    raw = {"date": D, **event, field: value}
    if field != "expect_error":
        raw["expect_error"] = "invalid"
    result = _replay(engine, [*FUNDED, raw])
    if field == "expect_error":
        assert result.failure is not None and "invalid: expect_error" in result.failure
    else:
        assert result.failure is None, result.failure
        assert result.rejected_as_expected == 1
    assert _balances(engine) == {("council:C1:funding", "GBP"): -10000,
                                 ("holder:H1:dp", "GBP"): 10000}
    assert "\n" not in (result.failure or "")


def test_an_unknown_type_no_column_can_hold_is_invalid_not_a_database_error(engine):
    """A refused event's type is stored with its record: it must fit and hold no NUL."""
    result = _replay(engine, [*FUNDED, {"date": D, "type": "dp\x00payment",
                                        "expect_error": "invalid"},
                              {"date": D, "type": "x" * 61, "expect_error": "invalid"},
                              {"date": D, "type": "dp\x00payment"}])
    assert result.failure is not None and result.rejected_as_expected == 2
    assert "event 3 (id odd#3, 'dp\\x00payment'): invalid: the event type" in result.failure
    assert _balances(engine)[("holder:H1:dp", "GBP")] == 10000


def test_text_may_hold_accents_other_scripts_and_joiners(engine):
    payee = "Café Zoë ❤ مقهى‌ها"  # U+200C, the zero-width non-joiner, spells Persian
    result = _replay(engine, [*FUNDED, {"date": D, "type": "dp_spend", "holder": "H1",
                                        "payee": payee, "amount": "1", "category": "ü"}])
    assert result.failure is None, result.failure
    assert _balances(engine)[(f"external:{payee}", "GBP")] == 100


@pytest.mark.parametrize("field", ["category", "payee"])
def test_overlong_free_text_is_invalid(engine, field):
    raw = {"date": D, "type": "dp_spend", "holder": "H1", "payee": "SHOP", "amount": "1",
           field: "c" * 201, "expect_error": "invalid"}
    result = _replay(engine, [*FUNDED, raw])
    assert result.failure is None and result.rejected_as_expected == 1


@pytest.mark.parametrize(("field", "value"), [
    ("name", "Ann\nTOTAL PAID: 0.00"), ("name", "Ann\x00"), ("name", "N" * 201),
    ("pseudonym", "Robin\r"), ("pseudonym", "R" * 101), ("name", "")])
def test_party_text_with_control_characters_or_too_long_is_a_usage_error(tmp_path, field,
                                                                         value):
    holder = {"id": "H1", "name": "Ann", "council": "C1", field: value}
    path = tmp_path / "parties.yaml"
    path.write_text(f"format: 1\nname: x\nparties:\n  councils: [{{id: C1, name: C}}]\n"
                    f"  holders: [{_flow(holder)}]\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    assert f"parties.holders.0.{field}" in str(err.value)
    assert "\n" not in str(err.value)


def _flow(mapping: dict) -> str:
    import json

    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in mapping.items()) + "}"


def test_scenario_name_and_description_follow_the_text_rule(tmp_path):
    for line in ('name: "a\\nb"', "name: " + "n" * 121, 'description: "x\\u2029y"'):
        path = tmp_path / "named.yaml"
        path.write_text(f"format: 1\n{line}\n" + ("name: ok\n" if "desc" in line else ""))
        with pytest.raises(UsageError):
            load_scenario(path)


# ---------------------------------------------------------------- keys


def test_the_longest_event_id_still_fits_every_journal_key_derived_from_it(engine):
    """`{id}/award/{holder}` with the longest id and the longest holder id fits the
    300-character key column on PostgreSQL (SQLite would not notice)."""
    longest = "k" * MAX_KEY_CHARS
    result = _replay(engine, [
        {"date": D, "type": "fund_open", "fund": "F1", "council": "C1", "total": "10",
         "cap_per_person": "10"},
        {"date": D, "type": "bursary_award", "fund": "F1", "holder": LONG_HOLDER,
         "amount": "5"},
        {"date": D, "type": "fund_close", "fund": "F1", "id": longest},
    ])
    assert result.failure is None, result.failure
    assert _balances(engine)[("council:C1:funding", "GBP")] == 0
    too_long = _replay(engine, [{**FUNDED[0], "id": longest + "k"}], name="again")
    assert too_long.failure is not None and "longer than" in too_long.failure


# ---------------------------------------------------------------- expect_error


@pytest.mark.parametrize("expected", [["invalid"], {"code": "invalid"}, 1, True, "nope",
                                      ""])
def test_an_expect_error_that_is_not_a_code_stops_the_run_there_keeping_what_came_before(
        engine, expected):
    result = _replay(engine, [
        *FUNDED,
        {"date": D, "type": "dp_payment", "holder": "H1", "amount": "1",
         "expect_error": expected},
        {"date": D, "type": "dp_payment", "holder": "H1", "amount": "7"},
    ])
    assert result.failure is not None
    assert result.failure.startswith("event 1 (id odd#1, dp_payment): invalid: expect_error")
    assert result.applied == 1
    assert _balances(engine)[("holder:H1:dp", "GBP")] == 10000
    with engine.connect() as conn:
        assert stats(conn)["journals"] == 1


# ---------------------------------------------------------------- the command line

_SCRIPT = Path(sys.executable).with_name("ledger")
LEDGER = [str(_SCRIPT)] if _SCRIPT.exists() else [
    sys.executable, "-c", "from ledger.cli import main; main()"]


def _ledger(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    return subprocess.run([*LEDGER, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def _one_line(proc: subprocess.CompletedProcess, status: int) -> str:
    assert proc.returncode == status, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args", [
    ("statement", "holder", "H1", "--month", "9999-12"),
    ("statement", "holder", "H1", "--month", "0001-01"),
    ("statement", "pool", "L1", "--month", "2200-01"),
    ("statement", "holder", "H1", "--from", "9999-12-01", "--to", "9999-12-31"),
    ("statement", "holder", "H1", "--from", "0001-01-01", "--to", "2026-01-01"),
    ("statement", "holder", "H1", "--month", "٢٠٢٦-04"),
    ("balance", "--as-of", "9999-12-31"),
    ("balance", "--as-of", "20260401"),
    ("balance", "--account", "a" * 100_000),
    ("balance", "--account", "holder:H1\n:dp"),
    ("balance", "--account", "holder:\tH1"),
])
def test_out_of_range_dates_and_odd_account_prefixes_are_one_line_exit_2(
        engine, db_url, monkeypatch, capsys, args):
    """Against a real ledger on each engine: refused before the database sees them."""
    from ledger.cli import main

    seeded = _replay(engine, [*FUNDED, {"date": D, "type": "pool_open", "pool": "L1",
                                        "members": ["H1"]}])
    assert seeded.failure is None, seeded.failure  # H1 and L1 exist: only the dates are odd
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["ledger", *args, "--db", db_url])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and len(err) < 300, err


def test_a_device_is_not_read_forever(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    line = _one_line(_ledger("scenario", "run", "/dev/zero", "--db",
                             f"sqlite:///{tmp_path}/x.db", cwd=tmp_path), 2)
    # Refused at its first byte (NUL is never YAML), with no attempt to read it whole.
    assert "/dev/zero" in line and "U+0000" in line


def test_a_rejected_event_names_its_file_and_line_at_the_command_line(db_url, tmp_path):
    path = tmp_path / "late.yaml"
    path.write_text(textwrap.dedent("""\
        format: 1
        name: late
        parties:
          councils: [{id: C1, name: Council}]
          holders: [{id: H1, name: Holder, council: C1}]
        events:
          - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "10.00"}
          - {date: 2026-04-02, type: dp_payment, holder: H1, amount: 5,
             expect_error: [invalid]}
        """))
    line = _one_line(_ledger("scenario", "run", str(path), "--db", db_url, cwd=tmp_path), 1)
    assert f"{path}:8: event 1 (id late#1, dp_payment): invalid: expect_error" in line
    csv = _ledger("balance", "--format", "csv", "--db", db_url, cwd=tmp_path).stdout
    assert "holder:H1:dp,GBP,10.00,1000" in csv  # the event before it stays posted


def test_reading_is_the_same_on_the_memory_model(tmp_path):
    """The checks are in the runner, not a backend: the reference model agrees."""
    scenario = ScenarioFile.model_validate(
        {"format": 1, "name": "odd", "parties": PARTIES, "events": [
            *FUNDED, {"date": D, "type": "dp_spend", "holder": "H1", "payee": "A\x00",
                      "amount": "1", "expect_error": "invalid"}]})
    backend = MemoryBackend()
    result = run_scenario(backend, scenario)
    assert result.failure is None and result.rejected_as_expected == 1
    assert backend.balance("holder:H1:dp", Unit.GBP) == 10000


def test_a_party_id_ending_in_a_line_break_is_a_usage_error(tmp_path):
    path = tmp_path / "ids.yaml"
    path.write_text('format: 1\nname: x\nparties:\n  councils: [{id: "C1\\n", name: C}]\n')
    with pytest.raises(UsageError, match="parties.councils.0.id"):
        load_scenario(path)


def test_text_is_checked_inside_lists_and_mappings_and_in_field_names():
    for raw in (
        {"type": "expect", "balances": {"holder:H1:dp\n": {"GBP": "1"}}},
        {"type": "pool_spend", "pool": "L1", "payee": "PA", "amount": "1", "split": "equal",
         "description": "ok", "members": ["H1", "H2\u2028"]},
        {"type": "dp_payment", "holder": "H1", "amount": "1", "note\x00": "x"},
    ):
        with pytest.raises(LedgerError, match="control character"):
            parse_event({"date": "2026-04-01", **raw})
