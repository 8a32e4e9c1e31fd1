"""A holder's statement itemises each movement on their accounts in plain words, and
lists support the council bought for them directly, on both engines."""

from __future__ import annotations

import datetime as dt

from ledger.app.scenarios import run_scenario
from ledger.reports.statements import holder_statement
from ledger.scenarios.schema import ScenarioFile
from ledger.store.repo import DbStore

SCENARIO = {
    "format": 1,
    "name": "stmt",
    "parties": {
        "councils": [{"id": "C1", "name": "Northshire Council"}],
        "providers": [{"id": "P1", "name": "Able Support CIC"}],
        "holders": [{"id": "H1", "name": "Ann Example", "council": "C1"}],
    },
    "events": [
        {"date": dt.date(2026, 4, 1), "type": "dp_payment", "holder": "H1", "amount": "500"},
        {"date": dt.date(2026, 4, 9), "type": "dp_spend", "holder": "H1", "payee": "PA-JO",
         "amount": "120.50"},
        {"date": dt.date(2026, 4, 1), "type": "framework_open", "framework": "FW",
         "council": "C1", "rates": [{"service": "planning", "rate": "30",
                                     "from": dt.date(2026, 4, 1)}]},
        {"date": dt.date(2026, 4, 20), "type": "calloff", "framework": "FW", "provider": "P1",
         "service": "planning", "hours": "2.5", "holder": "H1"},
        {"date": dt.date(2026, 5, 2), "type": "dp_spend", "holder": "H1", "payee": "PA-JO",
         "amount": "10"},
    ],
}


def _statement(engine) -> dict:
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), ScenarioFile.model_validate(SCENARIO))
        assert result.failure is None
    with engine.connect() as conn:
        return holder_statement(DbStore(conn), "H1", dt.date(2026, 4, 1),
                                dt.date(2026, 4, 30))


def test_statement_lines_itemise_each_movement_in_the_period(engine):
    statement = _statement(engine)
    assert [(x["date"], x["amount_minor"], x["description"]) for x in statement["lines"]] == [
        ("2026-04-01", 50000, "Direct payment from Northshire Council"),
        ("2026-04-09", -12050, "Paid to PA-JO"),
    ]  # the May spend is outside the period
    dp = statement["accounts"][0]
    assert sum(x["amount_minor"] for x in statement["lines"]) == \
        dp["closing_minor"] - dp["opening_minor"]


def test_support_commissioned_for_the_person_is_listed(engine):
    statement = _statement(engine)
    assert statement["commissioned"] == [{"date": "2026-04-20", "type": "calloff",
                                          "provider": "P1", "amount_minor": 7500,
                                          "minutes": 150}]
    text = _words(statement)
    assert "Statement for Ann Example" in text
    assert "Paid to PA-JO" in text and "£120.50" in text
    assert "Support the council paid for directly" in text
    assert "20 April 2026 Able Support CIC 2 hours 30 minutes £75.00" in text


def _words(statement: dict) -> str:
    """The statement as the person reads it (docs/statements.md#holder-reader), its
    whitespace folded so a sentence wrapped over two lines still matches."""
    from ledger.reports.document import render_text
    from ledger.reports.holder_doc import holder_document

    return " ".join(render_text(holder_document(statement)).split())
