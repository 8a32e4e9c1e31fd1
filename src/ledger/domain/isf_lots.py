"""An ISF's bank of hours as dated lots, worked out by pure functions (docs/rules-dp-isf.md
#hour-lots).

A lot is `{"month": "YYYY-MM", "minutes": n}`; a bank is its lots, oldest month first,
and the minutes borrowed beyond them. Deliveries take from the oldest lot first, a
negative bank is repaid first from the next advance's lot, and a month's reconciliation
expires lots by age and over the carry-over cap.

Under the rules of 2026-12-06 (docs/rules-trust.md#rules-versions) the bank is worked out
from the ISF's lot entries in date order (ties in the order recorded), whatever order they
were recorded in. The ISF state keeps:
- `carried`: the bank as it stood at the end of the last reconciled month (or, for an ISF
  whose state was made under earlier rules, the bank it had then): nothing can be
  recorded before it any more;
- `entries`: each later advance and delivery, as {date, seq, kind, key, minutes, month},
  and each later reversal of one (kind `undo`, dated on or after what it undoes);
- `lots` and `borrowed_minutes`: the bank after every entry, for readers.
"""

from __future__ import annotations

from ledger.core import calendar
from ledger.domain.base import month_index

# ---------------------------------------------------------------- a bank's moves


def take_oldest_first(lots: list[dict], minutes: int) -> tuple[list[dict], int]:
    """Consume up to `minutes` from the oldest lots; returns what each lot gave and the
    shortfall. Emptied lots are dropped."""
    taken = []
    for lot in lots:
        if minutes == 0:
            break
        used = min(lot["minutes"], minutes)
        if used:
            taken.append({"month": lot["month"], "minutes": used})
            lot["minutes"] -= used
            minutes -= used
    lots[:] = [lot for lot in lots if lot["minutes"] > 0]
    return taken, minutes


def restore_lot(lots: list[dict], month: str, minutes: int) -> None:
    """Give minutes back to the lot dated `month`, recreating it in month order."""
    for lot in lots:
        if lot["month"] == month:
            lot["minutes"] += minutes
            return
    lots.append({"month": month, "minutes": minutes})
    lots.sort(key=lambda lot: month_index(lot["month"]))


def settle_borrowing(bank: dict) -> int:
    """A negative bank is repaid first from whatever lots there are; returns minutes repaid."""
    if bank["borrowed_minutes"] == 0:
        return 0
    _, short = take_oldest_first(bank["lots"], bank["borrowed_minutes"])
    repaid = bank["borrowed_minutes"] - short
    bank["borrowed_minutes"] = short
    return repaid


def bank_minutes(bank: dict) -> int:
    return sum(lot["minutes"] for lot in bank["lots"]) - bank["borrowed_minutes"]


def expire_lots(bank: dict, month: str, expire_after_months: int,
                max_minutes: int | None) -> list[dict]:
    """Month `month`'s reconciliation on `bank` (changed in place): (1) lots old enough
    expire; (2) if the hours left in lots of this month and earlier (less any borrowed)
    exceed the cap, the excess expires, oldest lots first. A later month's lot is never
    touched (docs/rules-dp-isf.md#carry-over-cap). Returns the expired lots, each with its
    reason; never more than the lots hold."""
    expired = []
    kept = []
    for lot in bank["lots"]:
        if month_index(lot["month"]) + expire_after_months <= month_index(month):
            expired.append({"month": lot["month"], "minutes": lot["minutes"], "reason": "age"})
        else:
            kept.append(lot)
    bank["lots"] = kept
    counted = [lot for lot in kept if month_index(lot["month"]) <= month_index(month)]
    excess = (sum(lot["minutes"] for lot in counted) - bank["borrowed_minutes"] - max_minutes
              if max_minutes is not None else 0)
    if excess > 0:
        taken, short = take_oldest_first(counted, excess)  # the same lot objects as `kept`
        assert short == 0
        expired += [{**lot, "reason": "cap"} for lot in taken]
        bank["lots"] = [lot for lot in kept if lot["minutes"] > 0]
    return expired


