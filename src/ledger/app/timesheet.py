"""`ledger isf import-timesheet` (docs/month-end.md#timesheets): a provider's timesheet,
read into `isf_delivery` items (ledger.imports.timesheet), submitted all or nothing.

Whether a delivery may be posted on its date (the ISF open then, the month not closed to
it, the bank within its borrowing) is the `isf_delivery` rule's to say, the same for a
timesheet row as for any other source: a refusal is reported as `FILE:LINE: code: reason`
and nothing is posted. Here, under the ledger's lock, only what needs the file and the
ledger together (docs/month-end.md#keys, #late-rows):
- a holder the ledger has never heard of, or one with no ISF with the provider at all;
- what is recorded under the row's keys (its key, its later versions `~2`, `~3`, ..., and
  the key an earlier release gave it): the same visit is skipped, a changed one refused
  (`changed since it was imported (was 2:00, now 2:30)`) or, with `replace_changed`,
  reversed and recorded again under the next version;
- identical rows of one file, refused unless `allow_identical`;
- a new row in a month already reconciled for its ISF: with `late_to_open_month`, an
  `isf_delivery` in the open month with `worked_on` the row's date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ledger.app import db
from ledger.app.submit import Outcome, Refusal, submit
from ledger.core.amounts import parse_minutes
from ledger.core.calendar import first_day, month_of, next_month
from ledger.core.items import Item
from ledger.domain.isf_terms import reconciled_month
from ledger.errors import LedgerError, UsageError
from ledger.imports.timesheet import Reading, Row, read_rules, read_timesheet
from ledger.store.repo import DbStore

MAX_VERSIONS = 1000  # `~N` versions of one visit looked for, at most


@dataclass
class Imported:
    """What an import did, or would do on a dry run."""

    file: Path
    outcome: Outcome
    posted: list[Item] = field(default_factory=list)  # posted, or that would be
    dry_run: bool = False
    recorded: int = 0  # rows recognised as already recorded (whatever their key)
    left_out: int = 0  # rows left out by the rules file's `skip` lines
    replaced: int = 0  # changed rows whose recorded version was reversed
    late: Counter = field(default_factory=Counter)  # month -> late rows recorded in it
    pending: list = field(default_factory=list)  # bank lines not yet final (bank.Line)

    @property
    def problems(self) -> list[tuple[int, str]]:
        """Every problem as (line, reason), in line order."""
        return sorted((r.item.line or 0, r.reason) for r in self.outcome.refusals
                      if isinstance(r.item, Item))

    @property
    def already(self) -> int:
        """Rows or lines already recorded: recognised here, or skipped by `submit`."""
        return self.recorded + self.outcome.skipped

    def count(self, event_type: str) -> int:
        return sum(item.event.get("type") == event_type for item in self.posted)


def problem(file: Path, line: int, why: str) -> Refusal:
    """A row the file itself got wrong, as a refusal in its place."""
    return Refusal(Item({}, "", str(file), line), why)


@dataclass(frozen=True)
class Options:
    """What the person allowed (the command's flags)."""

    replace_changed: bool = False
    allow_identical: bool = False
    late_to_open_month: bool = False


def import_timesheet(db_url: str | None, ledger: str, file: Path, provider: str,
                     rules_file: Path | None = None, dry_run: bool = False,
                     month: str | None = None, options: Options = Options()) -> Imported:
    """Read the file (a problem that stops the reading: UsageError, exit 2), then check
    and post every row in one transaction, or none."""
    rules = read_rules(rules_file) if rules_file is not None else None
    reading = read_timesheet(file, provider, rules, month)
    with db.writing(db_url, ledger) as store:
        return post_rows(store, file, provider, reading, dry_run, options)


# ------------------------------------------------------------------ what is recorded

@dataclass
class Recorded:
    """What a row's keys hold: the versions recorded, oldest first, as (key, payload)."""

    versions: list[tuple[str, dict]]
    next_key: str  # where a replacement goes

    @property
    def latest(self) -> tuple[str, dict]:
        return self.versions[-1]


def version_key(key: str, n: int) -> str:
    return key if n == 1 else f"{key}~{n}"


def recorded_rows(store: DbStore, rows: list[Row]) -> dict[int, Recorded]:
    """Row line -> what is recorded under its legacy key, its key and its later versions
    (one query per chunk of keys and per version found)."""
    found = store.recorded_payloads([k for r in rows for k in (r.key, r.legacy_key) if k])
    versions = {r.line: 1 for r in rows if r.key in found}
    n = 1
    while versions and n < MAX_VERSIONS:
        n += 1
        wanted = {r.line: version_key(r.key, n) for r in rows if versions.get(r.line) == n - 1}
        if not wanted:
            break
        more = store.recorded_payloads(list(wanted.values()))
        found.update(more)
        versions.update({line: n for line, key in wanted.items() if key in more})
    out: dict[int, Recorded] = {}
    for row in rows:
        chain = [(row.legacy_key, found[row.legacy_key])] if row.legacy_key in found else []
        top = versions.get(row.line, 0)
        chain += [(version_key(row.key, v), found[version_key(row.key, v)])
                  for v in range(1, top + 1)]
        if chain:
            out[row.line] = Recorded(chain, version_key(row.key, top + 1))
    return out


def _content(event: dict) -> dict:
    """What a delivery says, whatever date it was recorded on (docs/month-end.md#keys)."""
    try:
        minutes: int | None = parse_minutes(str(event.get("hours", "")))
    except LedgerError:
        minutes = None
    return {"holder": event.get("holder"), "day": event.get("worked_on") or event.get("date"),
            "minutes": minutes, "worker": event.get("worker"),
            "reference": event.get("reference"), "notes": event.get("notes")}


def _shown(value: object) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def changes(recorded: dict, event: dict) -> str:
    """What differs between a recorded delivery and a row, as a person reads it
    ("was 2:00, now 2:30; notes were none, now 'late start'"), or "" if nothing does."""
    was, now = _content(recorded), _content(event)
    said = []
    for name in was:
        old, new = was[name], now[name]
        if old == new:
            continue
        if name == "minutes":
            said.append(f"was {_hhmm(old)}, now {_hhmm(new)}")
        elif name == "notes":
            said.append(f"notes were {_shown(old)}, now {_shown(new)}")
        else:
            label = "day worked" if name == "day" else name
            said.append(f"{label} was {_shown(old)}, now {_shown(new)}")
    return "; ".join(said)


def _hhmm(minutes: int | None) -> str:
    return "?" if minutes is None else f"{minutes // 60}:{minutes % 60:02d}"


# ------------------------------------------------------------------ dates

def open_day(state: dict, lock: dt.date | None, day: dt.date) -> dt.date:
    """`day`, or if its month is already reconciled for the ISF the first day of the month
    after the latest reconciled one; then, if that is in a closed period, the day after
    it (docs/month-end.md#late-rows)."""
    if reconciled_month(state, day):
        day = first_day(next_month(state["last_reconciled"]))
    if lock is not None and day <= lock:
        day = lock + dt.timedelta(days=1)
    return day


# ------------------------------------------------------------------ the plan

def prefetch(store: DbStore, provider: str, rows: list[Row]) -> None:
    """Read what the rows' checks and their deliveries read, for every holder of the file at
    once (a few queries per chunk of holders, docs/month-end.md#timesheets): each holder's
    record, their ISF with the provider, and their accounts' balances, floors and
    movements from their earliest row's date on. What is read is what each row would have
    read on its own; nothing is decided here."""
    days: dict[str, dt.date] = {}
    for row in rows:
        day = dt.date.fromisoformat(row.event["date"])
        holder = row.event["holder"]
        days[holder] = min(day, days.get(holder, day))
    store.prefetch_parties("holder", list(days))
    store.prefetch_states("isf", [f"{holder}:{provider}" for holder in days])
    store.prefetch_holders(days)


@dataclass
class _Plan:
    file: Path
    provider: str
    options: Options
    done: Imported
    late_lines: dict[int, str] = field(default_factory=dict)  # late row -> the open month
    store: DbStore = field(init=False)  # the locked store, once `submit` holds the lock

    def items(self, store: DbStore, reading: Reading) -> Iterator[Item | Refusal]:
        self.store, file = store, self.file
        if store.party("provider", self.provider) is None:
            raise UsageError(f"provider {self.provider!r} is not in ledger "
                             f"{getattr(store, 'ledger', 'main')!r}")
        for line, why in reading.problems:
            yield problem(file, line, why)
        recorded = recorded_rows(store, reading.rows)
        prefetch(store, self.provider, reading.rows)
        for row in reading.rows:
            yield from self.row(row, recorded.get(row.line))

    def row(self, row: Row, recorded: Recorded | None) -> Iterator[Item | Refusal]:
        holder, file = row.event["holder"], self.file
        if self.store.party("holder", holder) is None:
            yield problem(file, row.line, f"unknown holder {holder!r}")
            return
        state = self.store.get_state("isf", f"{holder}:{self.provider}")
        if state is None:
            yield problem(file, row.line, f"{holder} has no open ISF with {self.provider} "
                                          f"on {row.event['date']}")
            return
        key = row.key
        if recorded is not None:
            old_key, old = recorded.latest
            changed = changes(old, row.event)
            if not changed:
                self.done.recorded += 1
                return
            if not self.options.replace_changed:
                yield problem(file, row.line, f"changed since it was imported ({changed}); "
                              "import with --replace-changed to reverse the recorded "
                              "visit and record this one")
                return
            reversal = self.reversal(row, state, old_key, old, changed)
            if reversal is not None:
                yield reversal
            self.done.replaced += 1
            key = recorded.next_key
        elif row.identical_to is not None and not self.options.allow_identical:
            yield problem(file, row.line, f"identical to line {row.identical_to}: a likely "
                          "duplicate; give each visit a reference, or import with "
                          "--allow-identical-rows")
            return
        yield Item(self.dated(row, state), key, str(file), row.line)

    def dated(self, row: Row, state: dict) -> dict:
        """The row's delivery; a late one moved to the open month, if allowed."""
        day = dt.date.fromisoformat(row.event["date"])
        if not reconciled_month(state, day):
            return row.event
        moved = open_day(state, self.store.locked_until(), day)
        if not self.options.late_to_open_month:
            self.late_lines[row.line] = month_of(moved)
            return row.event  # the delivery rule refuses it: period_closed
        self.done.late[month_of(moved)] += 1
        return {**row.event, "date": moved.isoformat(), "worked_on": day.isoformat()}

    def reversal(self, row: Row, state: dict, old_key: str, old: dict,
                 changed: str) -> Item | None:
        """A `reverse` of the recorded version, dated on its own date, or in the open
        month if that one is reconciled (docs/rules-dp-isf.md#reversals); None if it has
        been reversed already (by hand, say)."""
        journals = self.store.journals_for_event(old_key)
        if journals and all(self.store.is_reversed(j.key) for j in journals):
            return None
        day = open_day(state, self.store.locked_until(),
                       dt.date.fromisoformat(old.get("date", row.event["date"])))
        event = {"date": day.isoformat(), "type": "reverse", "event": old_key,
                 "reason": f"{self.file.name} line {row.line}: {changed}"}
        return Item(event, f"{old_key}/reversed", str(self.file), row.line)

    def worded(self, refusal: Refusal) -> Refusal:
        """The delivery rule's refusal of a late row, with the option that records it."""
        item = refusal.item
        month = self.late_lines.get(item.line or 0) if isinstance(item, Item) else None
        if month is None or not refusal.reason.startswith("period_closed"):
            return refusal
        hint = (f"import it with --late-to-open-month to record it in {month} with the day "
                "it was worked")
        reason, tail = refusal.reason, ": record late support in the open month, with worked_on"
        reason = reason.removesuffix(tail) + ": " + hint if reason.endswith(tail) \
            else f"{reason}; {hint}"
        return replace(refusal, reason=reason)


def post_rows(store: DbStore, file: Path, provider: str, reading: Reading,
              dry_run: bool = False, options: Options = Options()) -> Imported:
    """Submit the rows, with the problems the reading found, all or nothing."""
    done = Imported(file, Outcome(), dry_run=dry_run, left_out=len(reading.skipped))
    plan = _Plan(file, provider, options, done)

    def kept(item: Item, status: str) -> None:
        if status == "applied":
            done.posted.append(item)

    done.outcome = submit(store, lambda locked: plan.items(locked, reading), atomic=True, dry_run=dry_run,
                          progress=kept)
    done.outcome.refusals = [plan.worded(r) for r in done.outcome.refusals]
    return done


__all__ = ["Imported", "Options", "changes", "import_timesheet", "open_day", "post_rows",
           "prefetch", "problem", "recorded_rows"]
