"""`isf_vary`: new terms for an ISF from a month on, keeping the bank, its lots and the
money (docs/rules-dp-isf.md#isf-vary)."""

from __future__ import annotations

import pytest

from tests.domain.test_isf import ISF, advance, deliver, gbp, hrs, journals, lots, opened, run


def vary(start: str, date: str = "2026-04-25", **terms) -> dict:
    return {"date": date, "type": "isf_vary", "holder": "H1", "provider": "SH",
            "from": start, **terms}


def test_an_uplift_from_june_changes_junes_advance_and_keeps_the_bank():
    # 40 h at £19.50 in April and May; from June, 45 h at £20.00. The hours banked from
    # May stay in their own lot; nothing is closed or returned.
    b = run([opened(), advance("2026-04"), advance("2026-05"),
             deliver(30, "2026-05-20"), vary("2026-06", "2026-05-25", hours_per_month=45,
                                            rate="20.00"), advance("2026-06")])
    june = journals(b, "isf_advance")[-1]
    assert (june.memo["minutes"], june.memo["rate_pence_per_hour"],
            june.memo["budget_pence"]) == (2700, 2000, 90000)
    # The 30 hours came out of April's lot first (oldest first).
    assert lots(b) == [("2026-04", 600), ("2026-05", 2400), ("2026-06", 2700)]
    # £780 + £780 in, 30 h at £19.50 out (£585), then June's £900.
    assert gbp(b, ISF) == "1875.00"
    assert hrs(b, ISF) == "95"


def test_support_in_the_new_months_is_valued_at_the_new_rate_and_before_at_the_old():
    b = run([opened(), advance("2026-04"), vary("2026-05", rate="21.00"),
             deliver(2, "2026-04-28"), advance("2026-05"), deliver(2, "2026-05-03")])
    rates = [j.memo["rate_pence_per_hour"] for j in journals(b, "isf_delivery")]
    assert rates == [1950, 2100]


def test_a_month_already_advanced_cannot_be_varied():
    with pytest.raises(AssertionError, match="2026-05 is already advanced"):
        run([opened(), advance("2026-04"), advance("2026-05"), vary("2026-05", rate="21")])
    # Nor an earlier month once a later one is advanced: that advance used the old terms.
    with pytest.raises(AssertionError, match="2026-06 is already advanced"):
        run([opened(), advance("2026-06", "2026-04-01"), vary("2026-05", rate="21")])


def test_support_already_valued_at_the_old_rate_stops_a_change_from_that_month():
    with pytest.raises(AssertionError, match="already valued at the old rate"):
        run([opened(carry={"expire_after_months": 1}), advance("2026-04"),
             deliver(1, "2026-05-02"), vary("2026-05", rate="21.00")])


def test_a_change_that_changes_nothing_is_invalid():
    with pytest.raises(AssertionError, match="at least one of"):
        run([opened(), vary("2026-05")])


def test_new_carry_over_terms_apply_to_the_months_reconciled_after_they_start():
    # From May the cap is 5 h instead of 20 h: April (old terms) keeps 20, May keeps 5.
    b = run([opened(carry={"expire_after_months": 3, "max_hours": 20}), advance("2026-04"),
             vary("2026-05", carry={"expire_after_months": 3, "max_hours": 5}),
             {"date": "2026-04-30", "type": "isf_reconcile", "holder": "H1",
              "provider": "SH", "month": "2026-04"},
             advance("2026-05"),
             {"date": "2026-05-31", "type": "isf_reconcile", "holder": "H1",
              "provider": "SH", "month": "2026-05"}])
    expired = [sum(lot["minutes"] for lot in j.memo["lots"])
               for j in journals(b, "isf_hours_expiry")]
    assert expired == [20 * 60, 55 * 60]
    assert hrs(b, ISF) == "5"


def test_the_holder_statement_says_what_changed_and_from_when(engine):
    import datetime as dt

    from ledger.app.scenarios import run_scenario
    from ledger.reports.statements import holder_statement
    from ledger.scenarios.schema import ScenarioFile
    from ledger.store.repo import DbStore
    from tests.domain.test_isf import PARTIES

    scenario = ScenarioFile.model_validate({
        "format": 1, "name": "vary", "parties": PARTIES,
        "events": [opened(), advance("2026-04"),
                   vary("2026-05", hours_per_month=45, rate="20.00")]})
    with engine.begin() as conn:
        assert run_scenario(DbStore(conn), scenario).failure is None
        statement = holder_statement(DbStore(conn), "H1", dt.date(2026, 4, 1),
                                     dt.date(2026, 4, 30))
    assert statement["isf_changes"] == [{
        "account": ISF, "from_month": "2026-05", "agreed_on": "2026-04-25",
        "hours_per_month_minutes": 2700, "rate_pence_per_hour": 2000}]
    text = _words(statement)
    assert ("From 1 May 2026 your support changes: 45 hours of support a month, "
            "£20.00 an hour.") in text


def _words(statement: dict) -> str:
    """The statement as the person reads it (docs/statements.md#holder-reader), its
    whitespace folded so a sentence wrapped over two lines still matches."""
    from ledger.reports.document import render_text
    from ledger.reports.holder_doc import holder_document

    return " ".join(render_text(holder_document(statement)).split())