# ---------------------------------------------------------------- lots in date order


def _order(entry: dict) -> tuple[str, int]:
    return entry["date"], entry["seq"]


def copy_bank(bank: dict) -> dict:
    return {"lots": [dict(lot) for lot in bank["lots"]],
            "borrowed_minutes": bank["borrowed_minutes"]}


def give_back_delivery(bank: dict, taken: list[dict], borrowed: int, newest: str) -> None:
    """Undo a delivery: its minutes go back to the lots they came from; minutes it
    borrowed are un-borrowed, or, if an advance has repaid them since, go back to the
    newest lot (`newest`, the repayer)."""
    for lot in taken:
        restore_lot(bank["lots"], lot["month"], lot["minutes"])
    unborrowed = min(borrowed, bank["borrowed_minutes"])
    bank["borrowed_minutes"] -= unborrowed
    if borrowed > unborrowed:
        restore_lot(bank["lots"], newest, borrowed - unborrowed)
    settle_borrowing(bank)


def take_back_advance(bank: dict, month: str, minutes: int, whole_lot: bool = False
                      ) -> None:
    """Undo an advance of `minutes`: they leave its month's lot; what the lot had already
    given (deliveries, repaying a borrow) is taken back from the other lots oldest first,
    else borrowed. The month's lot may hold another advance of the same month (made
    again after a reversal): only this one's minutes go. `whole_lot`: the rules before
    2026-12-06, when the month's whole lot went."""
    lot = next((lot for lot in bank["lots"] if lot["month"] == month), None)
    remaining = 0 if lot is None else lot["minutes"] if whole_lot else min(
        lot["minutes"], minutes)
    if lot is not None:
        lot["minutes"] -= remaining
        if whole_lot or lot["minutes"] == 0:
            bank["lots"] = [other for other in bank["lots"] if other is not lot]
    _, short = take_oldest_first(bank["lots"], minutes - remaining)
    bank["borrowed_minutes"] += short


def give_back_expiry(bank: dict, expired: list[dict]) -> None:
    """Undo an expiry: the hours go back to their lots."""
    for lot in expired:
        restore_lot(bank["lots"], lot["month"], lot["minutes"])
    settle_borrowing(bank)


def run_entries(carried: dict, entries: list[dict]) -> tuple[dict, dict[str, dict]]:
    """The bank after `entries`, applied in date order (ties in recorded order) to the
    bank `carried`, and what each advance and delivery did, by its key: an advance
    {"repaid": minutes of borrowing it repaid}; a delivery {"lots": what each lot gave,
    "borrowed": minutes}. An `undo` entry (a reversal) undoes the entry `of` as it ran,
    or, when that entry is carried already, as its stored `lots` and `borrowed` say."""
    bank = copy_bank(carried)
    done: dict[str, dict] = {}
    newest = max((lot["month"] for lot in bank["lots"]), key=month_index, default=None)
    for entry in sorted(entries, key=_order):
        kind = entry["kind"]
        if kind == "advance":
            restore_lot(bank["lots"], entry["month"], entry["minutes"])
            done[entry["key"]] = {"repaid": settle_borrowing(bank)}
            if newest is None or month_index(entry["month"]) > month_index(newest):
                newest = entry["month"]
        elif kind == "delivery":
            taken, short = take_oldest_first(bank["lots"], entry["minutes"])
            bank["borrowed_minutes"] += short
            done[entry["key"]] = {"lots": taken, "borrowed": short}
        elif entry["undoes"] == "advance":
            take_back_advance(bank, entry["month"], entry["minutes"])
        elif entry["undoes"] == "expiry":
            give_back_expiry(bank, entry["lots"])
        else:
            ran = done.get(entry["of"], entry)
            give_back_delivery(bank, ran["lots"], ran["borrowed"],
                               newest or entry["date"][:7])
    return bank, done


