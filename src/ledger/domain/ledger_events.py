"""Events that belong to the ledger itself, not to one instrument: `expect`,
`close_period` and `reverse` (docs/scenarios.md, "Ledger housekeeping")."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ledger.core.amounts import Unit, format_amount, parse_amount
from ledger.core.journal import check_account, reversal_of
from ledger.domain.base import REVERSE_HOOKS, Ctx, Event, handles
from ledger.errors import ExpectationFailed, LedgerError


class Expect(Event):
    type: Literal["expect"]
    balances: dict[str, dict[Unit, str | int | float | object]]


@handles(Expect)
def expect(ctx: Ctx, event: Expect) -> None:
    """Balances as of the event's date; any mismatch stops the run."""
    for account, units in event.balances.items():
        check_account(account)
        for unit, text in units.items():
            wanted = parse_amount(text, unit, f"expect {account} {unit}")
            actual = ctx.backend.balance_as_of(account, unit, event.date)
            actual += sum(
                p.amount_minor
                for j in ctx.change.journals
                if j.date <= event.date
                for p in j.postings
                if p.account == account and p.unit == unit
            )
            if actual != wanted:
                raise ExpectationFailed(
                    f"expect failed: {account} {unit} expected {format_amount(wanted, unit)}"
                    f" but is {format_amount(actual, unit)} on {event.date}",
                )


class ClosePeriod(Event):
    type: Literal["close_period"]
    until: dt.date


@handles(ClosePeriod)
def close_period(ctx: Ctx, event: ClosePeriod) -> None:
    """Lock every date on or before `until`. A lock never moves backwards: reopening a
    closed period is not something a scenario can do. A period can only be closed once it
    has happened (docs/rules-trust.md#closed-periods)."""
    if event.until > event.date:
        raise LedgerError("invalid", f"until {event.until} is after the event's date "
                          f"{event.date}: a period can only be closed once it has happened")
    ctx.change.lock_until = event.until


class Reverse(Event):
    type: Literal["reverse"]
    event: str
    reason: str


@handles(Reverse)
def reverse(ctx: Ctx, event: Reverse) -> None:
    if ctx.backend.event_hash(event.event) is None:
        raise LedgerError("invalid", f"there is no event {event.event!r} to reverse")
    originals = ctx.backend.journals_for_event(event.event)
    if not originals:
        raise LedgerError("invalid", f"event {event.event!r} posted nothing to reverse")
    for n, original in enumerate(originals):
        if original.type == "reversal":
            raise LedgerError("invalid", f"event {event.event!r} is itself a reversal; "
                                         "post the original again under a new id instead")
        if ctx.backend.is_reversed(original.key):
            raise LedgerError("invalid", f"event {event.event!r} is already reversed")
        journal = reversal_of(original, f"{ctx.event_key}/{n}" if n else ctx.event_key,
                              ctx.date, ctx.event_key, event.reason)
        ctx.post(journal.type, list(journal.postings), key=journal.key, holder=journal.holder,
                 memo=journal.memo, reverses_key=original.key)
        hook = REVERSE_HOOKS.get(original.type)
        if hook is not None:
            hook(ctx, original)
