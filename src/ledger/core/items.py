"""What every source of events hands the application layer (`ledger.app.submit`): each
event as written, its idempotency key, and where it came from, so a refusal can say
`FILE:LINE: reason` whatever the source (a scenario file, a timesheet row, a bank line, a
month-end plan). Neutral ground: the readers of files build these without importing the
layer that applies them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """One event to apply: the raw event (a dict, as a file gives it), its key, and its
    place: `source` (a file), `line` (1 is a CSV's header) and, for a scenario file,
    `index` (its place among the file's events, from 0)."""

    event: dict
    key: str
    source: str | None = None
    line: int | None = None
    index: int | None = None

    def where(self) -> str:
        """`FILE:LINE`, as much of it as is known ("" when nothing is)."""
        if self.line is None:
            return self.source or ""
        return f"{self.source}:{self.line}" if self.source else f"line {self.line}"


@dataclass(frozen=True)
class Declare:
    """A scenario file's parties, declared before its events (one write, in the chain)."""

    parties: list[dict] = field(default_factory=list)
    source: str | None = None


__all__ = ["Declare", "Item"]
