"""The error codes (docs/scenarios.md) and the one exception that carries them."""

from __future__ import annotations

CODES = frozenset(
    {
        "invalid",
        "unknown_party",
        "insufficient_funds",
        "over_cap",
        "period_closed",
        "duplicate_conflict",
        "unbalanced",
    }
)


class LedgerError(Exception):
    """An operating error a user can act on: a contract code plus one clear sentence."""

    def __init__(self, code: str, message: str) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class UsageError(Exception):
    """Unusable input or arguments (exit status 2): a file that cannot be read, a bad URL."""


class ExpectationFailed(Exception):
    """An `expect` event found a different balance: the run stops (exit 1)."""
