"""Provider and council statements (docs/statements-provider-council.md): every figure
reconciles with `ledger isf reconcile`, `ledger balance --as-of` and the payments export;
the documents render in every variant, easy-read lines are short and no sentence puts a
minus sign before a pound sign. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.reports.council_doc import council_document
from ledger.reports.council_statement import KINDS, council_statement
from ledger.reports.document import EASY_READ_MAX_WORDS, Document, render_text, word_count
from ledger.reports.html import VARIANTS, render_html, render_pdf
from ledger.reports.isf_month import ROW_KEYS
from ledger.reports.provider_statement import provider_document, provider_statement
from ledger.reports.statements import holder_statement
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine

ROOT = Path(__file__).resolve().parents[2] / "scenarios"
FIGURES = [k for k in ROW_KEYS if k not in ("holder", "flag")]
SIGNED_POUND = re.compile(r"[-\u2212\u2013]\s*£")
BALANCE_COLUMNS = ("Balance at the start", "Balance on", "Held on", "Hours at the end",
                   "Money at the end")

# One council (NBC) with every kind of arrangement, and a neighbour (OTH) whose money
# must never reach NBC's statement.
EVERYTHING = """
format: 1
name: every-kind
parties:
  councils: [{id: NBC, name: Northshire Borough Council}, {id: OTH, name: Other Council}]
  providers: [{id: SH, name: Support Horizons CIC}, {id: DAY, name: Day Centre Ltd}]
  holders:
    - {id: H1, name: Ann Example, council: NBC}
    - {id: H2, name: Bob Example, council: NBC}
    - {id: H3, name: Cat Example, council: NBC}
    - {id: X1, name: Xan Example, council: OTH}
