"""Statements for many people at once (app/statements.py `write_holder_statements`, reading
through reports/bulk.py) are byte for byte what `ledger statement holder H --format
json|html -o FILE` writes for each of them, on both engines; `holders_for` picks a
council's and a provider's people; a failure part way leaves every file whole or
absent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bench.generate import council_year, population
from click.testing import CliRunner

from ledger.app.reading import Books
from ledger.app.scenarios import run_scenario
from ledger.app.statements import Operator, Period, statement, write_holder_statements
from ledger.cli import cli
from ledger.errors import UsageError
from ledger.reports import bulk
from ledger.reports.holder_doc import holder_document
from ledger.reports.html import render_html
from ledger.reports.statements import holder_statement
from ledger.scenarios.schema import ScenarioFile, load_scenario
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["wokingham-isf-pilot", "multi-funder-budget", "richmond-pooling-consortium",
             "dp-quarterly-review", "framework-and-block", "pool-member-leaves",
             "bursary-pot", "isf-monthly"]
# Beyond the worked examples: a name and a format changed part way, an ISF's terms varied.
LATER = [
    {"date": dt.date(2026, 6, 15), "type": "party_update", "holder": "H1",
     "name": "Ann E.", "statement_format": "large_print"},
    {"date": dt.date(2026, 6, 20), "type": "party_update", "holder": "H2",
     "statement_format": "easy_read"},
    {"date": dt.date(2026, 6, 20), "type": "isf_vary", "holder": "H2", "provider": "SH",
     "from": "2026-07", "hours_per_month": 50, "rate": "19.00"},
    {"date": dt.date(2026, 7, 1), "type": "isf_advance", "holder": "H2", "provider": "SH",
     "month": "2026-07"},
    {"date": dt.date(2026, 7, 1), "type": "isf_advance", "holder": "H1", "provider": "SH",
     "month": "2026-07"},
]
PERIODS = [(dt.date(2026, 5, 1), dt.date(2026, 5, 31)),
           (dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
           (dt.date(2026, 7, 1), dt.date(2026, 7, 31)),
           (dt.date(2026, 4, 10), dt.date(2026, 9, 30))]


def _load(db_url: str, *scenarios: ScenarioFile) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        for scenario in scenarios:
            with engine.begin() as conn:
                result = run_scenario(DbStore(conn), scenario)
                assert result.failure is None, result.failure
    finally:
        engine.dispose()


def _with_later(name: str) -> list[ScenarioFile]:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    if name != "wokingham-isf-pilot":
        return [scenario]
    later = ScenarioFile.model_validate({
        "format": 1, "name": "later", "parties": scenario.model_dump(mode="json")["parties"],
        "events": LATER})
    return [scenario, later]


def _bulk(db_url: str, holders: list[str], start: dt.date, end: dt.date, fmt: str,
          out: Path) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return write_holder_statements(DbStore(conn), holders, start, end, fmt, out)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_file_is_what_the_one_person_command_writes(name, db_url, tmp_path):
    _load(db_url, *_with_later(name))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        holders = sorted(DbStore(conn).parties("holder"))
    engine.dispose()
    runner = CliRunner()
    for number, (start, end) in enumerate(PERIODS):
        for fmt in ("json", "html", "xlsx"):  # a workbook too, byte for byte (no time in it)
            out = tmp_path / f"bulk-{number}-{fmt}"
            assert _bulk(db_url, holders, start, end, fmt, out) == len(holders)
            assert sorted(p.name for p in out.iterdir()) == sorted(
                f"{h}.{fmt}" for h in holders)
            for holder in holders:
                single = tmp_path / f"single-{holder}-{number}.{fmt}"
                done = runner.invoke(cli, ["statement", "holder", holder, "--from",
                                           start.isoformat(), "--to", end.isoformat(),
                                           "--format", fmt, "-o", str(single),
                                           "--db", db_url])
                assert done.exit_code == 0, done.output
                assert (out / f"{holder}.{fmt}").read_bytes() == single.read_bytes(), \
                    (name, holder, start, fmt)


def test_the_recorded_format_is_each_persons_variant(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    _load(url, *_with_later("wokingham-isf-pilot"))
    _bulk(url, ["H1", "H2", "H3"], dt.date(2026, 7, 1), dt.date(2026, 7, 31), "html",
          tmp_path / "out")
    engine = make_engine(url)
    with engine.connect() as conn:
        for holder, variant in (("H1", "large_print"), ("H2", "easy_read"),
                                ("H3", "standard")):
            statement = holder_statement(DbStore(conn), holder, dt.date(2026, 7, 1),
                                         dt.date(2026, 7, 31))
            assert statement["statement_format"] == variant
            assert (tmp_path / "out" / f"{holder}.html").read_text(encoding="utf-8") == \
                render_html(holder_document(statement), variant)
    engine.dispose()


def test_a_few_hundred_generated_people_match_one_by_one(db_url, tmp_path, monkeypatch):
    """Every person of a generated council of 120 (DPs and ISFs, two months), read in
    batches of 50 so batch edges are crossed, each file against what `ledger statement
    holder` asks for: the one person's statement, in their recorded version."""
    monkeypatch.setattr(bulk, "CHUNK", 50)
    _load(db_url, ScenarioFile.model_validate(council_year(120, seed=7, months=2)))
    start, end = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        holders = sorted(DbStore(conn).parties("holder"))
        assert len(holders) == 120
        for fmt in ("json", "html"):
            write_holder_statements(DbStore(conn), holders, start, end, fmt, tmp_path / fmt)
    engine.dispose()
    books = Books.at(db_url, "main")
    for holder in holders:
        single = statement(books, "holder", holder, Period(start, end), Operator())
        for fmt in ("json", "html"):
            assert (tmp_path / fmt / f"{holder}.{fmt}").read_bytes() == \
                single.render(fmt, single.version()), (holder, fmt)
    books.dispose()


