"""Pooled budgets (`pool_*` in docs/scenarios.md; docs/pools.md), driven through the runner
into the in-memory backend."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, transfer
from ledger.domain.base import HANDLERS
from ledger.scenarios.schema import load_scenario
from ledger.store.memory import MemoryBackend

GBP = Unit.GBP
HOLDERS = ["H1", "H2", "H3", "H4", "H5"]
DAY = "2026-04-02"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def make_backend(dp_pence: int = 100_000) -> MemoryBackend:
    """Holders H1..H5 of council C1, each with `dp_pence` in their DP account. The money
    is posted directly, so these tests do not depend on the dp module."""
    backend = MemoryBackend()
    backend.add_parties([{"kind": "council", "id": "C1", "name": "Council"},
                         {"kind": "provider", "id": "SH", "name": "Provider"}])
    backend.add_parties([{"kind": "holder", "id": h, "name": f"Person {h}", "council": "C1",
                          "show_name": False, "pseudonym": None} for h in HOLDERS])
    for holder in HOLDERS:
        fund(backend, f"holder:{holder}:dp", dp_pence, f"fund-{holder}")
    return backend


def fund(backend: MemoryBackend, account: str, pence: int, key: str,
         states: dict | None = None) -> None:
    day = dt.date(2026, 4, 1)
    journal = Journal(key=key, type="test_funding", date=day,
                      postings=tuple(transfer("council:C1:funding", account, GBP, pence)))
    backend.apply(Change(EventRecord(key, "test_funding", day, key), journals=[journal],
                         states=states or {}))


class Run:
    """Applies events with keys k0, k1, ... and remembers them for replays."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.count = 0

    def __call__(self, type_: str, date: str = DAY, **fields) -> str:
        key = f"k{self.count}"
        self.count += 1
        outcome, _ = apply_event(self.backend, {"date": date, "type": type_, **fields}, key)
        assert outcome in ("applied", "rejected")
        return key

    def rejects(self, code: str, type_: str, date: str = DAY, **fields) -> None:
        before = len(self.backend.journals), dict(self.backend.states)
        with pytest.raises(EventFailed, match=f"^{code}:"):
            self(type_, date, **fields)
        assert (len(self.backend.journals), self.backend.states) == before


@pytest.fixture
def run() -> Run:
    return Run(make_backend())


def share(run: Run, holder: str, pool: str = "P") -> int:
    return run.backend.balance(f"pool:{pool}:{holder}", GBP)


def dp(run: Run, holder: str) -> int:
    return run.backend.balance(f"holder:{holder}:dp", GBP)


def pool_state(run: Run, pool: str = "P") -> dict:
    return run.backend.states[("pool", pool)]


def members(run: Run, pool: str = "P") -> list[str]:
    return [p["holder"] for p in pool_state(run, pool)["history"] if p["left"] is None]


def open_with_money(run: Run, holders: list[str], pence_each: int = 10_000) -> None:
    run("pool_open", pool="P", members=holders)
    for holder in holders:
        run("pool_contribute", pool="P", holder=holder, amount=f"{pence_each / 100:.2f}")


# ---------------------------------------------------------------- opening and joining


def test_open_records_members_in_order_and_posts_nothing(run):
    run("pool_open", pool="P", members=["H2", "H1"])
    assert members(run) == ["H2", "H1"]
    assert pool_state(run)["status"] == "open"
    assert len(run.backend.journals) == len(HOLDERS)  # only the funding


def test_pool_ids_are_never_reused(run):
    run("pool_open", pool="P", members=["H1"])
    run.rejects("invalid", "pool_open", pool="P", members=["H2"])
    run("pool_close", pool="P")
    run.rejects("invalid", "pool_open", pool="P", members=["H2"])


def test_undeclared_member_is_unknown_party(run):
    run.rejects("unknown_party", "pool_open", pool="P", members=["H1", "NOBODY"])
    run("pool_open", pool="P", members=["H1"])
    run.rejects("unknown_party", "pool_join", pool="P", holder="NOBODY")


