"""`isf_vary`: an ISF's new terms from a month on (docs/rules-dp-isf.md#isf-vary). Posts
nothing; the bank, its lots and the money are kept."""

from __future__ import annotations

from typing import Any

from ledger.core.amounts import Unit, round_half_away
from ledger.domain.base import Ctx, handles, month_index
from ledger.domain.isf import IsfVary, isf_account, open_isf, save
from ledger.domain.isf_terms import fee_pence, money_for_month_exact, terms_for
from ledger.errors import LedgerError


@handles(IsfVary)
def isf_vary(ctx: Ctx, event: IsfVary) -> None:
    """New terms from month `from` on; the bank, its lots and the money are kept
    (docs/rules-dp-isf.md#isf-vary)."""
    state = open_isf(ctx, event)
    start = event.from_
    given = {name for name in ("hours_per_month", "rate", "carry", "fee", "underspend")
             if getattr(event, name) is not None}
    if not given:
        raise LedgerError("invalid", "isf_vary needs at least one of hours_per_month, rate, "
                          "carry, fee, underspend")
    advanced = sorted((m for m in state["advanced"] if month_index(m) >= month_index(start)),
                      key=month_index)
    if advanced:
        raise LedgerError("invalid", f"{advanced[0]} is already advanced to this ISF: new "
                          f"terms may start only from a month not yet advanced")
    first_day = f"{start}-01"
    if (state.get("last_delivery") or "") >= first_day:
        raise LedgerError("invalid", f"support dated {state['last_delivery']} is already "
                          f"valued at the old rate: new terms may start only after it")
    terms: dict[str, Any] = {}
    if event.hours_per_month is not None:
        terms["hours_per_month_minutes"] = event.hours_per_month
    if event.rate is not None:
        terms["rate_pence_per_hour"] = event.rate
    if event.carry is not None:
        terms.update(expire_after_months=event.carry.expire_after_months,
                     max_minutes=event.carry.max_hours,
                     max_borrow_minutes=event.carry.max_borrow_hours)
    if event.fee is not None:
        terms["fee"] = event.fee.model_dump()
    if event.underspend is not None:
        terms["underspend"] = event.underspend
    # In month order; two from the same month apply in the order they were made.
    state["variations"] = sorted(
        [*state.get("variations", []), {"from": start, "date": event.date.isoformat(),
                                        "event": ctx.event_key, "terms": terms}],
        key=lambda v: month_index(v["from"]))
    new = terms_for(state, start)
    if new["fee"] and new["fee"]["basis"] == "inside":
        if 0 < fee_pence(new) >= round_half_away(money_for_month_exact(new)):
            raise LedgerError("invalid", "an inside fee must be less than the month's budget")
    save(ctx, state)
    # The floor allows the most borrowing any month's terms allow; each delivery is held
    # to its own month's limit above.
    most = max(terms_for(state, m)["max_borrow_minutes"]
               for m in [start, *(v["from"] for v in state["variations"])])
    most = max(most, state["max_borrow_minutes"])
    ctx.set_floor(isf_account(state), Unit.HRS, -most)
