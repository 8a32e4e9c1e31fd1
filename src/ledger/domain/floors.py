"""Which accounts have a floor from the moment they exist (docs/rules-trust.md#floors).

A direct payment account is a real bank account or card, a pool share and the pool's
common money are money the members hold, and a fund and each of its awards hold only what
was put in: none of them can go below zero, in pounds. Every other account has no floor
of its own until an event gives it one (an ISF's bank of hours may borrow down to minus
what its agreement allows: the ISF handler sets that floor), and some never have one (a
council's funding runs negative by design; an ISF's money may overspend).

This module is the rule; the core only applies floors it is given (ledger.core.change).
"""

from __future__ import annotations

from ledger.core.amounts import Unit
from ledger.core.change import use_floor_rule


def default_floor(account: str, unit: Unit) -> int | None:
    """The floor `account` has in `unit` before any event sets one, or None for none."""
    if unit is not Unit.GBP:
        return None
    parts = account.split(":")
    if parts[0] == "holder" and len(parts) == 3 and parts[2] == "dp":
        return 0
    if parts[0] in ("pool", "fund"):
        return 0
    return None


use_floor_rule(default_floor)  # the store applies it to each new account
