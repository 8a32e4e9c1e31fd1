"""Values longer than the database's columns are the user's mistake: refused as `invalid`
(or, in the file's outer shape, a usage error), never a database error, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.app.scenarios import run_scenario
from ledger.errors import UsageError
from ledger.scenarios.schema import ScenarioFile, load_scenario
from ledger.store.repo import DbStore

pytestmark = pytest.mark.citus

D = dt.date(2026, 4, 1)
PARTIES = {"councils": [{"id": "C1", "name": "Council"}],
           "holders": [{"id": "H1", "name": "Holder", "council": "C1"}]}


def _replay(engine, events: list[dict]):
    scenario = ScenarioFile.model_validate(
        {"format": 1, "name": "limits", "parties": PARTIES, "events": events})
    with engine.begin() as conn:
        return run_scenario(DbStore(conn), scenario, source="/x" * 400)


def test_overlong_ids_payees_and_types_are_refused_as_invalid(engine):
    result = _replay(engine, [
        {"date": D, "type": "dp_payment", "holder": "H1", "amount": "100"},
        {"date": D, "type": "dp_spend", "holder": "H1", "payee": "P" * 300, "amount": "1",
         "expect_error": "invalid"},
        {"date": D, "type": "dp_payment", "holder": "H1", "amount": "1", "id": "k" * 400,
         "expect_error": "invalid"},
        {"date": D, "type": "x" * 100, "expect_error": "invalid"},
        {"date": D, "type": "dp_payment", "holder": "H" * 80, "amount": "1",
         "expect_error": "invalid"},
    ])
    assert result.failure is None and result.applied == 1
    assert result.rejected_as_expected == 4
    again = _replay(engine, [{"date": D, "type": "dp_payment", "holder": "H1",
                              "amount": "1", "id": "k" * 400}])
    assert again.failure is not None and "longer than" in again.failure


def test_overlong_party_names_are_a_usage_error(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("format: 1\nname: x\nparties: {councils: [{id: C1, name: "
                    + "N" * 300 + "}]}\n")
    with pytest.raises(UsageError, match="parties.councils.0.name"):
        load_scenario(path)