def test_a_member_listed_twice_is_invalid(run):
    run.rejects("invalid", "pool_open", pool="P", members=["H1", "H1"])


def test_joining_twice_is_invalid(run):
    run("pool_open", pool="P", members=["H1"])
    run("pool_join", pool="P", holder="H2")
    run.rejects("invalid", "pool_join", pool="P", holder="H2")
    run.rejects("invalid", "pool_join", pool="P", holder="H1")


def test_membership_is_dated(run):
    run("pool_open", "2026-04-01", pool="P", members=["H1"])
    run("pool_join", "2026-04-10", pool="P", holder="H2")
    run("pool_leave", "2026-04-20", pool="P", holder="H2")
    history = pool_state(run)["history"]
    assert history[1] == {"holder": "H2", "joined": "2026-04-10", "joined_by": "k1",
                          "left": "2026-04-20", "left_by": "k2"}


def test_events_for_an_unknown_pool_are_invalid(run):
    run.rejects("invalid", "pool_join", pool="NOPE", holder="H1")
    run.rejects("invalid", "pool_income", pool="NOPE", payer="Fair", amount="1")


def test_an_event_dated_before_the_pool_opened_is_invalid(run):
    run("pool_open", "2026-04-10", pool="P", members=["H1"])
    run.rejects("invalid", "pool_contribute", "2026-04-09", pool="P", holder="H1",
                amount="1")


def test_unknown_fields_and_bad_amounts_are_invalid(run):
    run("pool_open", pool="P", members=["H1"])
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="1", colour="red")
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="0")
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="-5")
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="1.001")
    run.rejects("invalid", "pool_open", pool="A:B", members=["H2"])


# ---------------------------------------------------------------- money in


def test_contribution_moves_dp_money_into_the_members_own_share(run):
    run("pool_open", pool="P", members=["H1", "H2"])
    run("pool_contribute", pool="P", holder="H1", amount="250.50")
    assert share(run, "H1") == 25_050
    assert share(run, "H2") == 0
    assert dp(run, "H1") == 100_000 - 25_050
    journal = run.backend.journals[-1]
    assert (journal.type, journal.holder) == ("pool_contribution", "H1")


def test_contribution_beyond_the_dp_balance_is_insufficient_funds(run):
    run("pool_open", pool="P", members=["H1"])
    run.rejects("insufficient_funds", "pool_contribute", pool="P", holder="H1",
                amount="1000.01")
    run("pool_contribute", pool="P", holder="H1", amount="1000.00")
    assert dp(run, "H1") == 0


def test_a_non_member_cannot_contribute(run):
    run("pool_open", pool="P", members=["H1"])
    run.rejects("invalid", "pool_contribute", pool="P", holder="H2", amount="1")


def _open_isf(run: Run, allow: object, pence: int = 50_000) -> None:
    state = {"holder": "H1", "provider": "SH", "closed": None}
    if allow is not None:
        state["allow_pool_contributions"] = allow
    fund(run.backend, "isf:H1:SH", pence, "fund-isf", {("isf", "H1:SH"): state})


def test_an_isf_may_pay_in_only_when_its_terms_allow_pool_contributions(run):
    run("pool_open", pool="P", members=["H1"])
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="10",
                provider="SH")  # no ISF at all
    _open_isf(run, allow=False)
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="10",
                provider="SH")
    run.rejects("unknown_party", "pool_contribute", pool="P", holder="H1", amount="10",
                provider="NOBODY")


def test_an_isf_contribution_comes_from_the_isf_not_the_dp(run):
    run("pool_open", pool="P", members=["H1"])
    _open_isf(run, allow=True)
    run("pool_contribute", pool="P", holder="H1", amount="100", provider="SH")
    assert run.backend.balance("isf:H1:SH", GBP) == 40_000
    assert dp(run, "H1") == 100_000
    assert share(run, "H1") == 10_000
    assert run.backend.journals[-1].memo["source"] == "isf"


