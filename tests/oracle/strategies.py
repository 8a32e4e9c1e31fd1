"""Hypothesis strategies for the oracle tests: random events over every event type, dated
over six months (March to August 2026), many of them meant to be refused."""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "100"))
MAX_EVENTS = int(os.environ.get("ORACLE_MAX_EVENTS", "30"))

HOLDERS = {"H1": "C1", "H2": "C1", "H3": "C2"}
PARTIES = {
    "councils": [{"id": "C1", "name": "Council One"}, {"id": "C2", "name": "Council Two"}],
    "providers": [{"id": "P1", "name": "Provider One"}, {"id": "P2", "name": "Provider Two"}],
    "holders": [{"id": h, "name": f"Person {h}", "council": c} for h, c in HOLDERS.items()],
}
D0 = dt.date(2026, 3, 1)
SPAN = 183  # days: March to August


def model_parties() -> dict[str, dict[str, dict]]:
    return {kind.removesuffix("s"): {p["id"]: dict(p) for p in items}
            for kind, items in PARTIES.items()}


# ------------------------------------------------------------------ generators

def _one_in(n: int, rare, common):
    """`rare` about once in n draws (plain sampled_from would give unknown ids too often)."""
    return st.integers(0, n - 1).flatmap(lambda i: rare if i == 0 else common)


days = st.integers(0, SPAN).map(lambda n: D0 + dt.timedelta(days=n))
months = days.map(lambda d: f"{d.year}-{d.month:02d}")
holder = _one_in(15, st.just("HX"), st.sampled_from(sorted(HOLDERS)))
provider = _one_in(15, st.just("PX"), st.sampled_from(["P1", "P2"]))
council = _one_in(15, st.just("CX"), st.sampled_from(["C1", "C2"]))


def _fmt(p: int) -> str:
    return f"{p // 100}.{p % 100:02d}"


def _pounds(low: int, high: int):
    return st.integers(low, high).map(_fmt)


