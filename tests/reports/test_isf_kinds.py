"""One table of ISF movement kinds (docs/statements-provider-council.md#isf-kinds): every
view of an ISF puts each movement in the same total. A closure return is `other` in the
provider's month report, the council's ISF returns, a person's statement and the
council's finance statement, and every document says it in the same words. On SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from fractions import Fraction

import pytest

from ledger.reports.council_doc import council_document
from ledger.reports.council_statement import council_statement
from ledger.reports.document import render_text
from ledger.reports.holder_doc import holder_document
from ledger.reports.isf_kinds import BY_JOURNAL_TYPE, KINDS, OTHER, key_of, kind_of
from ledger.reports.isf_month import report
from ledger.reports.provider_statement import provider_document, provider_statement
from ledger.reports.statements import holder_statement
from tests.reports.test_provider_council_statements import EVERYTHING, invoke, payments, read, run

JUNE = (dt.date(2026, 6, 1), dt.date(2026, 6, 30))
SAID = "corrections, pool payments or the fund's closing"


# ---------------------------------------------------------------- the table


@pytest.mark.parametrize(("journal_type", "hours", "amount", "key", "counted"), [
    ("isf_advance", True, 2400, "hours_allocated_minutes", 2400),
    ("isf_advance", False, 81000, "money_in_minor", 81000),
    ("isf_delivery", True, -600, "hours_delivered_minutes", 600),
    ("isf_delivery", False, -12000, "money_delivered_minor", 12000),
    ("isf_hours_expiry", True, -300, "hours_expired_minutes", 300),
    ("isf_fee", False, -1000, "money_fees_minor", 1000),
    ("isf_purchase", False, -1200, "money_purchases_minor", 1200),
    ("isf_underspend_return", False, -5000, "money_returned_minor", 5000),
    # A closing gives back money and hours: other, signed, never returned.
    ("closure_return", False, -60000, "money_other_minor", -60000),
    ("closure_return", True, -1800, "hours_other_minutes", -1800),
    # A type of no kind, a unit the kind has no figure in, or the unusual direction.
    ("reversal", False, -81000, "money_other_minor", -81000),
    ("pool_contribution", False, -2000, "money_other_minor", -2000),
    ("isf_fee", True, -60, "hours_other_minutes", -60),
    ("isf_delivery", False, 12000, "money_other_minor", 12000),
    ("isf_advance", False, -81000, "money_other_minor", -81000),
])
def test_each_journal_type_counts_under_its_kind(journal_type, hours, amount, key, counted):
    assert key_of(journal_type, hours, amount) == (key, counted)


def test_every_kind_has_one_word_and_the_closure_return_is_other():
    assert len({k.name for k in KINDS}) == len(KINDS)
    assert BY_JOURNAL_TYPE["closure_return"] is OTHER
    assert kind_of("closure_return", False, -1) is kind_of("closure_return", True, -1) \
        is OTHER
    assert OTHER.label == SAID


# ---------------------------------------------------------------- every view


@pytest.fixture
def everything(db_url, tmp_path) -> str:
    """The council with every kind of arrangement; H2's ISF closes on 30 June."""
    path = tmp_path / "every-kind.yaml"
    path.write_text(EVERYTHING, encoding="utf-8")
    run(path, db_url)
    return db_url


def _closure(db: str) -> tuple[int, int]:
    """(pence, minutes) H2's fund gave back when it closed on 30 June."""
    rows = [r for r in payments(db, "NBC", *JUNE) if r["type"] == "closure_return"]
    assert [r["counterparty"] for r in rows] == ["isf:H2:SH"]
    minutes = -sum(int(r["minor_units"]) for r in csv.DictReader(io.StringIO(invoke(
        "export", "gl", "--council", "NBC", "--from", "2026-06-30", "--to", "2026-06-30",
        db=db).output)) if r["type"] == "closure_return" and r["account"] == "isf:H2:SH"
        and r["unit"] == "HRS")
    return int(rows[0]["minor_units"]), minutes


def test_a_closure_return_is_other_in_every_view(everything):
    pence, minutes = _closure(everything)
    assert pence > 0 and minutes > 0
    # The provider's month report, and the council's ISF returns export.
    month = next(r for r in read(everything, report, "SH", "2026-06", Fraction(10))["isfs"]
                 if r["holder"] == "H2")
    returns = next(r for r in csv.DictReader(io.StringIO(invoke(
        "export", "isf-returns", "--council", "NBC", "--month", "2026-06",
        db=everything).output)) if r["holder"] == "H2")
    # The person's own statement.
    person = read(everything, holder_statement, "H2", *JUNE)
    isf = next(i for i in person["isf_months"] if i["account"] == "isf:H2:SH")
    # The council's finance statement.
    council = read(everything, council_statement, "NBC", *JUNE)
    row = next(r for r in council["isfs"] if r["account"] == "isf:H2:SH")

    for money_returned, money_other, hours_other in [
            (month["money_returned_minor"], month["money_other_minor"],
             month["hours_other_minutes"]),
            (int(returns["money_returned_minor"]), int(returns["money_other_minor"]),
             int(returns["hours_other_minutes"])),
            (isf["money_minor"]["returned"], isf["money_minor"]["other"],
             isf["hours_minutes"]["other"]),
            (row["money_returned_minor"], row["money_other_minor"],
             row["hours_other_minutes"])]:
        assert (money_returned, money_other, hours_other) == (0, -pence, -minutes)
    # The council's kinds still count it as money recovered into its funding.
    kinds = {k["kind"]: k for k in council["kinds"]}
    assert kinds["isfs"]["recovered_minor"] >= pence


def test_every_document_says_a_closure_return_in_the_same_words(everything):
    pence, _ = _closure(everything)
    amount = f"£{pence // 100:,}.{pence % 100:02d}"
    person = " ".join(render_text(holder_document(
        read(everything, holder_statement, "H2", *JUNE))).split())
    provider = " ".join(render_text(provider_document(
        read(everything, provider_statement, "SH", "2026-06"))).split())
    council = " ".join(render_text(council_document(
        read(everything, council_statement, "NBC", *JUNE))).split())
    said = f"{SAID[:1].upper()}{SAID[1:]} took away {amount}."
    assert said in person
    assert said in provider
    assert f"isf:H2:SH: {SAID} moved {amount} out" in council
    assert f"{amount} went back to the council" not in person
