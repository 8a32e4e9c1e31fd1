"""A budget holder's statement as the person reads it (docs/statements.md#holder-reader):
words instead of signs, hours and money side by side with the agreed hours and rate, a
review's working, the budget paid by the statement's end only, every format and variant,
and WCAG 2.x A and AA clean in a real browser."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.app.scenarios import run_scenario
from ledger.cli import cli
from ledger.reports.document import EASY_READ_MAX_WORDS, word_count
from ledger.reports.holder_doc import holder_document
from ledger.reports.html import VARIANTS, render_html
from ledger.reports.statements import holder_statement
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from tests.dbutil import migrated_database
from tests.scenarios.test_differential import _scenario, _with_expectations, event

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SIGNED_MONEY = re.compile(r"-\s*£|£\s*-")


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _run(db: str, name: str) -> None:
    done = invoke("scenario", "run", str(SCENARIOS / name), db=db)
    assert done.exit_code == 0, done.output


def _json(db: str, holder: str, *period: str) -> dict:
    done = invoke("statement", "holder", holder, *period, "--format", "json", db=db)
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_an_isf_month_says_hours_and_money_side_by_side_without_signs(db_url):
    _run(db_url, "wokingham-isf-pilot.yaml")
    data = _json(db_url, "H2", "--month", "2026-05")
    (isf,) = data["isf_months"]
    delivered = -sum(x["amount_minor"] for x in data["lines"]
                     if x["type"] == "isf_delivery" and x["unit"] == "HRS")
    assert isf["hours_minutes"]["delivered"] == delivered == 66 * 60
    gbp = next(a for a in data["accounts"] if a["unit"] == "GBP")
    assert isf["money_minor"]["closing"] == gbp["closing_minor"] == -10800
    raw = invoke("statement", "holder", "H2", "--month", "2026-05", db=db_url).output
    words = " ".join(raw.split())
    assert "You agreed 60 hours of support a month, at £18.00 an hour." in words
    assert "You used 66 hours." in words
    assert "You used 6 hours more than you had." in words
    assert "The fund is £108.00 short" in words
    assert not SIGNED_MONEY.search(words)
    # One row per journal: the delivery's hours and money on the same line.
    assert re.search(r"7 May 2026 +Support delivered by Support Horizons CIC +15 hours +£270\.00",
                     raw)


def test_carried_over_hours_are_valued_and_expired_hours_say_why(db_url):
    _run(db_url, "isf-monthly.yaml")
    data = _json(db_url, "H1", "--from", "2026-04-01", "--to", "2026-06-30")
    words = " ".join(invoke("statement", "holder", "H1", "--from", "2026-04-01", "--to",
                            "2026-06-30", db=db_url).output.split())
    (isf,) = data["isf_months"]
    if isf["carry_over_minutes"]:
        rate = isf["rate_pence_per_hour"]
        worth = isf["carry_over_worth_minor"]
        assert abs(worth * 60 - isf["carry_over_minutes"] * rate) <= 30  # rounded once
        assert f"carry over to {dt.date.fromisoformat(isf['next_month'] + '-01'):%B %Y}" \
            in words
    assert isf["hours_minutes"]["expired"] == sum(lot["minutes"] for lot in isf["expired_lots"])
    if isf["expired_lots"]:
        assert "expired and went back to the council: " in words
        assert "because" in words


def test_a_review_shows_its_working(db_url):
    _run(db_url, "dp-quarterly-review.yaml")
    data = _json(db_url, "H1", "--from", "2026-06-01", "--to", "2026-06-30")
    (review,) = data["dp_reviews"]
    assert review["recovered_minor"] == max(
        review["balance_minor"] - review["contingency_minor"] - review["allowed_minor"], 0)
    words = invoke("statement", "holder", "H1", "--from", "2026-06-01", "--to",
                   "2026-06-30", "--format", "text", db=db_url).output
    flat = " ".join(words.split())
    from ledger.reports.document import money

    assert f"It held {money(review['balance_minor'])}." in flat
    assert money(review["allowed_minor"]) in flat
    assert money(review["contingency_minor"]) in flat


def test_the_budget_counts_only_what_was_paid_by_the_statements_last_day(db_url):
    _run(db_url, "multi-funder-budget.yaml")
    april = _json(db_url, "S1", "--from", "2026-04-01", "--to", "2026-04-30")["budgets"][-1]
    whole = _json(db_url, "S1", "--from", "2026-04-01", "--to", "2026-06-30")["budgets"][-1]
    assert whole["paid_minor"] == 585000  # worked by hand in the scenario file
    assert april["paid_minor"] < whole["paid_minor"]
    assert april["paid_minor"] == _paid_towards(db_url, "S1", "SCC", "2026-04-01",
                                                "2026-04-30")
    assert {f["name"] for f in whole["funders"]} >= {"Example County Council"}


def _paid_towards(url: str, holder: str, council: str, first: str, last: str) -> int:
    """An oracle written from docs/statements.md, in SQL: money that reached the person's
    direct payment account, ISFs or pool shares from the council's funding or their own
    money, in journals dated first..last, net of what went back; plus support the council
    bought for them directly (call-offs and spot purchases naming them)."""
    sources = (f"council:{council}:funding", f"holder:{holder}:own")
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT j.id, j.type, j.holder, a.path, p.amount_minor FROM journal j
            JOIN posting p ON p.journal_id = j.id JOIN account a ON a.id = p.account_id
            WHERE j.status = 'posted' AND p.unit = 'GBP' AND j.date >= :a AND j.date <= :b
        """), {"a": dt.date.fromisoformat(first), "b": dt.date.fromisoformat(last)}).all()
    engine.dispose()
    by_journal: dict[int, list] = {}
    for jid, kind, who, path, minor in rows:
        by_journal.setdefault(jid, []).append((kind, who, path, int(minor)))
    paid = 0
    for postings in by_journal.values():
        if not any(path in sources for _, _, path, _ in postings):
            continue
        for kind, who, path, minor in postings:
            pot = (path == f"holder:{holder}:dp" or path.startswith(f"isf:{holder}:")
                   or (path.startswith("pool:") and path.endswith(f":{holder}")))
            bought = path.startswith("provider:") and who == holder and kind in (
                "calloff", "spot_purchase", "reversal")
            if pot or bought:
                paid += minor
    return paid