def test_an_isf_cannot_pay_in_money_it_does_not_hold(run):
    run("pool_open", pool="P", members=["H1"])
    _open_isf(run, allow=True, pence=5_000)
    run.rejects("insufficient_funds", "pool_contribute", pool="P", holder="H1",
                amount="50.01", provider="SH")


def test_income_goes_to_common_not_to_any_member(run):
    run("pool_open", pool="P", members=["H1", "H2"])
    run("pool_income", pool="P", payer="Craft fair", amount="42.00")
    assert run.backend.balance("pool:P:common", GBP) == 4_200
    assert run.backend.balance("external:Craft fair", GBP) == -4_200
    assert share(run, "H1") == share(run, "H2") == 0


# ---------------------------------------------------------------- shared costs


def test_equal_split_gives_the_odd_penny_to_the_first_joined(run):
    open_with_money(run, ["H3", "H1", "H2"])
    run("pool_spend", pool="P", payee="Coach Co", amount="10.00")
    assert run.backend.journals[-1].memo["split"] == {"H3": 334, "H1": 333, "H2": 333}
    assert run.backend.balance("external:Coach Co", GBP) == 1_000


def test_ratio_split_follows_the_weights_including_decimals(run):
    open_with_money(run, ["H1", "H2", "H3"])
    run("pool_spend", pool="P", payee="Venue", amount="10.01", split="ratio",
        weights={"H1": "1.5", "H2": 1, "H3": "0.5"})
    # exact shares 500.5, 333.67, 166.83: floors 500/333/166 leave 2p, which go to the
    # largest remainders (.83 and .67), not to the first listed
    assert run.backend.journals[-1].memo["split"] == {"H1": 500, "H2": 334, "H3": 167}


def test_subset_split_charges_only_named_members_in_join_order(run):
    open_with_money(run, ["H1", "H2", "H3"])
    run("pool_spend", pool="P", payee="Cinema", amount="0.05", members=["H3", "H2"])
    journal = run.backend.journals[-1]
    assert list(journal.memo["split"].items()) == [("H2", 3), ("H3", 2)]
    assert share(run, "H1") == 10_000


def test_a_part_that_rounds_to_nothing_posts_nothing_for_that_member(run):
    open_with_money(run, ["H1", "H2", "H3"])
    run("pool_spend", pool="P", payee="Shop", amount="0.01")
    journal = run.backend.journals[-1]
    assert journal.memo["split"] == {"H1": 1, "H2": 0, "H3": 0}
    assert {p.account for p in journal.postings} == {"pool:P:H1", "external:Shop"}
    assert journal.holder is None  # shared between three


def test_spend_memo_carries_the_split_method_weights_and_payee(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_spend", pool="P", payee="PA Jo", amount="30", split="ratio",
        weights={"H1": 2, "H2": 1}, description="shared PA, week 1")
    memo = run.backend.journals[-1].memo
    assert memo == {"pool": "P", "payee": "PA Jo", "amount_minor": 3_000,
                    "description": "shared PA, week 1", "method": "ratio",
                    "weights": {"H1": "2", "H2": "1"}, "split": {"H1": 2_000, "H2": 1_000},
                    "members": ["H1", "H2"]}


def test_one_members_budget_never_pays_for_another(run):
    run("pool_open", pool="P", members=["H1", "H2"])
    run("pool_contribute", pool="P", holder="H1", amount="100")
    run("pool_contribute", pool="P", holder="H2", amount="1")
    # The pool holds £101 but H2's half of £10 is more than H2's £1.
    run.rejects("insufficient_funds", "pool_spend", pool="P", payee="Cafe", amount="10")
    run("pool_spend", pool="P", payee="Cafe", amount="2")
    assert (share(run, "H1"), share(run, "H2")) == (9_900, 0)