def has_log(state: dict) -> bool:
    return "entries" in state


def start_log(state: dict) -> None:
    """Give a state the lot log (a new ISF, or one whose state was made under the rules
    before 2026-12-06: its bank as it stands is carried, and everything later is dated)."""
    if has_log(state):
        return
    state["carried"] = copy_bank(state)
    state["entries"] = []
    state["entry_seq"] = 0
    state.setdefault("advance_reversals", {})


def settle(state: dict) -> dict[str, dict]:
    """Work the bank out again from `carried` and `entries` into `lots` and
    `borrowed_minutes`; returns what each entry did (see `run_entries`)."""
    bank, done = run_entries(state["carried"], state["entries"])
    state["lots"], state["borrowed_minutes"] = bank["lots"], bank["borrowed_minutes"]
    return done


def add_entry(state: dict, date_iso: str, kind: str, key: str, **fields) -> dict:
    """Record an entry dated `date_iso` and work the bank out again; returns what it did
    (see `run_entries`; nothing for an `undo`)."""
    state["entry_seq"] += 1
    state["entries"].append({"date": date_iso, "seq": state["entry_seq"], "kind": kind,
                             "key": key, **fields})
    return settle(state).get(key, {})


def dated_entry(state: dict, key: str) -> dict | None:
    """The entry an advance or a delivery made, while it is still dated (not carried)."""
    return next((e for e in state["entries"] if e["key"] == key and e["kind"] != "undo"),
                None)


def bank_at(state: dict, last_day_iso: str) -> tuple[dict, dict[str, dict]]:
    """The bank at the end of `last_day_iso` (the carried bank and every entry dated on
    or before it), and what each of those entries did."""
    return run_entries(state["carried"],
                       [e for e in state["entries"] if e["date"] <= last_day_iso])


def carry_forward(state: dict, last_day_iso: str, bank: dict, done: dict[str, dict]) -> None:
    """A month is reconciled: `bank`, its bank at its last day after the expiry, is
    carried, and only the entries dated later stay dated (nothing can now be recorded in
    the month). A later reversal of a delivery now carried keeps what that delivery did."""
    later = []
    for entry in state["entries"]:
        if entry["date"] <= last_day_iso:
            continue
        if entry["kind"] == "undo" and entry.get("of") in done:
            entry = {**entry, **done[entry["of"]]}
        later.append(entry)
    state["carried"] = bank
    state["entries"] = later
    settle(state)


def pending_expiry(state: dict, before_iso: str, carry_terms) -> int:
    """The hours the reconciliations still to come of months ending before `before_iso`
    (advanced, not yet reconciled, in order) would expire, were they made now
    (`carry_terms(month)` gives (expire_after_months, max_minutes)). Support dated after
    such a month may use only what its reconciliation will leave, so the answer is the
    same whether it is recorded before or after that reconciliation
    (docs/rules-dp-isf.md#hour-lots)."""
    last = state["last_reconciled"]
    months = sorted((m for m in state["advanced"]
                     if (last is None or month_index(m) > month_index(last))
                     and calendar.last_day(m).isoformat() < before_iso), key=month_index)
    if not months:
        return 0
    sim = {"carried": copy_bank(state["carried"]), "entries": list(state["entries"])}
    total = 0
    for month in months:
        end = calendar.last_day(month).isoformat()
        bank, done = bank_at(sim, end)
        expired = expire_lots(bank, month, *carry_terms(month))
        total += sum(lot["minutes"] for lot in expired)
        carry_forward(sim, end, bank, done)
    return total


__all__ = ["add_entry", "bank_at", "bank_minutes", "carry_forward", "copy_bank",
           "dated_entry", "expire_lots", "give_back_delivery", "give_back_expiry",
           "has_log", "pending_expiry", "restore_lot", "run_entries", "settle", "settle_borrowing",
           "start_log", "take_back_advance", "take_oldest_first"]
