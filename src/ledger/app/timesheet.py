"""`ledger isf import-timesheet` (docs/month-end.md#timesheets): a provider's timesheet,
read into `isf_delivery` items (ledger.imports.timesheet), submitted all or nothing.

Whether a delivery may be posted on its date (the ISF open then, the month not closed to
it, the bank within its borrowing) is the `isf_delivery` rule's to say, the same for a
timesheet row as for any other source: a refusal is reported as `FILE:LINE: code: reason`
and nothing is posted. Here only what a file alone can get wrong is added: a holder the
ledger has never heard of, or one with no ISF with the provider at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ledger.app import db
from ledger.app.submit import Outcome, Refusal, submit
from ledger.core.change import Backend
from ledger.core.items import Item
from ledger.errors import UsageError
from ledger.imports.timesheet import Row, read_rules, read_timesheet


@dataclass
class Imported:
    """What an import did, or would do on a dry run."""

    file: Path
    outcome: Outcome
    posted: list[Item] = field(default_factory=list)  # posted, or that would be
    dry_run: bool = False

    @property
    def problems(self) -> list[tuple[int, str]]:
        """Every problem as (line, reason), in line order."""
        return sorted((r.item.line or 0, r.reason) for r in self.outcome.refusals
                      if isinstance(r.item, Item))


def problem(file: Path, line: int, why: str) -> Refusal:
    """A row the file itself got wrong, as a refusal in its place."""
    return Refusal(Item({}, "", str(file), line), why)


def import_timesheet(db_url: str | None, ledger: str, file: Path, provider: str,
                     rules_file: Path | None = None, dry_run: bool = False) -> Imported:
    """Read the file (a problem that stops the reading: UsageError, exit 2), then check
    and post every row in one transaction, or none."""
    rules = read_rules(rules_file) if rules_file is not None else None
    rows, problems = read_timesheet(file, provider, rules)
    with db.writing(db_url, ledger) as store:
        return post_rows(store, file, provider, rows, problems, dry_run)


def post_rows(store: Backend, file: Path, provider: str, rows: list[Row],
              problems: list[tuple[int, str]], dry_run: bool = False) -> Imported:
    """Submit the rows, with the problems the reading found, all or nothing."""
    posted: list[Item] = []

    def plan(locked: Backend) -> Iterator[Item | Refusal]:
        if locked.party("provider", provider) is None:
            raise UsageError(f"provider {provider!r} is not in ledger "
                             f"{getattr(locked, 'ledger', 'main')!r}")
        for line, why in problems:
            yield problem(file, line, why)
        for row in rows:
            holder = row.event["holder"]
            if locked.party("holder", holder) is None:
                yield problem(file, row.line, f"unknown holder {holder!r}")
            elif locked.get_state("isf", f"{holder}:{provider}") is None:
                yield problem(file, row.line, f"{holder} has no open ISF with {provider} "
                                              f"on {row.event['date']}")
            else:
                yield Item(row.event, row.key, str(file), row.line)

    def kept(item: Item, status: str) -> None:
        if status == "applied":
            posted.append(item)

    outcome = submit(store, plan, atomic=True, dry_run=dry_run, progress=kept)
    return Imported(file, outcome, posted, dry_run)


__all__ = ["Imported", "import_timesheet", "post_rows", "problem"]