def test_holders_for_a_council_and_for_a_provider(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    _load(url, ScenarioFile.model_validate(council_year(120, seed=5, months=1)))
    pop = population(120, 5)
    end = dt.date(2026, 4, 30)
    engine = make_engine(url)
    with engine.connect() as conn:
        store = DbStore(conn)
        for council, _ in pop.councils:
            assert bulk.holders_for(store, council=council, month_end=end) == sorted(
                h.id for h in pop.holders if h.council == council)
        for provider in pop.providers:
            assert bulk.holders_for(store, provider=provider, month_end=end) == sorted(
                h.id for h in pop.holders if h.provider == provider)
        assert sum(len(bulk.holders_for(store, council=c, month_end=end))
                   for c, _ in pop.councils) == 120
        # Nobody's ISF is open before the first month.
        assert bulk.holders_for(store, provider=pop.providers[0],
                                month_end=dt.date(2026, 3, 31)) == []
        for wrong in ({}, {"council": "WBC", "provider": "P000"}, {"council": "NOPE"},
                      {"provider": "NOPE"}):
            with pytest.raises(UsageError):
                bulk.holders_for(store, month_end=end, **wrong)
    engine.dispose()


def test_a_failure_part_way_leaves_no_partial_file(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    _load(url, *_with_later("wokingham-isf-pilot"))
    start, end = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    holders = ["H1", "H2", "H3", "H4", "H5"]
    whole = tmp_path / "whole"
    _bulk(url, holders, start, end, "html", whole)
    real_open = Path.open
    for stop in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        calls = []

        class HalfThenFail:
            """The third file opened for writing: half its bytes, then the failure."""

            def __init__(self, file, stop=stop):
                self.file, self.stop = file, stop

            def write(self, data: bytes) -> int:
                self.file.write(data[: len(data) // 2])
                raise self.stop

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.file.__exit__(*exc)

        def open_then_fail(path: Path, mode: str = "r", *args, calls=calls, **kwargs):
            file = real_open(path, mode, *args, **kwargs)
            if "w" not in mode:
                return file
            calls.append(path)
            return HalfThenFail(file) if len(calls) == 3 else file

        monkeypatch.setattr(Path, "open", open_then_fail)
        out = tmp_path / type(stop).__name__
        with pytest.raises(UsageError if isinstance(stop, OSError) else KeyboardInterrupt):
            _bulk(url, holders, start, end, "html", out)
        monkeypatch.setattr(Path, "open", real_open)
        assert sorted(p.name for p in out.iterdir()) == ["H1.html", "H2.html"]
        for name in ("H1.html", "H2.html"):
            assert (out / name).read_bytes() == (whole / name).read_bytes()


def test_nothing_is_written_for_an_unknown_holder_or_format(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    _load(url, load_scenario(ROOT / "scenarios" / "multi-funder-budget.yaml"))
    with pytest.raises(UsageError, match="NOPE"):
        _bulk(url, ["S1", "NOPE"], dt.date(2026, 5, 1), dt.date(2026, 5, 31), "json",
              tmp_path / "a")
    with pytest.raises(UsageError, match="text"):
        _bulk(url, ["S1"], dt.date(2026, 5, 1), dt.date(2026, 5, 31), "text", tmp_path / "b")
    with pytest.raises(UsageError):
        _bulk(url, ["S1"], dt.date(2026, 5, 31), dt.date(2026, 5, 1), "json", tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
