"""The pooling group's statement (src/ledger/reports/pool_statement.py; docs/pools.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, transfer
from ledger.reports.pool_statement import (
    member_labels,
    money,
    pool_statement,
    render_pool_statement_text,
)
from ledger.store.memory import MemoryBackend

GBP = Unit.GBP
HOLDERS = {
    "H1": {"name": "Asha Example", "show_name": False, "pseudonym": None},
    "H2": {"name": "Ben Example", "show_name": False, "pseudonym": "Kingfisher"},
    "H3": {"name": "Cal Example", "show_name": True, "pseudonym": "Robin"},
    "H4": {"name": "Dee Example", "show_name": False, "pseudonym": None},
}
APRIL_1, APRIL_30 = dt.date(2026, 4, 1), dt.date(2026, 4, 30)


class Pool:
    """A memory backend with four funded holders and a pool P, driven event by event."""

    def __init__(self, dp_pence: int = 500_000) -> None:
        self.backend = MemoryBackend()
        self.backend.add_parties([{"kind": "council", "id": "C1", "name": "Council"}])
        self.backend.add_parties([{"kind": "holder", "id": h, "council": "C1", **p}
                                  for h, p in HOLDERS.items()])
        day = dt.date(2026, 3, 1)
        for holder in HOLDERS:
            journal = Journal(key=f"fund-{holder}", type="test_funding", date=day,
                              postings=tuple(transfer("council:C1:funding",
                                                      f"holder:{holder}:dp", GBP, dp_pence)))
            self.backend.apply(Change(EventRecord(journal.key, "test_funding", day, "x"),
                                      journals=[journal]))
        self.count = 0

    def __call__(self, date: str, type_: str, **fields) -> str:
        key = f"k{self.count}"
        self.count += 1
        if type_.startswith("pool_"):
            fields = {"pool": "P", **fields}
        apply_event(self.backend, {"date": date, "type": type_, **fields}, key)
        return key

    def statement(self, date_from: dt.date = APRIL_1, date_to: dt.date = APRIL_30) -> dict:
        journals = [j for j in self.backend.journals if j.date <= date_to
                    and any(p.account.startswith("pool:P:") for p in j.postings)]
        return pool_statement(self.backend.states[("pool", "P")], journals, HOLDERS, "P",
                              date_from, date_to)


def by_label(statement: dict) -> dict[str, dict]:
    return {m["member"]: m for m in statement["members"]}


@pytest.fixture
def pool() -> Pool:
    p = Pool()
    p("2026-03-20", "pool_open", members=["H1", "H2", "H3"])
    p("2026-03-20", "pool_contribute", holder="H1", amount="100")
    p("2026-04-02", "pool_contribute", holder="H1", amount="1500")
    p("2026-04-02", "pool_contribute", holder="H2", amount="60")
    p("2026-04-02", "pool_contribute", holder="H3", amount="60")
    p("2026-04-05", "pool_spend", payee="Coach Co", amount="10.00", description="coach")
    p("2026-04-06", "pool_spend", payee="Cafe", amount="9.00", split="ratio",
      weights={"H1": 2, "H3": 1}, members=["H1", "H3"])
    p("2026-04-07", "pool_income", payer="Craft fair", amount="20.00")
    return p


def test_each_members_columns_add_up_to_their_closing_share(pool):
    statement = pool.statement()
    for member in statement["members"]:
        assert member["closing_minor"] == (
            member["opening_minor"] + member["contributed_minor"] + member["received_minor"]
            - member["charged_minor"] - member["refunded_minor"] + member["corrections_minor"])
    asha = by_label(statement)["Member 1"]
    assert (asha["opening_minor"], asha["contributed_minor"], asha["charged_minor"],
            asha["closing_minor"]) == (10_000, 150_000, 334 + 600, 160_000 - 934)
    assert asha["closing_minor"] == pool.backend.balance("pool:P:H1", GBP)


def test_pool_total_equals_the_sum_of_shares_plus_common(pool):
    statement = pool.statement()
    totals = statement["totals"]
    shares = sum(m["closing_minor"] for m in statement["members"])
    assert totals["closing_minor"] == statement["total_minor"] == shares + 2_000
    assert totals["common_closing_minor"] == statement["common"]["closing_minor"] == 2_000
    assert statement["common"]["in_minor"] == 2_000
    assert totals["opening_minor"] == 10_000


def test_charges_are_itemised_with_payee_part_and_how_the_cost_was_split(pool):
    charges = by_label(pool.statement())["Cal Example"]["charges"]
    assert [(c["payee"], c["amount_minor"], c["part_minor"], c["method"]) for c in charges] == [
        ("Coach Co", 1_000, 333, "equal"), ("Cafe", 900, 300, "ratio")]
    assert charges[1]["weights"] == {"Member 1": "2", "Cal Example": "1"}
    assert charges[1]["parts"] == [{"member": "Member 1", "part_minor": 600},
                                   {"member": "Cal Example", "part_minor": 300}]
    purchases = pool.statement()["purchases"]
    assert [p["description"] for p in purchases] == ["coach", None]


def test_members_appear_by_pseudonym_or_number_unless_they_consented_to_their_name(pool):
    pool("2026-04-08", "pool_join", holder="H4")
    statement = pool.statement()
    assert [m["member"] for m in statement["members"]] == [
        "Member 1", "Kingfisher", "Cal Example", "Member 4"]
    text = json.dumps(statement) + render_pool_statement_text(statement)
    for hidden in ("Asha", "Ben Example", "Dee", "H1", "H2", "H4"):
        assert hidden not in text
    assert by_label(statement)["Cal Example"]["holder"] == "H3"


def test_opening_share_is_the_balance_before_the_period(pool):
    may = pool.statement(dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    april = pool.statement()
    for before, after in zip(april["members"], may["members"], strict=True):
        assert after["opening_minor"] == after["closing_minor"] == before["closing_minor"]
        assert after["charges"] == [] and after["contributions"] == []
    assert may["common"]["opening_minor"] == 2_000


def test_statement_does_not_depend_on_how_a_store_orders_memo_keys_or_postings(pool):
    # H1 leaves and rejoins, so the join order (H2, H1) is not the order of the ids.
    pool("2026-04-08", "pool_leave", holder="H1")
    pool("2026-04-08", "pool_join", holder="H1")
    pool("2026-04-08", "pool_contribute", holder="H1", amount="10")
    pool("2026-04-09", "pool_spend", payee="Hall", amount="0.05", split="ratio",
         weights={"H1": 1, "H2": 1}, members=["H1", "H2"])
    journals = [j for j in pool.backend.journals
                if any(p.account.startswith("pool:P:") for p in j.postings)]
    stored = [dataclasses.replace(j, postings=tuple(reversed(j.postings)),
                                  memo=json.loads(json.dumps(j.memo, sort_keys=True)))
              for j in journals]
    state = pool.backend.states[("pool", "P")]
    assert (pool_statement(state, stored, HOLDERS, "P", APRIL_1, APRIL_30)
            == pool_statement(state, journals, HOLDERS, "P", APRIL_1, APRIL_30))
    hall = pool.statement()["purchases"][-1]
    assert hall["parts"] == [{"member": "Kingfisher", "part_minor": 3},
                             {"member": "Member 1", "part_minor": 2}]
    assert list(hall["weights"]) == ["Kingfisher", "Member 1"]


def test_journals_after_the_period_are_ignored(pool):
    pool("2026-05-02", "pool_spend", payee="Later", amount="3")
    everything = [j for j in pool.backend.journals
                  if any(p.account.startswith("pool:P:") for p in j.postings)]
    statement = pool_statement(pool.backend.states[("pool", "P")], everything, HOLDERS,
                               "P", APRIL_1, APRIL_30)
    assert [p["payee"] for p in statement["purchases"]] == ["Coach Co", "Cafe"]


def test_a_leaver_shows_the_refund_and_a_reversed_purchase_is_marked(pool):
    spent = pool("2026-04-10", "pool_spend", payee="Theatre", amount="3")
    pool("2026-04-11", "reverse", event=spent, reason="show cancelled")
    pool("2026-04-20", "pool_leave", holder="H2")
    statement = pool.statement()
    kingfisher = by_label(statement)["Kingfisher"]
    assert kingfisher["left"] == "2026-04-20"
    assert kingfisher["refunds"] == [{"date": "2026-04-20", "amount_minor": 6_000 - 333,
                                      "reason": "leave"}]
    assert kingfisher["corrections_minor"] == 100 and kingfisher["closing_minor"] == 0
    assert [p["reversed"] for p in statement["purchases"]] == [False, False, True]


def test_a_closed_pool_says_when_it_closed_and_what_is_left_in_common(pool):
    pool("2026-04-30", "pool_close")
    statement = pool.statement()
    assert statement["closed"] == "2026-04-30"
    assert statement["totals"]["shares_closing_minor"] == 0
    assert statement["total_minor"] == 2_000
    text = " ".join(render_pool_statement_text(statement).split())
    assert "The pool closed on 30 April 2026." in text
    assert "£0.00 in members' shares and £20.00 held in common" in text
    assert ("Member 1 got £1,590.66 back into their direct payment account when the pool "
            "closed on 30 April 2026") in text


def test_text_shows_pounds_with_commas_and_aligned_columns(pool):
    text = render_pool_statement_text(pool.statement())
    assert "£1,590.66" in text  # Member 1's closing share: 160000 - 934 pence
    table = text.split("Each member's share, 1 April to 30 April 2026, in pounds\n")[1]
    table = table.split("\n\n")[0].splitlines()
    assert len(table) == 7  # header, rule, three members, rule, the total
    assert len({len(line) for line in table}) == 1  # right-aligned to the same edge
    flat = " ".join(text.split())
    assert "Split equally between 3 members." in flat
    assert "Member 1 £3.34 Kingfisher £3.33 Cal Example £3.33" in flat
    assert ("Split by agreed shares: Member 1 pays 2 parts, Cal Example pays 1 part, out of "
            "3 parts.") in flat
    assert "5 April 2026: Coach Co" in flat and "£10.00 paid to Coach Co for coach." in flat
    prose = [line for line in text.splitlines() if not line.startswith("  ")]
    assert all(len(line) <= 88 for line in prose)  # sentences wrap; tables are as wide as
    # their columns


@pytest.mark.parametrize("pence, text", [(0, "£0.00"), (5, "£0.05"), (123_450, "£1,234.50"),
                                         (-700, "-£7.00"), (100_000_000, "£1,000,000.00")])
def test_money_is_written_as_pounds_and_pence(pence, text):
    assert money(pence) == text


# ---------------------------------------------------------------- properties

OPS = st.lists(st.one_of(
    st.tuples(st.just("contribute"), st.sampled_from(list(HOLDERS)), st.integers(1, 20_000)),
    st.tuples(st.just("spend"), st.lists(st.sampled_from(list(HOLDERS)), unique=True,
                                         min_size=1), st.integers(1, 9_999)),
    st.tuples(st.just("income"), st.just(None), st.integers(1, 5_000)),
    st.tuples(st.just("join"), st.sampled_from(list(HOLDERS)), st.just(0)),
    st.tuples(st.just("leave"), st.sampled_from(list(HOLDERS)), st.just(0)),
), max_size=25)


def _play(pool: Pool, ops: list, days: list[int]) -> None:
    for (op, who, pence), day in zip(ops, days, strict=False):
        date = f"2026-04-{day:02d}"
        fields = {"contribute": {"holder": who, "amount": f"{pence / 100:.2f}"},
                  "spend": {"members": who, "payee": "Shop", "amount": f"{pence / 100:.2f}"},
                  "income": {"payer": "Fair", "amount": f"{pence / 100:.2f}"},
                  "join": {"holder": who}, "leave": {"holder": who}}[op]
        try:
            pool(date, f"pool_{op}", **fields)
        except EventFailed as err:
            assert re.match(r"^(invalid|insufficient_funds):", str(err)), err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, days=st.lists(st.integers(2, 29), min_size=25, max_size=25).map(sorted),
       cut=st.integers(2, 29))
def test_statement_always_balances_and_periods_join_up(ops, days, cut):
    pool = Pool(dp_pence=50_000)
    pool("2026-04-01", "pool_open", members=["H1", "H2"])
    _play(pool, ops, days)
    whole = pool.statement()
    shares = sum(m["closing_minor"] for m in whole["members"])
    assert whole["total_minor"] == shares + whole["common"]["closing_minor"]
    rows = by_label(whole)
    for holder, label in member_labels(pool.backend.states[("pool", "P")], HOLDERS).items():
        closing = rows[label]["closing_minor"] if label in rows else 0
        assert closing == pool.backend.balance(f"pool:P:{holder}", GBP)
    for purchase in whole["purchases"]:
        assert sum(p["part_minor"] for p in purchase["parts"]) == purchase["amount_minor"]
    first = pool.statement(APRIL_1, dt.date(2026, 4, cut))
    second = pool.statement(dt.date(2026, 4, cut + 1), APRIL_30)
    assert second["totals"]["opening_minor"] == first["totals"]["closing_minor"]
    assert second["total_minor"] == whole["total_minor"]
    render_pool_statement_text(whole)


def test_common_money_shared_out_shows_as_received_from_common(pool):
    pool("2026-04-20", "pool_distribute", amount="15.00", description="craft fair takings")
    statement = pool.statement()
    received = {m["member"]: m["received_minor"] for m in statement["members"]}
    assert received == {"Member 1": 500, "Kingfisher": 500, "Cal Example": 500}
    assert statement["common"]["closing_minor"] == 500
    assert statement["total_minor"] == sum(m["closing_minor"] for m in statement["members"]) \
        + 500
    text = render_pool_statement_text(statement)
    assert "From common" in text