def test_split_rules_are_checked(run):
    open_with_money(run, ["H1", "H2"])
    spend = {"pool": "P", "payee": "X", "amount": "1"}
    run.rejects("invalid", "pool_spend", **spend, split="ratio")
    run.rejects("invalid", "pool_spend", **spend, weights={"H1": 1, "H2": 1})
    run.rejects("invalid", "pool_spend", **spend, split="ratio", weights={"H1": 1})
    run.rejects("invalid", "pool_spend", **spend, split="ratio", weights={"H1": 1, "H2": 0})
    run.rejects("invalid", "pool_spend", **spend, split="ratio", members=["H1"],
                weights={"H1": 1, "H2": 1})
    run.rejects("invalid", "pool_spend", **spend, split="thirds")
    run.rejects("invalid", "pool_spend", **spend, members=["H1", "H1"])
    run.rejects("invalid", "pool_spend", **spend, members=[])


def test_a_non_member_cannot_be_charged(run):
    open_with_money(run, ["H1"])
    run.rejects("invalid", "pool_spend", pool="P", payee="X", amount="1", members=["H2"])
    run.rejects("unknown_party", "pool_spend", pool="P", payee="X", amount="1",
                members=["NOBODY"])


def test_a_backdated_purchase_is_not_charged_to_someone_who_joined_after_it(run):
    run("pool_open", "2026-04-01", pool="P", members=["H1"])
    run("pool_contribute", "2026-04-01", pool="P", holder="H1", amount="10")
    run("pool_join", "2026-04-10", pool="P", holder="H2")
    run("pool_contribute", "2026-04-10", pool="P", holder="H2", amount="10")
    run("pool_spend", "2026-04-05", pool="P", payee="Cafe", amount="4")
    assert run.backend.journals[-1].memo["split"] == {"H1": 400}
    run.rejects("invalid", "pool_spend", "2026-04-05", pool="P", payee="Cafe",
                amount="4", members=["H2"])


def test_join_appends_to_the_order_that_ties_follow(run):
    open_with_money(run, ["H2"])
    run("pool_join", pool="P", holder="H1")
    run("pool_contribute", pool="P", holder="H1", amount="100")
    run("pool_spend", pool="P", payee="X", amount="0.01")
    assert run.backend.journals[-1].memo["split"] == {"H2": 1, "H1": 0}


# ---------------------------------------------------------------- leaving and closing


