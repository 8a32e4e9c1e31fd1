"""The trust rules of docs/rules-trust.md (floors, closed periods, parties, ISF agreements),
each checked on the in-memory backend and through the database on both engines: the
in-memory backend is what `ledger verify` replays into, so all three must agree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ledger.app.scenarios import RunResult, run_scenario
from ledger.core.amounts import Unit
from ledger.reports.pool_statement import render_pool_statement_text
from ledger.reports.statements import holder_statement, pool_statement_from_store
from ledger.scenarios.schema import ScenarioFile
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from tests.dbutil import migrated_database

PARTIES = {
    "councils": [{"id": "C1", "name": "Northshire Council"},
                 {"id": "C2", "name": "Southshire Council"}],
    "providers": [{"id": "SH", "name": "Support Horizons"}],
    "holders": [{"id": "H1", "name": "Ann Example", "council": "C1", "pseudonym": "Wren"},
                {"id": "H2", "name": "Ben Example", "council": "C1"}],
}
DP = "holder:H1:dp"


def day(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def scenario(events: list[dict], parties: dict | None = None, name: str = "t") -> ScenarioFile:
    events = [{**e, "date": day(e["date"])} for e in events]
    return ScenarioFile.model_validate({"format": 1, "name": name,
                                        "parties": PARTIES if parties is None else parties,
                                        "events": events})


class Where:
    """One ledger on one backend: the in-memory model, or a database (committed per run)."""

    def __init__(self, kind: str, engine=None) -> None:
        self.kind = kind
        self.engine = engine
        self.memory = MemoryBackend() if engine is None else None

    def run(self, events: list[dict], parties: dict | None = None, name: str = "t"
            ) -> RunResult:
        if self.memory is not None:
            return run_scenario(self.memory, scenario(events, parties, name))
        with self.engine.begin() as conn:
            return run_scenario(DbStore(conn), scenario(events, parties, name))

    def ok(self, events: list[dict], parties: dict | None = None, name: str = "t") -> None:
        result = self.run(events, parties, name)
        assert result.failure is None, result.failure

    @contextmanager
    def read(self) -> Iterator:
        if self.memory is not None:
            yield self.memory
            return
        with self.engine.connect() as conn:
            yield DbStore(conn)

    def gbp(self, account: str, as_of: str | None = None) -> int:
        with self.read() as backend:
            if as_of is None:
                return backend.balance(account, Unit.GBP)
            return backend.balance_as_of(account, Unit.GBP, day(as_of))

    def party(self, kind: str, party_id: str, as_of: str | None = None) -> dict | None:
        with self.read() as backend:
            return backend.party(kind, party_id, as_of=day(as_of) if as_of else None)

    def state(self, kind: str, ref: str) -> dict | None:
        with self.read() as backend:
            return backend.get_state(kind, ref)

    def journals(self, event_key: str) -> list:
        with self.read() as backend:
            return backend.journals_for_event(event_key)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def where(request, tmp_path) -> Iterator[Where]:
    if request.param == "memory":
        yield Where("memory")
        return
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Where(request.param, engine)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> Iterator[Where]:
    """Statements read the database only."""
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Where(request.param, engine)
        finally:
            engine.dispose()


def pay(amount: str, date: str, **more) -> dict:
    return {"date": date, "type": "dp_payment", "holder": "H1", "amount": amount, **more}


def spend(amount: str, date: str, **more) -> dict:
    return {"date": date, "type": "dp_spend", "holder": "H1", "payee": "PA-JO",
            "amount": amount, **more}


# ---------------------------------------------------------------- floors on every date


def test_a_spend_dated_before_the_payment_that_funds_it_is_refused(where):
    # The review's case: today's balance covers it, but on 1 April the account held
    # nothing, so the spend would have left it at -£100.00 for nine days.
    where.ok([pay("100", "2026-04-10")])
    result = where.run([spend("100", "2026-04-01")], name="late")
    assert result.failure is not None
    assert "insufficient_funds" in result.failure and "2026-04-01" in result.failure
    assert where.gbp(DP, "2026-04-05") == 0 and where.gbp(DP) == 10000


def test_a_spend_that_would_empty_the_account_before_a_later_spend_is_refused(where):
    where.ok([pay("100", "2026-04-01"), spend("100", "2026-04-20"), pay("100", "2026-04-30")])
    result = where.run([spend("50", "2026-04-10")], name="between")
    # On 20 April the account would hold -£50.00, although it holds £100.00 today.
    assert result.failure is not None and "2026-04-20" in result.failure
    assert "insufficient_funds" in result.failure
    assert where.gbp(DP) == 10000


def test_the_core_check_holds_every_floor_on_the_events_date_not_only_today(where):
    # A reversal has no handler check of its own: the core check must catch it.
    where.ok([pay("100", "2026-04-01", id="p1"), spend("100", "2026-04-10"),
              pay("100", "2026-04-30")])
    result = where.run([{"date": "2026-04-15", "type": "reverse", "event": "p1",
                         "reason": "not due"}], name="rev")
    assert result.failure is not None
    assert "insufficient_funds" in result.failure and "2026-04-15" in result.failure
    assert where.gbp(DP, "2026-04-20") == 0


def test_a_floor_is_checked_per_event_net_so_a_fund_close_can_be_reversed(where):
    # The reversal passes money back through the fund on its way to the award: in the
    # middle the fund is below 0, at the end of the event it is not.
    where.ok([
        {"date": "2026-04-01", "type": "fund_open", "fund": "F1", "council": "C1",
         "total": "500", "cap_per_person": "100"},
        {"date": "2026-04-02", "type": "bursary_award", "fund": "F1", "holder": "H1",
         "amount": "100"},
        {"date": "2026-04-30", "type": "fund_close", "fund": "F1", "id": "fc"},
        {"date": "2026-05-01", "type": "reverse", "event": "fc", "reason": "closed early"},
    ])
    assert where.gbp("fund:F1") == 40000
    assert where.gbp("fund:F1:award:H1") == 10000


# ---------------------------------------------------------------- closed periods


def test_a_period_cannot_be_closed_before_it_has_happened(where):
    result = where.run([{"date": "2026-04-30", "type": "close_period", "until": "2062-12-31"}])
    assert result.failure is not None and result.failure.split(": ", 1)[1].startswith(
        "invalid:")
    where.ok([pay("100", "2026-05-01")], name="after")  # nothing was locked
    assert where.gbp(DP) == 10000


def _schedules(start_h2: str = "2026-05-01") -> list[dict]:
    return [
        {"date": "2026-04-01", "type": "dp_schedule", "id": "s1", "holder": "H1",
         "amount": "100", "every": "monthly", "start": "2026-04-01"},
        {"date": "2026-04-01", "type": "dp_schedule", "id": "s2", "holder": "H2",
         "amount": "70", "every": "monthly", "start": start_h2},
        {"date": "2026-04-30", "type": "close_period", "until": "2026-04-30"},
        {"date": "2026-05-01", "type": "run_payments", "until": "2026-05-31", "id": "run-may"},
    ]


def test_a_payment_due_in_a_closed_period_is_paid_late_and_blocks_no_one(where):
    where.ok(_schedules())
    paid = {j.key: j for j in where.journals("run-may")}
    assert set(paid) == {"s1@2026-04-01", "s1@2026-05-01", "s2@2026-05-01"}
    late = paid["s1@2026-04-01"]
    assert late.date == day("2026-05-01") and late.memo["due"] == "2026-04-01"
    assert "due" not in paid["s1@2026-05-01"].memo
    assert where.gbp(DP) == 20000 and where.gbp("holder:H2:dp") == 7000
    # Replaying the file pays nothing twice.
    where.ok(_schedules())
    assert where.gbp(DP) == 20000


def test_a_late_payment_shows_as_paid_late_on_the_holder_statement(db):
    db.ok(_schedules())
    with db.read() as store:
        statement = holder_statement(store, "H1", day("2026-05-01"), day("2026-05-31"))
    late = [x for x in statement["lines"] if x.get("due")]
    assert [(x["date"], x["due"], x["amount_minor"]) for x in late] == [
        ("2026-05-01", "2026-04-01", 10000)]
    assert "paid late" in late[0]["description"]
    text = _words(statement)
    assert "paid late: it was due on 1 April 2026" in text
    assert text.count("paid late") == 1  # May's own payment was on time


# ---------------------------------------------------------------- parties


def test_a_second_file_cannot_change_a_declared_party(where):
    where.ok([pay("100", "2026-04-01")])
    changed = {**PARTIES, "holders": [{"id": "H1", "name": "Ann Example", "council": "C2",
                                       "pseudonym": "Wren", "show_name": True}]}
    result = where.run([pay("5", "2026-04-02", id="second")], changed, name="other")
    assert result.failure is not None
    assert "duplicate_conflict" in result.failure and "H1" in result.failure
    assert where.journals("second") == []  # stopped before any event
    record = where.party("holder", "H1")
    assert record is not None
    assert (record["council"], record["show_name"]) == ("C1", False)


def test_a_party_declared_again_must_match_every_field_defaults_included(where):
    where.ok([])
    # The same record, with a default written out, is the same record ...
    same = {**PARTIES, "holders": [{"id": "H1", "name": "Ann Example", "council": "C1",
                                    "pseudonym": "Wren", "show_name": False,
                                    "statement_format": "standard"}]}
    where.ok([], same, name="again")
    # ... but leaving out a field that was given is a different record.
    fewer = {**PARTIES, "holders": [{"id": "H1", "name": "Ann Example", "council": "C1"}]}
    result = where.run([], fewer, name="fewer")
    assert result.failure is not None and "duplicate_conflict" in result.failure


def test_party_update_takes_effect_from_its_date(where):
    where.ok([{"date": "2026-07-01", "type": "party_update", "holder": "H1",
               "show_name": True, "name": "Ann E."},
              {"date": "2026-07-02", "type": "party_update", "provider": "SH",
               "name": "Support Horizons Ltd"}])
    june = where.party("holder", "H1", "2026-06-30")
    july = where.party("holder", "H1", "2026-07-01")
    assert june is not None and july is not None
    assert (june["show_name"], june["name"]) == (False, "Ann Example")
    assert (july["show_name"], july["name"], july["council"], july["pseudonym"]) == \
        (True, "Ann E.", "C1", "Wren")
    assert where.party("holder", "H1") == july
    provider = where.party("provider", "SH")
    assert provider is not None and provider["name"] == "Support Horizons Ltd"
    # The file replays (the declarations are unchanged), and so does the update.
    where.ok([{"date": "2026-07-01", "type": "party_update", "holder": "H1",
               "show_name": True, "name": "Ann E."},
              {"date": "2026-07-02", "type": "party_update", "provider": "SH",
               "name": "Support Horizons Ltd"}])


@pytest.mark.parametrize(("update", "code"), [
    ({"holder": "H1", "council": "C2"}, "invalid"),
    ({"holder": "H1", "provider": "SH", "name": "X"}, "invalid"),
    ({"name": "X"}, "invalid"),
    ({"provider": "SH", "show_name": True}, "invalid"),
    ({"holder": "H1"}, "invalid"),
    ({"holder": "H1", "name": "Ann\nTotal paid: £0.00"}, "invalid"),
    ({"holder": "NOBODY", "show_name": True}, "unknown_party"),
    ({"provider": "NOBODY", "name": "X"}, "unknown_party"),
    ({"holder": "H1", "show_name": True, "date": "2026-04-30"}, "period_closed"),
])
def test_party_update_refusals(update, code):
    where = Where("memory")
    where.ok([{"date": "2026-05-01", "type": "close_period", "until": "2026-04-30"}])
    event = {"date": "2026-05-02", "type": "party_update", **update}
    result = where.run([event], name="u")
    assert result.failure is not None
    assert result.failure.split(": ", 1)[1].startswith(f"{code}:"), result.failure
    assert where.party("holder", "H1") == where.party("holder", "H1", "2026-01-01")


def test_party_updates_of_one_party_go_in_date_order():
    where = Where("memory")
    where.ok([{"date": "2026-07-01", "type": "party_update", "holder": "H1",
               "show_name": True}])
    result = where.run([{"date": "2026-06-01", "type": "party_update", "holder": "H1",
                         "pseudonym": "Kite"}], name="u")
    assert result.failure is not None and "invalid" in result.failure


def _pool_events() -> list[dict]:
    return [
        {"date": "2026-06-01", "type": "dp_payment", "holder": "H1", "amount": "100"},
        {"date": "2026-06-01", "type": "dp_payment", "holder": "H2", "amount": "100"},
        {"date": "2026-06-01", "type": "pool_open", "pool": "P", "members": ["H1", "H2"]},
        {"date": "2026-06-02", "type": "pool_contribute", "pool": "P", "holder": "H1",
         "amount": "40"},
        {"date": "2026-07-01", "type": "party_update", "holder": "H1", "show_name": True},
        {"date": "2026-07-02", "type": "pool_contribute", "pool": "P", "holder": "H1",
         "amount": "10"},
    ]


def test_consent_given_in_july_shows_the_name_from_julys_statement_never_junes(db):
    db.ok(_pool_events())
    with db.read() as store:
        june = pool_statement_from_store(store, "P", day("2026-06-01"), day("2026-06-30"))
        july = pool_statement_from_store(store, "P", day("2026-07-01"), day("2026-07-31"))
    assert [m["member"] for m in june["members"]] == ["Wren", "Member 2"]
    assert "holder" not in june["members"][0]
    assert "Ann Example" not in render_pool_statement_text(june)
    assert [m["member"] for m in july["members"]] == ["Ann Example", "Member 2"]
    assert "Ann Example" in render_pool_statement_text(july)


def test_the_holder_statement_uses_the_record_in_force_on_its_last_day(db):
    db.ok([pay("100", "2026-06-01"),
           {"date": "2026-07-01", "type": "party_update", "holder": "H1",
            "name": "Ann Newname", "statement_format": "large_print"}])
    with db.read() as store:
        june = holder_statement(store, "H1", day("2026-06-01"), day("2026-06-30"))
        july = holder_statement(store, "H1", day("2026-07-01"), day("2026-07-31"))
    assert (june["name"], june["statement_format"]) == ("Ann Example", "standard")
    assert (july["name"], july["statement_format"]) == ("Ann Newname", "large_print")


# ---------------------------------------------------------------- ISF agreements apart


def isf(type_: str, date: str, **more) -> dict:
    return {"date": date, "type": type_, "holder": "H1", "provider": "SH", **more}


def _overspent_then_reopened() -> list[dict]:
    # 40 hours at £19.50 = £780.00 a month. The first agreement overspends by £220.00.
    return [
        isf("isf_open", "2026-04-01", hours_per_month=40, rate="19.50"),
        isf("isf_advance", "2026-04-01", month="2026-04"),
        isf("isf_purchase", "2026-04-10", payee="KIT", amount="1000", id="old-buy"),
        isf("isf_delivery", "2026-04-12", hours=1, id="old-hour"),
        isf("isf_close", "2026-04-30"),
        isf("isf_open", "2026-05-01", hours_per_month=40, rate="19.50"),
        isf("isf_advance", "2026-05-01", month="2026-05"),
    ]


def test_the_new_agreements_underspend_return_uses_only_its_own_money(where):
    where.ok([*_overspent_then_reopened(),
              isf("isf_reconcile", "2026-05-31", month="2026-05", id="rec")])
    # All 40 of May's hours expire: their worth, £780.00, goes back in full; the old
    # agreement's £239.50 overspend (£1,000 + £19.50 - £780) is not quietly settled.
    returned = [j for j in where.journals("rec") if j.type == "isf_underspend_return"]
    assert [j.memo["returned_pence"] for j in returned] == [78000]
    assert where.gbp("isf:H1:SH") == -23950
    state = where.state("isf", "H1:SH")
    assert state is not None and state["earlier_money_pence"] == -23950


def test_the_new_agreements_closure_returns_only_its_own_money(where):
    where.ok([*_overspent_then_reopened(),
              isf("isf_delivery", "2026-05-10", hours=10),
              isf("isf_close", "2026-05-31", id="close2")])
    [closure] = where.journals("close2")
    # £780.00 less 10 hours (£195.00): £585.00 is the new agreement's, all of it returned.
    assert closure.memo["money_pence"] == 58500 and closure.memo["overspend_pence"] == 0
    assert where.gbp("isf:H1:SH") == -23950


def test_reversals_of_the_old_agreement_stay_the_old_agreements(where):
    where.ok(_overspent_then_reopened())
    # Its hours were settled at its closure: they cannot come back into the new bank.
    result = where.run([{"date": "2026-05-02", "type": "reverse", "event": "old-hour",
                         "reason": "mistake"}], name="r1")
    assert result.failure is not None and "invalid" in result.failure
    # Its money can be corrected, and the correction stays its own.
    where.ok([{"date": "2026-05-02", "type": "reverse", "event": "old-buy",
               "reason": "refunded"},
              isf("isf_close", "2026-05-31", id="close2")], name="r2")
    state = where.state("isf", "H1:SH")
    assert state is not None and state["earlier_money_pence"] == 100000 - 23950
    [closure] = where.journals("close2")
    assert closure.memo["money_pence"] == 78000


def test_the_holder_statement_shows_the_old_overspend_on_its_own_line(db):
    db.ok([*_overspent_then_reopened(), isf("isf_delivery", "2026-05-10", hours=10)])
    with db.read() as store:
        april = holder_statement(store, "H1", day("2026-04-01"), day("2026-04-30"))
        may = holder_statement(store, "H1", day("2026-05-01"), day("2026-05-31"))
    assert april["isf_earlier_agreements"] == []
    assert may["isf_earlier_agreements"] == [{
        "account": "isf:H1:SH", "agreement_from": "2026-05-01",
        "outstanding_overspend_minor": 23950, "own_closing_minor": 58500}]
    text = _words(may)
    assert "An earlier agreement (before 1 May 2026) is still £239.50 short" in text
    assert "short at the end" not in text  # the new agreement is not
    assert "The fund holds £585.00 at the end." in text


def _words(statement: dict) -> str:
    """The statement as the person reads it (docs/statements.md#holder-reader), its
    whitespace folded so a sentence wrapped over two lines still matches."""
    from ledger.reports.document import render_text
    from ledger.reports.holder_doc import holder_document

    return " ".join(render_text(holder_document(statement)).split())
