"""The one way events reach the books (docs/architecture.md#submit): a batch of events from
any source (a scenario file, timesheet rows, bank lines, a month-end plan, a web action),
each an `Item` that remembers where it came from.

`submit` takes the ledger's write lock before it reads anything, so every check, every
plan and every write of the batch sees the ledger as no other writer can change it until
the batch is committed or rolled back. On PostgreSQL a second writer waits for the first
(its row lock on the ledger), on SQLite the transaction begins with the write lock.

Two ways to apply a batch:
- all or nothing (`atomic=True`): every event is tried, every refusal is listed, and any
  refusal rolls the whole batch back (timesheets, bank statements, month ends);
- per event (`atomic=False`): it stops at the first refusal nobody expected and what came
  before it stays (scenario files; with `commit_every`, one durable transaction per that
  many events).
A dry run checks everything exactly as a real run would and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from ledger.app.events import EventFailed, apply_event, key_problem
from ledger.core.change import Backend
from ledger.core.items import Declare, Item
from ledger.errors import LedgerError
from ledger.store.repo import BatchRefused

BATCH_EVENTS = 2000  # events read, checked for keys at once and (per event) committed

# Called after each event applied (or skipped as already recorded, or refused as its
# file expected) with the item and 'applied', 'skipped' or 'rejected'.
Progress = Callable[[Item, str], None]


@dataclass(frozen=True)
class Refusal:
    """An event (or a file's parties) the ledger refused, and why (`code: reason`). A
    source may hand one in among its items for a problem it found itself (a row it could
    not read, an unknown holder): it counts as any other refusal, in its place."""

    item: Item | Declare
    reason: str

    def where(self) -> str:
        return self.item.where() if isinstance(self.item, Item) else self.item.source or ""


# What `submit` is handed: the items, or a plan that makes them from what the ledger holds,
# called once the lock is held (so the plan reads what the writes will see).
Stream = Iterable[Item | Declare | Refusal]
S = TypeVar("S", bound=Backend)


@dataclass
class Outcome:
    applied: int = 0
    skipped: int = 0  # already recorded with the same payload
    rejected_as_expected: int = 0  # refused with the code its `expect_error` named
    journals: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    written: bool = False  # committed (never on a dry run, nor after an atomic refusal)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def _count(self, status: str, journals: int, sign: int) -> None:
        self.journals += sign * journals
        if status == "applied":
            self.applied += sign
        elif status == "skipped":
            self.skipped += sign
        else:
            self.rejected_as_expected += sign


def submit(store: S, items: Stream | Callable[[S], Stream], *, atomic: bool = True,
           dry_run: bool = False, progress: Progress | None = None,
           commit_every: int | None = None,
           check: Callable[[S], list[Refusal]] | None = None) -> Outcome:
    """Lock, apply every item, then commit or roll back, and say what happened.

    `check` (all or nothing) runs after the last event, on the ledger as the batch leaves
    it, and may add refusals (a bank statement's balances, say). Anything raised (a
    UsageError from a plan) rolls everything back and is raised again."""
    outcome = Outcome()
    try:
        store.lock_for_write()
        stream = items(store) if callable(items) else items
        apply_all(store, stream, outcome=outcome, stop_at_refusal=not atomic,
                  progress=progress, commit_every=None if atomic or dry_run else commit_every)
        if check is not None and outcome.ok:
            outcome.refusals += check(store)
        if dry_run or (atomic and not outcome.ok):
            rollback(store)
        else:
            store.commit()
            outcome.written = True
    except BaseException:
        rollback(store)
        raise
    return outcome


def apply_all(store: Backend, items: Stream, *,
              outcome: Outcome | None = None, stop_at_refusal: bool = True,
              progress: Progress | None = None, commit_every: int | None = None) -> Outcome:
    """Apply the items in order inside the caller's transaction (the caller commits or
    rolls back; with `commit_every`, this commits after every that many events). The lock
    is taken before each batch of items is read from the ledger."""
    outcome = outcome if outcome is not None else Outcome()
    window: list[tuple[Item, str, int]] = []  # applied since the last commit
    stream = iter(items)
    done = 0
    try:
        while batch := list(islice(stream, commit_every or BATCH_EVENTS)):
            store.lock_for_write()
            store.prefetch_events([i.key for i in batch
                                   if isinstance(i, Item) and not key_problem(i.key)])
            for item in batch:
                refusal = _one(store, item, outcome, window, progress)
                if refusal is not None:
                    if stop_at_refusal:
                        store.flush()  # what came before it stays
                        outcome.refusals.append(refusal)
                        return outcome
                    outcome.refusals.append(refusal)
                    continue
                done += isinstance(item, Item)
                if commit_every and isinstance(item, Item) and done % commit_every == 0:
                    store.commit()
                    window.clear()
        store.flush()
    except BatchRefused as refused:
        # The database refused an event Python had accepted: those before it are written,
        # it and those after it are not (docs/architecture.md#batches).
        first = next((n for n, (item, _, _) in enumerate(window)
                      if item.key == refused.event_key), None)
        if first is None:
            raise
        for _, status, journals in window[first:]:
            outcome._count(status, journals, -1)
        outcome.refusals.append(Refusal(window[first][0], str(refused.error)))
    return outcome


def _one(store: Backend, item: Item | Declare | Refusal, outcome: Outcome,
         window: list[tuple[Item, str, int]], progress: Progress | None) -> Refusal | None:
    if isinstance(item, Refusal):
        return item
    if isinstance(item, Declare):
        try:
            # A party declared again with a different record is refused before any event
            # of its file (docs/rules-trust.md#parties).
            store.add_parties(item.parties)
        except LedgerError as err:
            return Refusal(item, f"parties: {err}")
        return None
    try:
        status, journals = apply_event(store, item.event, item.key, item.index, item.source)
    except EventFailed as err:
        return Refusal(item, str(err))
    outcome._count(status, journals, +1)
    window.append((item, status, journals))
    if progress is not None:
        progress(item, status)
    return None


def rollback(store: Backend) -> None:
    """Undo the transaction: what was written and what the store kept or read."""
    undo = getattr(store, "rollback", None)
    if undo is None:
        raise TypeError(f"{type(store).__name__} cannot roll back: an all-or-nothing or dry "
                        "run needs a database store")
    undo()


__all__ = ["BATCH_EVENTS", "Declare", "Item", "Outcome", "Refusal", "apply_all", "rollback",
           "submit"]