def test_leaving_returns_the_whole_share_to_the_dp(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_spend", pool="P", payee="X", amount="1.01")
    run("pool_leave", pool="P", holder="H1")
    assert share(run, "H1") == 0
    assert dp(run, "H1") == 100_000 - 51
    journal = run.backend.journals[-1]
    assert (journal.type, journal.holder, journal.memo["reason"]) == (
        "pool_refund", "H1", "leave")
    assert members(run) == ["H2"]


def test_a_member_who_left_cannot_contribute_or_be_charged(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_leave", pool="P", holder="H1")
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="1")
    run.rejects("invalid", "pool_spend", pool="P", payee="X", amount="1", members=["H1"])
    run.rejects("invalid", "pool_leave", pool="P", holder="H1")
    run("pool_spend", pool="P", payee="X", amount="1")
    assert run.backend.journals[-1].memo["split"] == {"H2": 100}


def test_leaving_with_an_empty_share_posts_nothing_but_is_recorded(run):
    run("pool_open", pool="P", members=["H1", "H2"])
    run("pool_leave", pool="P", holder="H1")
    assert members(run) == ["H2"]
    assert len(run.backend.journals) == len(HOLDERS)


def test_a_member_who_rejoins_goes_to_the_end_of_the_order(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_leave", pool="P", holder="H1")
    run("pool_join", pool="P", holder="H1")
    assert members(run) == ["H2", "H1"]


def test_closing_returns_every_share_and_leaves_common_where_it_is(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_income", pool="P", payer="Fair", amount="7.50")
    run("pool_close", pool="P")
    assert share(run, "H1") == share(run, "H2") == 0
    assert dp(run, "H1") == dp(run, "H2") == 100_000
    assert run.backend.balance("pool:P:common", GBP) == 750
    refunds = run.backend.journals[-2:]
    assert [j.holder for j in refunds] == ["H1", "H2"]
    assert all(j.memo["common_left_minor"] == 750 and "£7.50" in j.memo["note"]
               for j in refunds)
    assert pool_state(run)["common_left_minor"] == 750


def test_a_closed_pool_refuses_every_further_event(run):
    open_with_money(run, ["H1"])
    run("pool_close", pool="P")
    run.rejects("invalid", "pool_join", pool="P", holder="H2")
    run.rejects("invalid", "pool_leave", pool="P", holder="H1")
    run.rejects("invalid", "pool_contribute", pool="P", holder="H1", amount="1")
    run.rejects("invalid", "pool_spend", pool="P", payee="X", amount="1")
    run.rejects("invalid", "pool_income", pool="P", payer="X", amount="1")
    run.rejects("invalid", "pool_close", pool="P")


# ---------------------------------------------------------------- reversals


def test_reversing_a_spend_puts_each_part_back(run):
    open_with_money(run, ["H1", "H2"])
    spent = run("pool_spend", pool="P", payee="X", amount="3.01")
    run("reverse", event=spent, reason="cancelled")
    assert share(run, "H1") == share(run, "H2") == 10_000


def test_reversing_a_spend_is_refused_once_a_charged_member_has_left(run):
    open_with_money(run, ["H1", "H2"])
    spent = run("pool_spend", pool="P", payee="X", amount="3")
    run("pool_leave", pool="P", holder="H1")
    run.rejects("invalid", "reverse", event=spent, reason="cancelled")


def test_reversing_a_leave_puts_the_member_back_in_their_old_place(run):
    open_with_money(run, ["H1", "H2", "H3"])
    left = run("pool_leave", pool="P", holder="H1")
    run("reverse", event=left, reason="left by mistake")
    assert members(run) == ["H1", "H2", "H3"]
    assert share(run, "H1") == 10_000
    run("pool_spend", pool="P", payee="X", amount="0.01")
    assert run.backend.journals[-1].memo["split"]["H1"] == 1


def test_reversing_a_leave_after_rejoining_is_invalid(run):
    open_with_money(run, ["H1", "H2"])
    left = run("pool_leave", pool="P", holder="H1")
    run("pool_join", pool="P", holder="H1")
    run.rejects("invalid", "reverse", event=left, reason="mistake")


def test_reversing_a_close_reopens_the_pool_with_its_shares(run):
    open_with_money(run, ["H1", "H2"])
    closed = run("pool_close", pool="P")
    run("reverse", event=closed, reason="closed too early")
    assert pool_state(run)["status"] == "open"
    assert share(run, "H1") == share(run, "H2") == 10_000
    run("pool_spend", pool="P", payee="X", amount="1")


# ---------------------------------------------------------------- replay and scenarios


def test_replaying_the_same_events_posts_nothing_new(run):
    events = [{"date": DAY, "type": "pool_open", "pool": "P", "members": ["H1", "H2"]},
              {"date": DAY, "type": "pool_contribute", "pool": "P", "holder": "H1",
               "amount": "20"},
              {"date": DAY, "type": "pool_contribute", "pool": "P", "holder": "H2",
               "amount": "20"},
              {"date": DAY, "type": "pool_spend", "pool": "P", "payee": "X", "amount": "3"},
              {"date": DAY, "type": "pool_leave", "pool": "P", "holder": "H1"}]
    for n, event in enumerate(events):
        assert apply_event(run.backend, event, f"r{n}")[0] == "applied"
    posted = len(run.backend.journals)
    for n, event in enumerate(events):
        assert apply_event(run.backend, event, f"r{n}") == ("skipped", 0)
    assert len(run.backend.journals) == posted


@pytest.mark.parametrize("name", ["pool-shared-pa", "pool-outing-by-attendance",
                                  "pool-member-leaves"])
def test_example_scenario_runs_and_meets_its_expectations(name):
    if "dp_payment" not in HANDLERS:
        pytest.skip("the dp module (dp_payment) is not registered yet")
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    backend = MemoryBackend()
    first = run_scenario(backend, scenario)
    assert first.failure is None, first.failure
    again = run_scenario(backend, scenario)
    assert (again.failure, again.journals, again.applied) == (None, 0, 0)


# ---------------------------------------------------------------- properties


def check_split(parts: list[int], weights: list[int], total: int) -> None:
    """Parts add up; each is within a penny of its exact share; an extra penny never
    goes to a later member while an earlier one with as large a remainder went without."""
    assert sum(parts) == total
    exact = [Fraction(total * w, sum(weights)) for w in weights]
    assert all(abs(p - e) < 1 for p, e in zip(parts, exact, strict=True))
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            got_i, got_j = parts[i] > exact[i], parts[j] > exact[j]
            if got_j and not got_i and exact[i].denominator != 1:
                assert exact[j] - int(exact[j]) > exact[i] - int(exact[i])


class PoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.backend = make_backend(dp_pence=20_000)
        self.applied: list[tuple[dict, str]] = []
        self.apply({"date": DAY, "type": "pool_open", "pool": "P", "members": ["H1", "H2"]})

    def apply(self, event: dict) -> str:
        key = f"m{len(self.applied)}"
        try:
            outcome, _ = apply_event(self.backend, event, key)
        except EventFailed as err:
            assert str(err).startswith(("insufficient_funds:", "invalid:")), err
            return "refused"
        self.applied.append((event, key))
        return outcome

    def members(self) -> list[str]:
        return [p["holder"] for p in self.backend.states[("pool", "P")]["history"]
                if p["left"] is None]

    def share(self, holder: str) -> int:
        return self.backend.balance(f"pool:P:{holder}", GBP)

    @rule(holder=st.sampled_from(HOLDERS), pence=st.integers(1, 8_000))
    def contribute(self, holder, pence):
        before = self.share(holder)
        outcome = self.apply({"date": DAY, "type": "pool_contribute", "pool": "P",
                              "holder": holder, "amount": f"{pence / 100:.2f}"})
        assert (outcome == "applied") == (holder in self.members() and self.share(holder)
                                          == before + pence)

    @rule(pence=st.integers(1, 5_000), data=st.data())
    def spend(self, pence, data):
        current = self.members()
        if not current:
            return
        chosen = data.draw(st.lists(st.sampled_from(current), unique=True, min_size=1))
        event = {"date": DAY, "type": "pool_spend", "pool": "P", "payee": "Shop",
                 "amount": f"{pence / 100:.2f}", "members": chosen}
        if data.draw(st.booleans()):
            weights = {h: data.draw(st.integers(1, 7)) for h in chosen}
            event.update(split="ratio", weights=weights)
        shares_before = {h: self.share(h) for h in HOLDERS}
        if self.apply(event) != "applied":
            return
        ordered = [h for h in current if h in chosen]
        split = self.backend.journals[-1].memo["split"]
        assert list(split) == self.backend.journals[-1].memo["members"] == ordered
        weights_in_order = [event.get("weights", {}).get(h, 1) for h in ordered]
        check_split(list(split.values()), weights_in_order, pence)
        for holder in HOLDERS:
            assert self.share(holder) == shares_before[holder] - split.get(holder, 0)

    @rule(pence=st.integers(1, 3_000))
    def income(self, pence):
        self.apply({"date": DAY, "type": "pool_income", "pool": "P", "payer": "Fair",
                    "amount": f"{pence / 100:.2f}"})

    @rule(holder=st.sampled_from(HOLDERS))
    def join(self, holder):
        was_member = holder in self.members()
        outcome = self.apply({"date": DAY, "type": "pool_join", "pool": "P",
                              "holder": holder})
        assert (outcome == "applied") == (not was_member)
        if outcome == "applied":
            assert self.members()[-1] == holder

    @rule(holder=st.sampled_from(HOLDERS))
    def leave(self, holder):
        dp_before = self.backend.balance(f"holder:{holder}:dp", GBP)
        share_before = self.share(holder)
        if self.apply({"date": DAY, "type": "pool_leave", "pool": "P",
                       "holder": holder}) == "applied":
            assert self.share(holder) == 0
            assert self.backend.balance(f"holder:{holder}:dp", GBP) == dp_before + share_before

    @precondition(lambda self: len(self.applied) > 1)
    @rule(data=st.data())
    def reverse(self, data):
        """Any reversal either goes through or is refused; the invariants hold either way."""
        _, key = data.draw(st.sampled_from(self.applied[1:]))
        self.apply({"date": DAY, "type": "reverse", "event": key, "reason": "test"})

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def replay(self, data):
        event, key = data.draw(st.sampled_from(self.applied))
        posted = len(self.backend.journals)
        assert apply_event(self.backend, event, key) == ("skipped", 0)
        assert len(self.backend.journals) == posted

    @invariant()
    def pool_total_is_shares_plus_common(self):
        pool_total = sum(v for (acc, _), v in self.backend.balances.items()
                         if acc.startswith("pool:P:"))
        shares = sum(self.share(h) for h in HOLDERS)
        assert pool_total == shares + self.backend.balance("pool:P:common", GBP)

    @invariant()
    def no_share_is_negative_and_leavers_hold_nothing(self):
        current = self.members()
        for holder in HOLDERS:
            assert self.share(holder) >= 0
            if holder not in current:
                assert self.share(holder) == 0

    @invariant()
    def money_is_neither_made_nor_lost(self):
        assert sum(self.backend.balances.values()) == 0


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- sharing out common money


def common(run: Run, pool: str = "P") -> int:
    return run.backend.balance(f"pool:{pool}:common", GBP)


def test_distribute_shares_all_common_money_equally_by_largest_remainder(run):
    open_with_money(run, ["H1", "H2", "H3"])
    run("pool_income", pool="P", payer="CRAFT-FAIR", amount="10.00")
    run("pool_distribute", pool="P")
    assert common(run) == 0
    # £10.00 among three: 334p to the first member by join order, 333p to the others.
    assert [share(run, h) - 10_000 for h in ("H1", "H2", "H3")] == [334, 333, 333]


def test_distribute_part_of_common_by_ratio_among_named_members(run):
    open_with_money(run, ["H1", "H2", "H3"])
    run("pool_income", pool="P", payer="FAIR", amount="30.00")
    run("pool_distribute", pool="P", amount="9.00", split="ratio",
        weights={"H1": 2, "H3": 1}, members=["H3", "H1"])
    assert common(run) == 2_100
    assert [share(run, h) - 10_000 for h in ("H1", "H2", "H3")] == [600, 0, 300]


def test_distribute_more_than_common_holds_is_refused(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_income", pool="P", payer="FAIR", amount="5.00")
    run.rejects("insufficient_funds", "pool_distribute", pool="P", amount="5.01")
    run.rejects("invalid", "pool_distribute", pool="Q")


def test_distribute_with_nothing_in_common_is_invalid(run):
    open_with_money(run, ["H1"])
    run.rejects("invalid", "pool_distribute", pool="P")


def test_distributed_money_goes_back_with_a_leaving_member_and_reversal_refused_then(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_income", pool="P", payer="FAIR", amount="1.00")
    key = run("pool_distribute", pool="P")
    run("pool_leave", pool="P", holder="H2")
    assert dp(run, "H2") == 100_000 - 10_000 + 10_000 + 50
    run.rejects("invalid", "reverse", event=key, reason="wrong")


def test_reversing_a_distribution_puts_the_money_back_in_common(run):
    open_with_money(run, ["H1", "H2"])
    run("pool_income", pool="P", payer="FAIR", amount="1.01")
    key = run("pool_distribute", pool="P")
    run("reverse", event=key, reason="agreed to keep it for the summer trip")
    assert common(run) == 101
    assert share(run, "H1") == share(run, "H2") == 10_000