money = _one_in(25, st.sampled_from(["1.005", "0", "0.00"]), _pounds(1, 40_000))
income = _pounds(10_000, 200_000)
hours = _one_in(25, st.sampled_from(["1.33", "0"]), st.one_of(
    st.integers(1, 60).map(lambda q: f"{q // 4}.{(q % 4) * 25:02d}".replace(".00", "")),
    st.tuples(st.integers(0, 12), st.integers(1, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),
))
payee = _one_in(4, st.sampled_from(["external:SHOP", "A:B"]), st.sampled_from(["PA", "SHOP"]))
pool_id = st.sampled_from(["L1", "L1", "L2"])
fund_id = st.sampled_from(["F1", "F1", "F2"])
decimals = st.sampled_from(["1", "2", "2.5", "0.5", "3"])


def _opt(draw, key: str, strategy, out: dict, chance: int = 3) -> None:
    if draw(st.integers(0, chance - 1)) == 0:
        out[key] = draw(strategy)


@st.composite
def isf_terms(draw, inside: bool = True) -> dict:
    carry: dict = {"expire_after_months": draw(st.integers(0, 2))}
    _opt(draw, "max_hours", st.sampled_from(["5", "10", "0.5"]), carry, 2)
    _opt(draw, "max_borrow_hours", st.sampled_from(["2", "4", "0.25"]), carry, 2)
    out = {"hours_per_month": draw(st.sampled_from(["10", "20", "7.5", "12:20"])),
           "rate": draw(_pounds(1000, 3000)), "carry": carry}
    bases = st.sampled_from(["inside", "on_top"] if inside else ["on_top"])
    _opt(draw, "fee", st.one_of(
        st.builds(lambda v, b: {"kind": "percent", "value": v, "basis": b},
                  st.sampled_from(["10", "12.5", "100"]), bases),
        st.builds(lambda v, b: {"kind": "fixed", "value": v, "basis": b},
                  st.sampled_from(["5.00", "7.77", "1000"]), bases),
    ), out, 2)
    _opt(draw, "underspend", st.sampled_from(["return", "retain"]), out)
    _opt(draw, "allow_pool_contributions", st.booleans(), out)
    return out


TYPES = [
    "dp_payment", "dp_spend", "contribution", "isf_advance", "isf_delivery", "isf_reconcile",
    "pool_contribute", "pool_spend", "bursary_award", "reverse", "budget", "dp_schedule",
    "run_payments", "dp_review", "isf_open", "isf_purchase", "isf_close", "pool_open",
    "pool_join", "pool_leave", "pool_income", "pool_close", "fund_open", "bursary_spend",
    "fund_close", "grant", "framework_open", "calloff", "spot_purchase", "block_open",
    "block_payment", "block_usage", "close_period", "party_update",
]


# Heavier weight on the events that move money, so that sequences get somewhere.
WEIGHTED = TYPES + ["isf_advance", "isf_delivery", "isf_delivery", "pool_contribute",
                    "pool_spend", "bursary_award", "bursary_spend", "reverse", "reverse",
                    "reverse", "dp_spend", "isf_reconcile", "isf_purchase", "pool_leave"]
isf_pair = _one_in(4, st.tuples(holder, provider),
                   st.sampled_from([("H1", "P1"), ("H2", "P2")]))


# Event types whose rules the contract changed on 2026-12-06 (ISFs): tested by
# tests/oracle/test_oracle_month_end.py, left out of the random events of the others.
CHANGED = ("isf_open", "isf_advance", "isf_delivery", "isf_reconcile", "isf_purchase",
           "isf_close")
UNCHANGED = [t for t in WEIGHTED if t not in CHANGED]


@st.composite
def event(draw, index: int, types: tuple[str, ...] | list[str] = tuple(WEIGHTED)) -> dict:
    t = draw(st.sampled_from(types))
    d = draw(days)
    e: dict = {"date": d, "type": t}
    h, p, c = (lambda: draw(holder)), (lambda: draw(provider)), (lambda: draw(council))
    if t == "budget":
        amount = draw(st.integers(1000, 500_000))
        e.update(holder=h(), amount=_fmt(amount), **{
            "from": d, "to": d + dt.timedelta(days=draw(st.integers(-5, 120)))})
        if draw(st.booleans()):
            nhs = draw(st.integers(0, amount))
            rest = amount - nhs + draw(st.sampled_from([0, 0, 0, 1]))
            e["funders"] = {k: _fmt(v) for k, v in (("NHS", nhs), ("COUNCIL", rest)) if v > 0}
        _opt(draw, "contribution", money, e)
    elif t in ("dp_payment", "contribution", "dp_spend"):
        e.update(holder=h(), amount=draw(income if t == "dp_payment" else money))
        if t == "dp_spend":
            e["payee"] = draw(payee)
        _opt(draw, "council", council, e, 6)
    elif t == "dp_schedule":
        start = draw(days)
        e.update(id=f"S{draw(st.integers(0, 2))}", holder=h(), amount=draw(_pounds(100, 50_000)),
                 every=draw(st.sampled_from(["weekly", "four_weekly", "monthly"])), start=start,
                 timing=draw(st.sampled_from(["advance", "arrears"])))
        _opt(draw, "end", st.integers(-10, 120).map(lambda n: start + dt.timedelta(days=n)), e)
    elif t == "run_payments":
        e["until"] = d + dt.timedelta(days=draw(st.integers(-30, 40)))
    elif t == "dp_review":
        e.update(holder=h(), weekly_amount=draw(_pounds(1000, 40_000)),
                 max_weeks=draw(st.sampled_from(["0", "2", "6.5", "8"])))
        _opt(draw, "contingency", st.sampled_from(["0", "50.00", "500"]), e)
    elif t.startswith("isf_"):
        e["holder"], e["provider"] = draw(isf_pair)
        if t == "isf_open":
            e.update(draw(isf_terms()))
        elif t == "isf_advance":
            e["month"] = draw(months)
        elif t == "isf_reconcile":  # months go in order, so early ones are tried most
            e["month"] = draw(_one_in(3, months, st.sampled_from(["2026-03", "2026-04"])))
        elif t == "isf_delivery":
            e["hours"] = draw(hours)
        elif t == "isf_purchase":
            e.update(payee=draw(payee), amount=draw(money))
        _opt(draw, "council", council, e, 8)
    elif t == "pool_open":
        e.update(pool=draw(pool_id), members=draw(st.lists(holder, max_size=3)))
    elif t in ("pool_join", "pool_leave", "pool_close", "pool_income", "pool_contribute"):
        e["pool"] = draw(pool_id)
        if t in ("pool_join", "pool_leave", "pool_contribute"):
            e["holder"] = h()
        if t == "pool_contribute":
            e["amount"] = draw(money)
            _opt(draw, "provider", provider, e, 4)
        if t == "pool_income":
            e.update(payer=draw(st.sampled_from(["FAIR", "RAFFLE"])), amount=draw(money))
    elif t == "pool_spend":
        e.update(pool=draw(pool_id), payee=draw(payee), amount=draw(
            _one_in(10, money, _pounds(1, 3_000))))
        members = draw(_one_in(3, st.lists(holder, max_size=3), st.none()))
        if members is not None:
            e["members"] = members
        if draw(st.booleans()):
            e["split"] = "ratio"
            named = members if members is not None else draw(_one_in(
                4, st.lists(st.sampled_from(sorted(HOLDERS)), min_size=1, max_size=3,
                            unique=True), st.just(["H1", "H2"])))
            e["weights"] = {m: draw(decimals) for m in named}
        else:
            _opt(draw, "split", st.just("equal"), e)
    elif t == "fund_open":
        e.update(fund=draw(fund_id), council=c(), total=draw(_pounds(1000, 50_000)),
                 cap_per_person=draw(_pounds(1000, 20_000)))
    elif t == "bursary_award":
        e.update(fund=draw(fund_id), holder=h(), amount=draw(_pounds(1, 12_000)))
    elif t == "bursary_spend":
        e.update(fund=draw(fund_id), holders=draw(_one_in(
                     5, st.lists(holder, max_size=3),
                     st.lists(st.sampled_from(sorted(HOLDERS)), min_size=1, max_size=3,
                              unique=True))),
                 payee=draw(payee), amount=draw(_pounds(1, 10_000)))
    elif t == "fund_close":
        e["fund"] = draw(fund_id)
    elif t in ("grant", "spot_purchase"):
        e.update(council=c(), provider=p(), amount=draw(money))
        if t == "spot_purchase":
            _opt(draw, "holder", holder, e)
    elif t == "framework_open":
        e.update(framework=draw(st.sampled_from(["W1", "W2"])), council=c(), rates=draw(
            st.lists(st.builds(lambda s, r, f: {"service": s, "rate": r, "from": f},
                               st.sampled_from(["home", "day"]), _pounds(100, 3000), days),
                     min_size=1, max_size=3)))
    elif t == "calloff":
        e.update(framework=draw(st.sampled_from(["W1", "W2"])), provider=p(),
                 service=draw(st.sampled_from(["home", "home", "day", "night"])),
                 hours=draw(hours))
        _opt(draw, "holder", holder, e)
    elif t == "block_open":
        e.update(contract=draw(st.sampled_from(["B1", "B2"])), council=c(), provider=p(),
                 amount_per_month=draw(_pounds(10_000, 200_000)),
                 capacity_hours_per_month=draw(st.sampled_from(["40", "100"])))
    elif t == "block_payment":
        e.update(contract=draw(st.sampled_from(["B1", "B2"])), month=draw(months))
    elif t == "block_usage":
        e.update(contract=draw(st.sampled_from(["B1", "B2"])), hours=draw(hours))
    elif t == "close_period":
        e["until"] = d - dt.timedelta(days=draw(st.integers(-3, 60)))
    elif t == "reverse":
        target = f"ox#{draw(st.integers(0, index - 1))}"
        e.update(event=draw(_one_in(6, st.sampled_from(["S1", "nope"]), st.just(target))),
                 reason="correction")
    elif t == "party_update":
        if draw(st.integers(0, 3)) == 0:
            e.update(provider=p(), name="New Name Ltd")
        else:
            e["holder"] = h()
            change = draw(st.sampled_from(["show_name", "pseudonym", "format", "council",
                                           "name"]))
            e.update({"show_name": {"show_name": True}, "pseudonym": {"pseudonym": "Robin"},
                      "format": {"statement_format": "large_print"},
                      "council": {"council": "C2"}, "name": {"name": "Renamed"}}[change])
    return e


@st.composite
def scenario_events(draw, types=tuple(UNCHANGED), inside: bool = False) -> list[dict]:
    """A fixed start that opens one of everything, then random events (by default those
    whose rules did not change on 2026-12-06, and no inside fee, whose lot changed)."""
    start = [
        {"date": D0, "type": "dp_payment", "holder": h, "amount": "2000.00"} for h in HOLDERS
    ] + [
        {"date": D0, "type": "isf_open", "holder": "H1", "provider": "P1", **draw(isf_terms(inside))},
        {"date": D0, "type": "isf_open", "holder": "H2", "provider": "P2",
         **{**draw(isf_terms(inside)), "allow_pool_contributions": True}},
        {"date": D0, "type": "isf_advance", "holder": "H1", "provider": "P1", "month": "2026-03"},
        {"date": D0, "type": "isf_advance", "holder": "H2", "provider": "P2", "month": "2026-03"},
        {"date": D0, "type": "pool_open", "pool": "L1", "members": ["H1", "H2"]},
        {"date": D0, "type": "pool_contribute", "pool": "L1", "holder": "H1", "amount": "100.00"},
        {"date": D0, "type": "pool_contribute", "pool": "L1", "holder": "H2", "amount": "50.00"},
        {"date": D0, "type": "fund_open", "fund": "F1", "council": "C1", "total": "300.00",
         "cap_per_person": "100.00"},
        {"date": D0, "type": "framework_open", "framework": "W1", "council": "C1", "rates": [
            {"service": "home", "rate": "18.00", "from": D0},
            {"service": "home", "rate": "19.37", "from": dt.date(2026, 6, 1)},
            {"service": "day", "rate": "25.50", "from": dt.date(2026, 4, 1)}]},
        {"date": D0, "type": "block_open", "contract": "B1", "council": "C2", "provider": "P2",
         "amount_per_month": "1000.00", "capacity_hours_per_month": "40"},
        {"date": D0, "type": "dp_schedule", "id": "S1", "holder": "H1", "amount": "250.00",
         "every": draw(st.sampled_from(["weekly", "four_weekly", "monthly"])),
         "start": D0 + dt.timedelta(days=draw(st.integers(0, 40))),
         "timing": draw(st.sampled_from(["advance", "arrears"]))},
    ]
    size = draw(st.integers(1, MAX_EVENTS))
    for _ in range(size):
        start.append(draw(event(len(start), types)))
    return start


periods = st.tuples(days, st.integers(0, 120)).map(
    lambda t: (t[0], t[0] + dt.timedelta(days=t[1])))