events:
  - {date: 2026-04-01, type: budget, holder: H1, amount: "3000.00", from: 2026-04-01,
     to: 2026-06-30, funders: {NBC: "2400.00", NHS: "600.00"}, contribution: "60.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1000.00"}
  - {date: 2026-04-01, type: contribution, holder: H1, amount: "60.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H3, amount: "400.00"}
  - {id: wrong, date: 2026-04-02, type: dp_payment, holder: H3, amount: "55.55"}
  - {date: 2026-04-20, type: reverse, event: wrong, reason: paid twice}
  - {date: 2026-04-01, type: dp_payment, holder: X1, amount: "700.00"}
  - {date: 2026-04-10, type: dp_spend, holder: H1, payee: PA Jo, amount: "300.00"}
  - {date: 2026-04-01, type: pool_open, pool: CLUB, members: [H1, H3]}
  - {date: 2026-04-05, type: pool_contribute, pool: CLUB, holder: H1, amount: "80.00"}
  - {date: 2026-04-05, type: pool_contribute, pool: CLUB, holder: H3, amount: "40.00"}
  - {date: 2026-04-25, type: pool_spend, pool: CLUB, payee: Cinema, amount: "30.00"}
  - {date: 2026-05-15, type: dp_review, holder: H1, weekly_amount: "50.00", max_weeks: 4}
  - {date: 2026-04-01, type: isf_open, holder: H2, provider: SH, hours_per_month: 40,
     rate: "20.00", carry: {expire_after_months: 1, max_hours: 5, max_borrow_hours: 4},
     fee: {kind: fixed, value: "10.00", basis: on_top}}
  - {date: 2026-04-01, type: isf_advance, holder: H2, provider: SH, month: 2026-04}
  - {date: 2026-04-14, type: isf_delivery, holder: H2, provider: SH, hours: "20.5"}
  - {date: 2026-04-20, type: isf_purchase, holder: H2, provider: SH, payee: Gym,
     amount: "12.00"}
  - {date: 2026-04-30, type: isf_reconcile, holder: H2, provider: SH, month: 2026-04}
  - {date: 2026-05-01, type: isf_advance, holder: H2, provider: SH, month: 2026-05}
  - {date: 2026-05-20, type: isf_delivery, holder: H2, provider: SH, hours: 44}
  - {date: 2026-05-31, type: isf_reconcile, holder: H2, provider: SH, month: 2026-05}
  - {date: 2026-06-01, type: isf_advance, holder: H2, provider: SH, month: 2026-06}
  - {date: 2026-06-10, type: isf_delivery, holder: H2, provider: SH, hours: 10}
  - {date: 2026-06-30, type: isf_close, holder: H2, provider: SH}
  - {date: 2026-04-01, type: isf_open, holder: H3, provider: SH, hours_per_month: 10,
     rate: "21.00", carry: {max_borrow_hours: 2}}
  - {date: 2026-05-01, type: isf_advance, holder: H3, provider: SH, month: 2026-05}
  - {date: 2026-05-12, type: isf_delivery, holder: H3, provider: SH, hours: 12}
  - {date: 2026-04-01, type: fund_open, fund: BURSARY, council: NBC, total: "500.00",
     cap_per_person: "100.00"}
  - {date: 2026-04-10, type: bursary_award, fund: BURSARY, holder: H3, amount: "100.00"}
  - {date: 2026-04-01, type: framework_open, framework: FW, council: NBC,
     rates: [{service: home_care, rate: "19.50", from: 2026-04-01}]}
  - {date: 2026-05-31, type: calloff, framework: FW, provider: SH, service: home_care,
     hours: "10.5", holder: H1}
  - {date: 2026-04-01, type: block_open, contract: BLK, council: NBC, provider: DAY,
     amount_per_month: "1000.00", capacity_hours_per_month: 50}
  - {date: 2026-04-01, type: block_payment, contract: BLK, month: 2026-04}
  - {date: 2026-05-01, type: block_payment, contract: BLK, month: 2026-05}
  - {date: 2026-04-30, type: block_usage, contract: BLK, hours: 45}
  - {date: 2026-05-03, type: spot_purchase, council: NBC, provider: DAY, amount: "150.00",
     holder: H3}
  - {date: 2026-04-01, type: grant, council: NBC, provider: DAY, amount: "2000.00"}
  - {id: twice, date: 2026-05-01, type: grant, council: NBC, provider: DAY,
     amount: "2000.00"}
  - {date: 2026-05-02, type: reverse, event: twice, reason: entered twice}
  - {date: 2026-05-01, type: grant, council: OTH, provider: DAY, amount: "999.00"}
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def run(path: Path, db: str) -> None:
    done = invoke("scenario", "run", str(path), db=db)
    assert done.exit_code == 0, done.output


def balances(db: str, on: dt.date) -> dict[tuple[str, str], int]:
    rows = json.loads(invoke("balance", "--as-of", on.isoformat(), "--format", "json",
                             db=db).output)
    return {(r["account"], r["unit"]): r["minor_units"] for r in rows}


def payments(db: str, council: str, start: dt.date, end: dt.date) -> list[dict]:
    done = invoke("export", "payments", "--council", council, "--from", start.isoformat(),
                  "--to", end.isoformat(), db=db)
    assert done.exit_code == 0, done.output
    return list(csv.DictReader(io.StringIO(done.output)))


def read(db: str, fn, *args):
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            return fn(DbStore(conn), *args)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- provider


def _check_provider(db: str, provider: str, month: str) -> dict:
    """The statement's rows and totals are the reconcile report's, its totals the sums of
    its rows, and its closing (opening) figures the balances at the month's end (start)."""
    report = json.loads(invoke("isf", "reconcile", "--provider", provider, "--month", month,
                               "--format", "json", db=db).output)
    data = read(db, provider_statement, provider, month)
    json.dumps(data)  # serialisable as it is
    assert [r["holder"] for r in data["isfs"]] == [r["holder"] for r in report["isfs"]]
    for ours, theirs in zip(data["isfs"], report["isfs"], strict=True):
        assert {k: ours[k] for k in [*FIGURES, "flag"]} == \
            {k: theirs[k] for k in [*FIGURES, "flag"]}
    for key in FIGURES:
        assert data["totals"][key] == sum(r[key] for r in data["isfs"]) \
            == report["totals"][key], key
    first = dt.date.fromisoformat(data["from"])
    end, start = balances(db, dt.date.fromisoformat(data["to"])), \
        balances(db, first - dt.timedelta(days=1))
    for row in data["isfs"]:
        account = f"isf:{row['holder']}:{provider}"
        assert row["money_closing_minor"] == end.get((account, "GBP"), 0)
        assert row["hours_closing_minutes"] == end.get((account, "HRS"), 0)
        assert row["money_opening_minor"] == start.get((account, "GBP"), 0)
        assert row["hours_opening_minutes"] == start.get((account, "HRS"), 0)
    closing = [r["money_closing_minor"] for r in data["isfs"]]
    assert data["totals"]["money_held_minor"] - data["totals"]["money_overspent_minor"] \
        == sum(closing) == data["totals"]["money_closing_minor"]
    return data


def test_provider_statement_is_the_month_report_with_names_terms_and_totals(db_url):
    run(ROOT / "wokingham-isf-pilot.yaml", db_url)
    data = _check_provider(db_url, "SH", "2026-05")
    assert data["name"] == "Support Horizons CIC"
    bob = next(r for r in data["isfs"] if r["holder"] == "H2")
    assert (bob["name"], bob["hours_per_month_minutes"], bob["rate_pence_per_hour"]) == \
        ("Bob Example", 60 * 60, 1800)
    assert (bob["hours_closing_minutes"], bob["money_closing_minor"]) == (-360, -10800)
    totals = data["totals"]
    assert (totals["isfs"], totals["over"], totals["under"], totals["overspent"],
            totals["borrowed"]) == (5, 1, 2, 1, 1)
    document = provider_document(data)
    assert document.title == "Month-end statement: Support Horizons CIC"
    assert document.subtitle == "May 2026"
    said = next(s for s in document.sections[1].subsections if s.id == "isf-H2").sentences
    assert "Bob Example had 60 hours for May 2026." in said
    assert "Support Horizons CIC delivered 66 hours, worth £1,188.00." in said
    assert "6 hours were borrowed from next month." in said
    assert "The fund is overspent by £108.00 at the end of May 2026." in said
    table = document.sections[0].tables[0]
    assert table.rows[1][0] == "Bob Example (H2)" and table.total[0] == "All ISFs"
    # Bob's fund ends 6 hours borrowed and £108.00 overspent: signed, so each column at
    # the end adds up to its total as printed (a note says what the minus means).
    assert (table.rows[1][3], table.rows[1][6]) == ("-6", "-£108.00")
    _ends_add_up_as_printed(table)
    assert any("A minus sign at the end" in note for note in document.notes)
    _check_document(document, signed_balances=True)
    # A month after Eve's ISF closed: her row is all zeros, and still adds up.
    _check_provider(db_url, "SH", "2026-07")


def test_provider_statement_after_a_month_end_run_from_the_command_line(db_url):
    run(ROOT / "provider-month-end.yaml", db_url)
    assert invoke("isf", "advance", "--provider", "SH", "--month", "2026-04",
                  db=db_url).exit_code == 0
    done = invoke("isf", "import-timesheet",
                  str(ROOT / "provider-month-end" / "april-timesheet.csv"),
                  "--provider", "SH", db=db_url)
    assert done.exit_code == 0, done.output
    data = _check_provider(db_url, "SH", "2026-04")  # reconciles April, then compares
    cat = next(r for r in data["isfs"] if r["holder"] == "CAT")
    assert (cat["hours_closing_minutes"], cat["money_closing_minor"]) == (-120, -4200)
    bob = next(r for r in data["isfs"] if r["holder"] == "BOB")
    assert bob["fee"] == {"kind": "percent", "value": "5", "basis": "on_top"}
    document = provider_document(data)
    _ends_add_up_as_printed(document.sections[0].tables[0])
    _check_document(document, signed_balances=True)


def _printed(cell: str) -> Fraction:
    """A figure as printed: '-£1,080.00' or '-6' or '1.5'."""
    return Fraction(cell.replace("£", "").replace(",", ""))


def _ends_add_up_as_printed(table) -> None:
    for column in (3, 6):  # hours at the end, money at the end
        assert sum(_printed(row[column]) for row in table.rows) == \
            _printed(table.total[column]), table.columns[column]


# ---------------------------------------------------------------- council


def _check_council(db: str, council: str, start: dt.date, end: dt.date) -> dict:
    data = read(db, council_statement, council, start, end)
    json.dumps(data)
    before, after = balances(db, start - dt.timedelta(days=1)), balances(db, end)
    funding = f"council:{council}:funding"
    fall = before.get((funding, "GBP"), 0) - after.get((funding, "GBP"), 0)
    totals = data["totals"]
    # Paid less recovered is the fall in the council's funding, and the payments total.
    assert totals["paid_minor"] - totals["recovered_minor"] == totals["net_minor"] == fall
    rows = payments(db, council, start, end)
    assert int(rows[-1]["minor_units"]) == fall
    assert totals["paid_minor"] == sum(int(r["minor_units"]) for r in rows[:-1]
                                       if r["direction"] == "payment")
    kinds = {k["kind"]: k for k in data["kinds"]}
    assert list(kinds) == list(KINDS)
    for key in ("paid_minor", "recovered_minor", "net_minor", "held_minor"):
        assert totals[key] == sum(k[key] for k in data["kinds"])
    # Held is the sum of the balances of the kind's accounts on the last day, found here
    # from the balances themselves and the people's party records.
    people = {p["id"] for p in json.loads(invoke("parties", "--kind", "holder", "--format",
                                                 "json", db=db).output)
              if p["council"] == council}
    gbp = {a: n for (a, unit), n in after.items() if unit == "GBP"}
    funds = {f["account"].split(":")[1] for f in data["funds"]}

    def owner(account: str) -> str:
        return account.split(":")[2 if account.startswith("pool:") else 1]

    expected = {
        "direct_payments": sum(n for a, n in gbp.items() if a.startswith("holder:")
                               and a.endswith(":dp") and owner(a) in people),
        "pools": sum(n for a, n in gbp.items() if a.startswith("pool:")
                     and owner(a) in people),
        "isfs": sum(n for a, n in gbp.items() if a.startswith("isf:")
                    and owner(a) in people),
        "funds": sum(n for a, n in gbp.items() if a.startswith("fund:")
                     and a.split(":")[1] in funds),
    }
    for kind, held in expected.items():
        assert kinds[kind]["held_minor"] == held, kind
    assert totals["held_minor"] == sum(expected.values())
    # Each account's paid and recovered are its rows in the payments export.
    for kind in ("direct_payments", "pools", "funds"):
        for row in data[kind]:
            mine = [r for r in rows[:-1] if r["counterparty"] == row["account"]]
            assert row["paid_minor"] == sum(int(r["minor_units"]) for r in mine
                                            if r["direction"] == "payment")
            assert row["recovered_minor"] == sum(int(r["minor_units"]) for r in mine
                                                 if r["direction"] == "recovery")
    # An ISF's are sorted by the one table of ISF movement kinds: its advances are
    # advanced and its underspend returns returned; a closure return is other
    # (docs/statements-provider-council.md#isf-kinds).
    for row in data["isfs"]:
        mine = [r for r in rows[:-1] if r["counterparty"] == row["account"]]
        assert row["money_advanced_minor"] == sum(
            int(r["minor_units"]) for r in mine
            if r["direction"] == "payment" and r["type"] == "isf_advance")
        assert row["money_returned_minor"] == sum(
            int(r["minor_units"]) for r in mine
            if r["direction"] == "recovery" and r["type"] == "isf_underspend_return")
    for kind in ("direct_payments", "pools", "funds"):
        for row in data[kind]:
            assert row["opening_minor"] == before.get((row["account"], "GBP"), 0)
            assert row["closing_minor"] == after.get((row["account"], "GBP"), 0)
    for row in data["isfs"]:
        assert row["money_opening_minor"] == before.get((row["account"], "GBP"), 0)
        assert row["money_closing_minor"] == after.get((row["account"], "GBP"), 0)
        assert row["hours_closing_minutes"] == after.get((row["account"], "HRS"), 0)
        assert row["money_opening_minor"] + row["money_advanced_minor"] \
            - row["money_delivered_minor"] - row["money_fees_minor"] \
            - row["money_purchases_minor"] - row["money_returned_minor"] \
            + row["money_other_minor"] == row["money_closing_minor"]
    # Contract spend by kind is the contracts export's.
    for kind in ("framework", "block", "spot", "grant"):
        assert kinds[kind]["net_minor"] == sum(c["spend_minor"] for c in data["contracts"]
                                               if c["kind"] == kind), kind
    _check_document(council_document(data), signed_balances=True)
    return data


@pytest.fixture
def everything(db_url, tmp_path) -> str:
    path = tmp_path / "every-kind.yaml"
    path.write_text(EVERYTHING, encoding="utf-8")
    run(path, db_url)
    return db_url


def test_council_statement_reconciles_every_kind_of_arrangement(everything):
    data = _check_council(everything, "NBC", dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    kinds = {k["kind"]: k for k in data["kinds"]}
    # H1 £1,000.00 and H3 £400.00 + £55.55, less the £55.55 reversed and H1's surplus:
    # £1,000.00 + £60.00 - £300.00 - £80.00 = £680.00, 4 weeks of £50.00 kept.
    assert kinds["direct_payments"]["paid_minor"] == 145555
    assert kinds["direct_payments"]["recovered_minor"] == 5555 + 48000
    assert kinds["grant"]["paid_minor"] == 400000 and kinds["grant"]["recovered_minor"] \
        == 200000
    assert kinds["block"]["paid_minor"] == 200000
    assert kinds["framework"]["paid_minor"] == 20475  # 10.5 hours at £19.50
    assert kinds["spot"]["paid_minor"] == 15000
    assert kinds["funds"]["paid_minor"] == 50000
    assert kinds["other"]["paid_minor"] == kinds["other"]["recovered_minor"] == 0
    assert {r["holder"] for r in data["direct_payments"]} == {"H1", "H3"}  # never X1
    assert [b["holder"] for b in data["budgets"]] == ["H1"]
    budget = data["budgets"][0]
    assert budget["council_part_minor"] == 240000
    statement = read(everything, holder_statement, "H1", dt.date(2026, 4, 1),
                     dt.date(2026, 6, 30))
    assert budget["paid_minor"] == statement["budgets"][0]["paid_minor"]
    isf = {r["holder"]: r for r in data["isfs"]}
    assert isf["H2"]["money_fees_minor"] == 3000 and isf["H2"]["money_purchases_minor"] \
        == 1200
    assert isf["H3"]["money_closing_minor"] == 21000 - 25200  # overspent, still shown


def test_council_statement_for_a_period_that_is_not_whole_months(everything):
    _check_council(everything, "NBC", dt.date(2026, 4, 15), dt.date(2026, 5, 20))
    _check_council(everything, "OTH", dt.date(2026, 4, 1), dt.date(2026, 6, 30))


@pytest.mark.parametrize("month", ["2026-05", "2026-06"])  # June: H2's fund closes
def test_council_isf_figures_for_a_month_are_the_isf_returns_export(everything, month):
    first = dt.date.fromisoformat(f"{month}-01")
    last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    data = _check_council(everything, "NBC", first, last)
    done = invoke("export", "isf-returns", "--council", "NBC", "--month", month,
                  db=everything)
    returns = {r["holder"]: r for r in csv.DictReader(io.StringIO(done.output))}
    assert {row["holder"] for row in data["isfs"]} == set(returns)
    for row in data["isfs"]:
        theirs = returns[row["holder"]]
        for key in FIGURES:  # every figure, returned and other too
            ours = row["money_advanced_minor" if key == "money_in_minor" else key]
            assert ours == int(theirs[key]), key


@pytest.mark.parametrize(("scenario", "council", "start", "end"), [
    ("wokingham-isf-pilot", "WBC", "2026-04-01", "2026-06-30"),
    ("multi-funder-budget", "SCC", "2026-05-01", "2026-06-30"),
    ("framework-and-block", "ECC", "2026-04-01", "2027-03-31"),
    ("grant-instalments", "SCC", "2026-10-01", "2026-12-31"),
    ("dp-quarterly-review", "SHBC", "2026-04-01", "2026-09-30"),
    ("richmond-pooling-consortium", "RIC", "2026-04-01", "2026-05-15"),
    ("bursary-pot", "ESCC", "2026-04-01", "2026-05-31"),
])
def test_council_statement_reconciles_on_each_scenario(db_url, scenario, council, start,
                                                       end):
    run(ROOT / f"{scenario}.yaml", db_url)
    _check_council(db_url, council, dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def test_documents_render_as_html_in_every_variant_and_as_pdf(everything):
    provider = provider_document(read(everything, provider_statement, "SH", "2026-05"))
    council = council_document(read(everything, council_statement, "NBC",
                                    dt.date(2026, 4, 1), dt.date(2026, 6, 30)))
    for document in (provider, council):
        for variant in VARIANTS:
            html = render_html(document, variant)
            assert html.startswith("<!DOCTYPE html>") and document.title in html
    assert "Ann Example" not in render_html(council)  # the council's tables use ids
    assert "Bob Example" in render_html(provider)  # a provider sees its people's names
    assert render_pdf(council, "large_print").startswith(b"%PDF")


# ---------------------------------------------------------------- documents


def _words(document: Document) -> list[str]:
    out = [document.title, document.subtitle, *document.summary, *document.easy_summary,
           *document.notes]
    sections = [*document.sections]
    while sections:
        section = sections.pop()
        out += [section.heading, *section.sentences, *section.easy]
        for table in section.tables:
            # A balance column carries its sign, so the column adds up (issue 20);
            # every other cell and every sentence says a figure below zero in words.
            keep = [not c.startswith(BALANCE_COLUMNS) for c in table.columns]
            out += [table.caption, *table.columns]
            out += [cell for row in [*table.rows, *([table.total] if table.total else [])]
                    for cell, kept in zip(row, keep, strict=True) if kept]
        sections += section.subsections
    return out


def _easy(document: Document) -> list[str]:
    lines = [*document.easy_summary]
    sections = [*document.sections]
    while sections:
        section = sections.pop()
        lines += section.easy
        sections += section.subsections
    return lines


def _check_document(document: Document, signed_balances: bool = False) -> None:
    easy = _easy(document)
    assert easy
    too_long = [line for line in easy if word_count(line) > EASY_READ_MAX_WORDS]
    assert not too_long, too_long
    signed = [text for text in _words(document) if SIGNED_POUND.search(text)]
    assert not signed, signed
    if not signed_balances:
        assert not SIGNED_POUND.search(render_text(document))


def test_council_statement_lists_direct_payments_above_the_threshold(db_url):
    """The overview's surplus rows are the dp-monitoring export's rows with a surplus,
    for the same weeks and contingency (docs/exports.md#dp-monitoring)."""
    from fractions import Fraction

    run(ROOT / "dp-holder.yaml", db_url)
    end = dt.date(2026, 6, 30)
    data = read(db_url, council_statement, "BCC", dt.date(2026, 4, 1), end, Fraction(2),
                10000)
    export = list(csv.DictReader(io.StringIO(invoke(
        "export", "dp-monitoring", "--council", "BCC", "--as-of", end.isoformat(),
        "--weeks", "2", "--contingency", "100", db=db_url).output)))
    expected = {r["account"]: int(r["surplus_minor"]) for r in export
                if int(r["surplus_minor"]) > 0}
    assert expected  # the scenario has someone above two weeks
    assert {r["account"]: r["surplus_minor"] for r in data["dp_surplus"]["rows"]} == expected
    words = " ".join(render_text(council_document(data)).split())
    assert "Direct payments above the threshold" in words
    assert "A review would recover" in words
