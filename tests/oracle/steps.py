"""Hypothesis strategies for a provider's months: ISF events, the month-end commands,
timesheet files and bank statements, in roughly the order a month goes (advance, support,
reconcile), then shuffled a little, so that next month's advance and support sometimes come
before this month's reconciliation, as the contract allows (section 5.3)."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import strategies as st

from tests.oracle.strategies import D0, HOLDERS, _pounds, hours, isf_terms, money, payee

# The timesheet reading rules dated 2026-12-06 (docs/month-end.md#timesheets: a row
# changed since it was imported is refused, times are wall-clock times over the clock
# changes, a start equal to its end is refused, two identical rows without a reference
# are refused, --late-to-open-month) are the next issue's work ("imports that read what
# the file means"). Until the importer has them, the generator leaves out the files only
# they decide; the model keeps them, and turning this on is that first test.
READING_RULES_BUILT = True

PAIRS = [("H1", "P1"), ("H2", "P2"), ("H3", "P1")]
PROVIDERS = ["P1", "P2"]
MONTHS = [dt.date(2026, m, 1) for m in range(3, 9)]
PAYEES = [(r"\bPA\b", "PA"), ("^SHOP", "SHOP")]
DESCRIPTIONS = ["PA WAGES", "SHOP 1234", "CAFE NERO", "pa wages march"]


def _text(month: dt.date) -> str:
    return f"{month.year}-{month.month:02d}"


def _last(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def day_in(month: dt.date):
    return st.integers(0, (_last(month) - month).days).map(lambda n: month + dt.timedelta(n))


def _quarters(top: int):
    return st.integers(1, top).map(lambda q: f"{q // 4}.{(q % 4) * 25:02d}".replace(".00", ""))


clean_hours = _quarters(40)
visit_hours = _quarters(16)
starts = st.sampled_from(["08:00", "09:15", "13:30", "17:45", "22:00", "23:30"])


def _visit(clean: bool):
    """(start, end): a visit of up to four hours (past midnight too); unless `clean`,
    sometimes one that ends when it starts."""
    shortest = 0 if not clean and READING_RULES_BUILT else 1
    return st.tuples(starts, st.integers(shortest, 16)).map(lambda t: (
        t[0], f"{(int(t[0][:2]) + (int(t[0][3:]) + 15 * t[1]) // 60) % 24:02d}:"
              f"{(int(t[0][3:]) + 15 * t[1]) % 60:02d}"))


@st.composite
def timesheet_row(draw, provider: str, month: dt.date, n: int, clean: bool) -> dict:
    """A row; unless `clean`, often one the import must refuse."""
    mine = [h for h, p in PAIRS if p == provider]
    h = draw(st.sampled_from(mine if clean else mine + ["HX", "H2" if provider == "P1"
                                                        else "H1"]))
    row: dict = {"holder": h, "date": draw(day_in(month))}
    shape = draw(st.integers(0 if clean else 1, 9 if READING_RULES_BUILT else 8))
    if shape < 5:
        row["hours"] = draw(st.sampled_from(["0", "1.33"]) if shape == 1 else visit_hours)
    elif shape < 9:
        row["start"], row["end"] = draw(_visit(clean))
        if not READING_RULES_BUILT and row["date"] == dt.date(2026, 3, 28):
            row["date"] = dt.date(2026, 3, 27)  # a night across the clock change
    else:  # the spring change: 22:00-06:30 is 7:30; 01:30 that night does not exist
        row["date"] = dt.date(2026, 3, draw(st.sampled_from([28, 29])))
        row["start"], row["end"] = draw(st.sampled_from([("22:00", "06:30"), ("01:30", "03:00")]))
    if draw(st.integers(0, 3)) == 0:
        row["reference"] = f"R{n}"
    if draw(st.booleans()):
        row["worker"] = draw(st.sampled_from(["W1", "W2"]))
    return row


class Story:
    """Builds one sequence of steps; ids are given as the steps are drawn, so a reversal
    names its target whatever the shuffling does afterwards."""

    def __init__(self, draw) -> None:
        self.draw, self.steps = draw, []
        self.ids = itertools.count()
        self.refs = itertools.count()

    def event(self, day: dt.date, etype: str, **fields) -> dict:
        step = {"kind": "event", "raw": {"date": day, "type": etype,
                                         "id": f"e{next(self.ids)}", **fields}}
        self.steps.append(step)
        return step

    def pair(self) -> tuple[str, str]:
        return self.draw(st.sampled_from(PAIRS))

    def timesheet(self, provider: str, month: dt.date, late: bool = False) -> None:
        clean = self.draw(st.integers(0, 3)) > 0
        rows = [self.draw(timesheet_row(provider, month, next(self.refs), clean))
                for _ in range(self.draw(st.integers(1, 4)))]
        if not READING_RULES_BUILT:  # identical rows without a reference: a reading rule
            rows = [r for n, r in enumerate(rows) if r.get("reference") or r not in rows[:n]]
        self.steps.append({"kind": "timesheet", "provider": provider, "rows": rows,
                           "uk": self.draw(st.booleans()), "late": late})

    def bank(self, month: dt.date) -> None:
        draw = self.draw
        lines = []
        clean = draw(st.booleans())
        for _ in range(draw(st.integers(1, 4))):
            shape = draw(st.integers(0, 3 if clean else 4))
            if shape < 2:
                line = {"out": True, "date": draw(day_in(month)),
                        "amount": -draw(st.integers(1, 30_000)),
                        "description": draw(st.sampled_from(DESCRIPTIONS[:2] if clean
                                                            else DESCRIPTIONS))}
            elif shape < 4:  # the n-th payment into the account, a few days off
                jitter = st.integers(-5, 5) if clean else st.integers(-7, 7)
                line = {"pick": draw(st.integers(0, 9)), "jitter": draw(jitter),
                        "description": "COUNCIL DP"}
            else:
                line = {"date": draw(day_in(month)), "amount": draw(st.integers(100, 9_000)),
                        "description": "REFUND"}
            if draw(st.integers(0, 4)) == 0:
                line["reference"] = f"B{next(self.refs)}"
            lines.append(line)
        self.steps.append({"kind": "bank", "holder": draw(st.sampled_from(
            sorted(HOLDERS) + ["H1", "HX"])), "lines": lines,
            "balance": draw(st.sampled_from([None, None, "right", "right"] if clean
                                            else [None, "right", "wrong"])),
            "thousands": draw(st.booleans())})

    def extra(self, i: int) -> None:
        """One of the events and files that make a month unusual."""
        draw, month = self.draw, MONTHS[i]
        h, p = self.pair()
        choice = draw(st.sampled_from([
            "vary", "late", "purchase", "reverse", "reverse", "anywhere", "reconcile",
            "advance", "close", "close_period", "bank", "bank", "again", "dp", "past",
            "past"]))
        if choice == "vary":
            terms = {"hours_per_month": st.sampled_from(["12", "8:30"]),
                     "rate": _pounds(1500, 2500),
                     "carry": st.fixed_dictionaries({"expire_after_months": st.integers(0, 2)},
                                                    optional={"max_hours": st.just("3")}),
                     "underspend": st.sampled_from(["return", "retain"])}
            first = draw(st.sampled_from(sorted(terms)))
            fields = draw(st.fixed_dictionaries({first: terms.pop(first)}, optional=terms))
            self.event(draw(day_in(month)), "isf_vary", holder=h, provider=p,
                       **{"from": _text(MONTHS[i + draw(st.integers(0, 2))])}, **fields)
        elif choice == "late":
            day = draw(day_in(MONTHS[i + 1]))
            self.event(day, "isf_delivery", holder=h, provider=p, hours=draw(clean_hours),
                       worked_on=day - dt.timedelta(days=draw(st.integers(0, 45))))
        elif choice == "past":  # support or a purchase for a month that may be reconciled
            before = MONTHS[max(i - 1, 0)]
            what = draw(st.sampled_from(["delivery", "purchase", "timesheet",
                                         *(["late"] if READING_RULES_BUILT else [])]))
            if what in ("timesheet", "late"):
                self.timesheet(p, before, late=what == "late")
            elif what == "delivery":
                self.event(draw(day_in(before)), "isf_delivery", holder=h, provider=p,
                           hours=draw(clean_hours))
            else:
                self.event(draw(day_in(before)), "isf_purchase", holder=h, provider=p,
                           payee="SHOP", amount=draw(_pounds(100, 5000)))
        elif choice == "purchase":
            self.event(draw(day_in(month)), "isf_purchase", holder=h, provider=p,
                       payee=draw(payee), amount=draw(money))
        elif choice == "reverse":
            targets = [s["raw"]["id"] for s in self.steps if s["kind"] == "event"] + [
                f"isf-month-end/{p}/{h}/{_text(MONTHS[k])}/{what}" for k in range(i + 1)
                for what in ("advance", "reconcile", "advance/2")]
            self.event(draw(day_in(month)), "reverse", event=draw(st.sampled_from(targets)),
                       reason="correction")
        elif choice == "anywhere":
            self.event(D0 + dt.timedelta(days=draw(st.integers(0, 150))), "isf_delivery",
                       holder=h, provider=p, hours=draw(hours))
        elif choice in ("reconcile", "advance"):
            self.steps.append({"kind": choice, "provider": draw(st.sampled_from(
                PROVIDERS + ["PX"])), "month": _text(draw(st.sampled_from(MONTHS[:i + 2])))})
        elif choice == "close":
            if draw(st.booleans()):
                self.event(draw(day_in(month)), "isf_close", holder=h, provider=p)
            else:  # a new agreement (refused while the ISF is open)
                self.event(draw(day_in(month)), "isf_open", holder=h, provider=p,
                           **draw(isf_terms()))
        elif choice == "close_period":
            day = draw(day_in(month))
            self.event(day, "close_period", until=day - dt.timedelta(draw(st.integers(0, 40))))
        elif choice == "bank":
            self.bank(month)
        elif choice == "again":
            earlier = [s for s in self.steps if s["kind"] == "timesheet"]
            if earlier:
                again = dict(draw(st.sampled_from(earlier)))
                if READING_RULES_BUILT and draw(st.booleans()):  # minutes changed since
                    rows = [dict(r) for r in again["rows"]]
                    rows[0].pop("start", None)
                    rows[0].pop("end", None)
                    rows[0]["hours"] = draw(clean_hours)
                    again["rows"] = rows
                self.steps.append(again)
        else:
            holder = draw(st.sampled_from(sorted(HOLDERS)))
            if draw(st.booleans()):
                self.event(draw(day_in(month)), "dp_payment", holder=holder,
                           amount=draw(_pounds(1000, 60_000)))
            else:
                self.event(draw(day_in(month)), "dp_spend", holder=holder,
                           payee=draw(payee), amount=draw(_pounds(100, 20_000)))


def _opens(terms: dict) -> dict:
    """Terms an ISF can open with (an inside fee below the month's budget)."""
    fee = terms.get("fee")
    if fee and fee["basis"] == "inside" and fee["value"] in ("100", "1000"):
        terms["fee"] = {**fee, "basis": "on_top"}
    return terms


@st.composite
def month_end_steps(draw, max_months: int = 4) -> list[dict]:
    story = Story(draw)
    for h in HOLDERS:
        story.event(D0, "dp_payment", holder=h, amount="2000.00")
    story.event(D0 + dt.timedelta(days=2), "contribution", holder="H1", amount="25.00")
    story.event(D0, "isf_open", holder="H1", provider="P1", **_opens(draw(isf_terms())))
    story.event(D0, "isf_open", holder="H2", provider="P2", **_opens(draw(isf_terms())))
    story.event(D0 + dt.timedelta(days=draw(st.integers(1, 40))), "isf_open", holder="H3",
                provider="P1", first_month=draw(st.sampled_from(["full", "pro_rata"])),
                **_opens(draw(isf_terms())))
    start = len(story.steps)
    held: list[dict] = []  # a month's reconciliation, kept until next month's support is in
    for i in range(draw(st.integers(1, max_months))):
        month, last = MONTHS[i], _last(MONTHS[i])
        if draw(st.integers(0, 3)) > 0:
            for p in PROVIDERS:
                story.steps.append({"kind": "advance", "provider": p, "month": _text(month)})
        else:
            for h, p in PAIRS:
                story.event(draw(day_in(month)), "isf_advance", holder=h, provider=p,
                            month=_text(month))
        for _ in range(draw(st.integers(0, 4))):
            if draw(st.booleans()):
                story.timesheet(draw(st.sampled_from(PROVIDERS)), month)
            else:
                h, p = story.pair()
                story.event(draw(day_in(month)), "isf_delivery", holder=h, provider=p,
                            hours=draw(hours))
        story.steps += held
        held = []
        for _ in range(draw(st.integers(0, 3))):
            story.extra(i)
        if draw(st.integers(0, 3)) == 0:  # next month's advance, dated in this month
            h, p = story.pair()
            story.event(last - dt.timedelta(days=draw(st.integers(0, 3))), "isf_advance",
                        holder=h, provider=p, month=_text(MONTHS[i + 1]))
        mark = len(story.steps)
        if draw(st.integers(0, 3)) > 0:
            for p in PROVIDERS:
                story.steps.append({"kind": "reconcile", "provider": p, "month": _text(month)})
        else:
            for h, p in PAIRS:
                story.event(last, "isf_reconcile", holder=h, provider=p, month=_text(month))
        if draw(st.integers(0, 2)) == 0:
            held, story.steps = story.steps[mark:], story.steps[:mark]
    story.steps += held
    steps = story.steps
    for _ in range(draw(st.integers(0, 4))):  # recorded out of order
        n = draw(st.integers(start, max(start, len(steps) - 2)))
        steps[n:n + 2] = steps[n:n + 2][::-1]
    return steps + [{"kind": "balances", "as_of": draw(day_in(draw(st.sampled_from(
        MONTHS[:4]))))}]
