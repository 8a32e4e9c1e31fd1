"""Instrument rules. Each instrument's module registers its event handlers as it is
imported; `load()` imports them all. The registries (ledger.domain.base: HANDLERS,
REVERSE_HOOKS) call it the first time anything reads them, so whoever looks up a handler
finds every one, and a command that only reads (a statement, a balance) never imports
the rules, nor builds their validators (docs/architecture.md#start-up)."""

from importlib import import_module

from ledger.domain import floors  # noqa: F401 - the floor rule every writer applies

INSTRUMENTS = ("budgets", "bursaries", "contracts", "dp", "isf", "isf_reconcile",
               "isf_reversals", "isf_vary", "ledger_events", "parties", "pool_reversals",
               "pools")


def load() -> None:
    """Import every instrument's module (each registers its handlers)."""
    for name in INSTRUMENTS:
        import_module(f"ledger.domain.{name}")
