"""Instrument rules. Importing this package registers every event handler."""

from ledger.domain import (  # noqa: F401
    budgets,
    bursaries,
    contracts,
    dp,
    isf,
    isf_reconcile,
    isf_reversals,
    isf_vary,
    ledger_events,
    parties,
    pool_reversals,
    pools,
)