def test_the_recorded_preference_is_the_default_and_a_flag_overrides_it(db_url, tmp_path):
    _run(db_url, "dp-quarterly-review.yaml")  # H1 prefers large print
    page = invoke("statement", "holder", "H1", "--month", "2026-06", "--format", "html",
                  db=db_url).output
    assert '<body class="large-print">' in page
    easy = invoke("statement", "holder", "H1", "--month", "2026-06", "--format", "html",
                  "--easy-read", db=db_url).output
    assert '<body class="easy-read">' in easy
    import subprocess
    import sys

    both = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                           "statement", "holder", "H1", "--month", "2026-06", "--easy-read",
                           "--large-print", "--db", db_url], capture_output=True, text=True)
    assert both.returncode == 2 and both.stderr.count("\n") == 1, both.stderr
    pdf = tmp_path / "h1.pdf"
    done = invoke("statement", "holder", "H1", "--month", "2026-06", "--format", "pdf",
                  "-o", str(pdf), db=db_url)
    assert done.exit_code == 0, done.output
    assert pdf.read_bytes().startswith(b"%PDF")


CASES = [("wokingham-isf-pilot.yaml", "H2", "2026-05"),
         ("multi-funder-budget.yaml", "S1", "2026-06"),
         ("dp-quarterly-review.yaml", "H1", "2026-06"),
         ("richmond-pooling-consortium.yaml", "H4", None)]


@pytest.fixture(scope="module")
def statements(tmp_path_factory) -> list[dict]:
    """One statement per case, on SQLite (the engines agree: tests/scenarios)."""
    found = []
    for name, holder, month in CASES:
        url = f"sqlite:///{tmp_path_factory.mktemp('h')}/l.db"
        _run(url, name)
        period = ("--month", month) if month else ("--from", "2026-01-01", "--to",
                                                   "2027-03-31")
        found.append(_json(url, holder, *period))
    return found


def test_every_easy_read_line_is_short(statements):
    for data in statements:
        doc = holder_document(data)
        lines = doc.easy_summary + [line for s in doc.sections for line in s.easy]
        assert lines
        for line in lines:
            assert word_count(line) <= EASY_READ_MAX_WORDS, line


def test_no_sentence_carries_an_accounting_sign(statements):
    for data in statements:
        for variant in VARIANTS:
            assert not SIGNED_MONEY.search(render_html(holder_document(data), variant))


def test_every_variant_is_clean_under_axe_and_reflows(statements, axe):
    from tests.a11y.axe import format_violations

    for data in statements:
        for variant in VARIANTS:
            page = render_html(holder_document(data), variant)
            found = axe.check_html(page)
            assert not found, f"{data['holder']} {variant}: {format_violations(found)}"
            width = axe.reflow_ok(page)
            assert width["ok"], (data["holder"], variant, width)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(event, min_size=1, max_size=20), st.integers(0, 150), st.integers(0, 150))
def test_for_any_ledger_a_statement_adds_up(events, a, b):
    """opening + in - out = closing in every unit, each closing is the ledger's balance,
    an ISF's side-by-side figures add up to its accounts, and the budget counts what was
    paid by the statement's last day (the SQL oracle above)."""
    from ledger.reports.balances import balances

    start = dt.date(2026, 4, 1) + dt.timedelta(days=min(a, b))
    end = dt.date(2026, 4, 1) + dt.timedelta(days=max(a, b))
    budget = {"date": dt.date(2026, 4, 1), "type": "budget", "holder": "H1",
              "amount": "9000.00", "from": dt.date(2026, 4, 1), "to": dt.date(2026, 9, 30),
              "funders": {"C1": "9000.00"}}
    scenario = _scenario(_with_expectations([budget, *events]))
    with tempfile.TemporaryDirectory() as folder, migrated_database("sqlite", Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            run_scenario(DbStore(conn), scenario)
        with engine.connect() as conn:
            store = DbStore(conn)
            closing = {(r.account, r.unit.value): r.minor for r in balances(conn, end)}
            found = {h: holder_statement(store, h, start, end) for h in ("H1", "H2", "H3")}
        engine.dispose()
        paid = _paid_towards(url, "H1", "C1", "2026-04-01", end.isoformat())
    for data in found.values():
        for row in data["accounts"]:
            assert row["opening_minor"] + row["in_minor"] - row["out_minor"] \
                == row["closing_minor"] == closing[(row["account"], row["unit"])]
        for isf in data["isf_months"]:
            units = {r["unit"]: r["closing_minor"] for r in data["accounts"]
                     if r["account"] == isf["account"]}
            assert isf["hours_minutes"]["closing"] == units.get("HRS", 0)
            assert isf["money_minor"]["closing"] == units.get("GBP", 0)
        holder_document(data)  # builds for any ledger
    assert found["H1"]["budgets"][0]["paid_minor"] == paid
