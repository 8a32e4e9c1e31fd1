"""What every instrument module shares: event field types, the handler registry, and the
context a handler works through.

A handler receives a validated event (a pydantic model) and a `Ctx`. It reads balances and
its instrument's state through the context, and emits journals and state changes into it.
It never touches SQL; the runner hands what it emitted to a backend (the database, or the
in-memory reference model used by tests) only after the core checks pass.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from ledger.core import calendar
from ledger.core.amounts import Unit, format_amount, parse_minutes, parse_pence
from ledger.core.change import Backend, Change, EventRecord
from ledger.core.journal import Journal, Posting, check_journal, check_party_id
from ledger.core.plain import copy_plain
from ledger.domain.floors import default_floor
from ledger.errors import LedgerError

# ---------------------------------------------------------------- event field types


def _positive(parse: Callable[[object, str], int]) -> Callable[[object], int]:
    def check(value: object) -> int:
        minor = parse(value, "value")
        if minor <= 0:
            # Direction comes from the event type, never from a sign (docs/scenarios.md).
            raise ValueError("must be greater than zero")
        return minor

    return check


def lift(fn: Callable[[object], Any]) -> Callable[[object], Any]:
    """Turn a LedgerError into the ValueError pydantic reports with the field's name."""

    def wrapped(value: object) -> Any:
        try:
            return fn(value)
        except LedgerError as err:
            raise ValueError(err.message.removeprefix("value: ")) from None

    return wrapped


def remembered(read: Callable[[object], Any]) -> Callable[[object], Any]:
    """`read` (a pure reading of a field: the same text always gives the same value or
    the same refusal) with what it gave for each text remembered: a file of thousands of
    events writes the same dates, amounts and party ids again and again. Only text is
    remembered (never `True`, which equals 1), and only what was accepted: a refusal is
    raised again every time. At most 10,000 texts per field type, then it starts over."""
    known: dict[str, Any] = {}

    def reading(value: object) -> Any:
        if type(value) is not str:
            return read(value)
        found = known.get(value, known)
        if found is known:
            found = read(value)
            if len(known) >= 10_000:
                known.clear()
            known[value] = found
        return found

    return reading


Pence = Annotated[int, BeforeValidator(remembered(lift(_positive(parse_pence))))]
"""A GBP amount > 0, as integer pence."""
Minutes = Annotated[int, BeforeValidator(remembered(lift(_positive(parse_minutes))))]
"""An HRS amount > 0, as integer minutes."""
RatePence = Pence
"""An hourly rate > 0 in pence per hour (rates are money, so 2 places at most)."""
PartyId = Annotated[str, AfterValidator(remembered(lift(check_party_id)))]

# Dates and months (docs/rules-trust.md#reading): written YYYY-MM-DD / YYYY-MM in ASCII
# digits, a real calendar date, years 1900 to 2199 so that date arithmetic (schedules,
# month ends, a month's following month) never overflows. A number is never a date. The
# rule is the calendar's (ledger.core.calendar); these names stay for the event models.
MIN_YEAR, MAX_YEAR = calendar.MIN_YEAR, calendar.MAX_YEAR
day = remembered(calendar.parse_day)
_month = remembered(calendar.parse_month)
_shown = calendar.shown  # the same short form of a value in every message


Day = Annotated[dt.date, BeforeValidator(day)]
"""A calendar date. Every `dt.date` field of an `Event` or a `Strict` is read this way."""



Month = Annotated[str, BeforeValidator(_month)]
"""A calendar month as 'YYYY-MM'."""


def _whole_number(value: object) -> int:
    """An int field (not money or hours, which have their own reading): a YAML integer or
    the same digits quoted. Pydantic alone would take `true`, `"1_0"` or `12.0`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    raise ValueError(f"{_shown(value)} is not a whole number")


def _yes_no(value: object) -> bool:
    """A bool field: `true` or `false`. Pydantic alone would take "yes", "on", 1 or "t"."""
    if isinstance(value, bool):
        return value
    raise ValueError(f"{_shown(value)} is not true or false")


_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")
_READERS: dict[object, Callable[[object], object]] = {dt.date: day, int: _whole_number,
                                                       bool: _yes_no}


def _fields_read_as_written(model: type[BaseModel]) -> list[tuple[str, Callable]]:
    """(name as written, reader) of each field typed `dt.date`, `int` or `bool` (or that
    `| None`) without a reader of its own."""
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if get_origin(annotation) in (Union, UnionType):
            kinds = set(get_args(annotation)) - {type(None)}
            annotation = kinds.pop() if len(kinds) == 1 else None
        reader = _READERS.get(annotation)
        if reader is not None and not any(isinstance(m, BeforeValidator)
                                          for m in info.metadata):
            found.append((info.alias or name, reader))
    return found


def _read_as_written(model: type[BaseModel], data: object) -> object:
    """Check every date, whole-number and yes/no field as written, before pydantic (which
    would take 0 or 1767225600 for a date, "yes" for true) sees it; the message names
    the field (docs/rules-trust.md#reading)."""
    if not isinstance(data, dict):
        return data
    fields = _AS_WRITTEN.get(model)
    if fields is None:
        fields = _AS_WRITTEN[model] = _fields_read_as_written(model)
    if not fields:
        return data
    data = dict(data)
    for written, reader in fields:
        value = data.get(written)
        if value is not None:
            try:
                data[written] = reader(value)
            except ValueError as err:
                raise ValueError(f"{written}: {err}") from None
    return data


_AS_WRITTEN: dict[type[BaseModel], list[tuple[str, Callable]]] = {}


# Month arithmetic lives in ledger.core.calendar; these names stay for their callers.
month_index = calendar.month_index
month_name = calendar.month_from_index


class Event(BaseModel):
    """Fields every event has. Subclasses add theirs and a `type: Literal[...]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    type: str
    id: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] | None = None
    expect_error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _dates(cls, data: object) -> object:
        return _read_as_written(cls, data)


class Strict(BaseModel):
    """A nested object of an event (e.g. an ISF's carry policy): unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _dates(cls, data: object) -> object:
        return _read_as_written(cls, data)


# ---------------------------------------------------------------- registry

_LOADING = threading.RLock()


class _Registry(dict):
    """Filled by each instrument's module as it is imported; the first read imports them
    all (ledger.domain.load) and then it is a plain dict (no cost per lookup)."""

    def _all(self) -> None:
        with _LOADING:  # another thread's first read waits until every module is in
            if type(self) is _Registry:
                from ledger.domain import load

                load()
                for registry in (HANDLERS, REVERSE_HOOKS):
                    registry.__class__ = _Loaded

    def __contains__(self, key):
        self._all()
        return key in self

    def __getitem__(self, key):
        self._all()
        return self[key]

    def __iter__(self):
        self._all()
        return iter(self)

    def __len__(self):
        self._all()
        return len(self)

    def get(self, key, default=None):
        self._all()
        return self.get(key, default)

    def keys(self):
        self._all()
        return self.keys()

    def items(self):
        self._all()
        return self.items()

    def values(self):
        self._all()
        return self.values()


class _Loaded(dict):
    pass


Handler = Callable[["Ctx", Any], None]
HANDLERS: dict[str, tuple[type[Event], Handler]] = _Registry()
# Called once for each journal a `reverse` undoes, keyed by that journal's type, so an
# instrument can undo its own bookkeeping (hours lots, award totals) along with the money.
REVERSE_HOOKS: dict[str, Callable[[Ctx, Journal], None]] = _Registry()


def handles(model: type[Event]) -> Callable[[Handler], Handler]:
    event_type = get_args(model.model_fields["type"].annotation)[0]  # Literal["x"]

    def register(fn: Handler) -> Handler:
        assert not dict.__contains__(HANDLERS, event_type), event_type  # never loads
        HANDLERS[event_type] = (model, fn)
        return fn

    return register


def on_reverse(journal_type: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        REVERSE_HOOKS[journal_type] = fn
        return fn

    return register


# ---------------------------------------------------------------- the handler context


class Ctx:
    """A handler's view of the ledger while one event is applied."""

    def __init__(self, backend: Backend, event: EventRecord) -> None:
        self.backend = backend
        self.event_key = event.key
        self.date = event.date
        # The rules this event is recorded under (docs/rules-trust.md#rules-versions): a
        # handler whose rule changed on a date branches on it, so a record keeps what it
        # posted when `verify` replays it.
        self.rules_version = event.rules_version
        self.change = Change(event)
        self._deltas: dict[tuple[str, Unit], int] = {}
        self._keys: set[str] = set()  # this event's journal keys: a lookup, never a scan
        # What this event moves on each date, per account, and the accounts it takes from.
        self._dated: dict[tuple[str, Unit], dict[dt.date, int]] = {}
        self._takes: set[tuple[str, Unit]] = set()
        self._moves_from: dict[tuple[str, Unit, dt.date],
                               tuple[int, list[tuple[dt.date, int]]]] = {}

    # -- reads
    def balance(self, account: str, unit: Unit) -> int:
        return self.backend.balance(account, unit) + self._deltas.get((account, unit), 0)

    def lowest_balance(self, account: str, unit: Unit, day: dt.date) -> tuple[int, dt.date]:
        """The lowest balance `account` has at the end of `day` or of any later date with
        postings, this event's journals included, and the first date it is reached
        (docs/rules-trust.md#floors: a floor holds on every date, not just today)."""
        # What is stored does not change while an event is worked out: a handler's own
        # floor check and the core check after it read it once.
        stored = self._moves_from.get((account, unit, day))
        if stored is None:
            stored = self._moves_from[(account, unit, day)] = \
                self.backend.balance_moves_from(account, unit, day)
        opening, moves = stored
        by_date: dict[dt.date, int] = {day: 0}
        for on, amount in moves:
            by_date[on] = by_date.get(on, 0) + amount
        for on, amount in self._dated.get((account, unit), {}).items():
            if on < day:
                opening += amount
            else:
                by_date[on] = by_date.get(on, 0) + amount
        running = opening
        lowest: tuple[int, dt.date] | None = None
        for on in sorted(by_date):
            running += by_date[on]
            if lowest is None or running < lowest[0]:
                lowest = (running, on)
        assert lowest is not None
        return lowest

    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        """The balance at the end of `as_of`, this event's journals included."""
        mine = sum(amount for on, amount in self._dated.get((account, unit), {}).items()
                   if on <= as_of)
        return self.backend.balance_as_of(account, unit, as_of) + mine

    def state_refs(self, kind: str) -> list[str]:
        stored = set(self.backend.state_refs(kind))
        return sorted(stored | {ref for k, ref in self.change.states if k == kind})

    def state(self, kind: str, ref: str) -> dict | None:
        if (kind, ref) in self.change.states:
            return copy_plain(self.change.states[(kind, ref)])
        found = self.backend.get_state(kind, ref)
        return copy_plain(found) if found is not None else None

    def party(self, kind: str, party_id: str) -> dict:
        """A declared party ('council', 'provider', 'holder') as it stands now (its newest
        record, this event's own `party_update` included); `unknown_party` if not."""
        for update in reversed(self.change.parties):
            if update["kind"] == kind and update["id"] == party_id:
                return {k: v for k, v in update.items() if k != "valid_from"}
        found = self.backend.party(kind, party_id)
        if found is None:
            raise LedgerError("unknown_party", f"{kind} {party_id!r} is not declared")
        return found

    def council_of(self, holder: str) -> str:
        return self.party("holder", holder)["council"]

    def journal_exists(self, key: str) -> bool:
        return key in self._keys or self.backend.journal_hash(key) is not None

    # -- writes
    def put_state(self, kind: str, ref: str, data: dict) -> None:
        """Record an instrument's new state. The change takes `data` as it is, without a
        copy: a handler puts a state once it has finished changing it (every handler
        saves last), and reads it back through `state`, which copies."""
        self.change.states[(kind, ref)] = data

    def set_floor(self, account: str, unit: Unit, floor_minor: int) -> None:
        self.change.floors[(account, unit)] = floor_minor

    def post(
        self,
        journal_type: str,
        postings: list[Posting],
        *,
        suffix: str | None = None,
        key: str | None = None,
        holder: str | None = None,
        on: dt.date | None = None,
        memo: dict | None = None,
        reverses_key: str | None = None,
    ) -> Journal:
        """Emit a journal. Its key defaults to the event key (plus `/suffix` when an event
        posts several); balances read afterwards include it."""
        if key is None:
            key = self.event_key if suffix is None else f"{self.event_key}/{suffix}"
        journal = Journal(
            key=key,
            type=journal_type,
            date=on or self.date,
            postings=tuple(postings),
            event_key=self.event_key,
            holder=holder,
            reverses_key=reverses_key,
            memo=memo or {},
        )
        check_journal(journal)
        if key in self._keys:
            raise LedgerError("duplicate_conflict", f"journal key {key!r} used twice")
        self._keys.add(key)
        self.change.journals.append(journal)
        for p in journal.postings:
            k = (p.account, p.unit)
            self._deltas[k] = self._deltas.get(k, 0) + p.amount_minor
            dated = self._dated.setdefault(k, {})
            dated[journal.date] = dated.get(journal.date, 0) + p.amount_minor
            if p.amount_minor < 0:
                self._takes.add(k)
        return journal

    # -- the core checks, run once after the handler (the database repeats them)
    def floor(self, account: str, unit: Unit) -> int | None:
        if (account, unit) in self.change.floors:
            return self.change.floors[(account, unit)]
        stored = self.backend.floor(account, unit)
        return stored if stored is not None else default_floor(account, unit)

    def check(self) -> None:
        locked = self.backend.locked_until()
        for journal in self.change.journals:
            if locked is not None and journal.date <= locked:
                raise LedgerError(
                    "period_closed",
                    f"{journal.date} is in a closed period (closed up to {locked})",
                )
        # docs/rules-trust.md#floors: per event, net (all of its journals count), on the
        # earliest date the event posts to the account and on every later date with
        # postings.
        for account, unit in sorted(self._takes):
            floor = self.floor(account, unit)
            if floor is None:
                continue
            lowest, on = self.lowest_balance(account, unit, min(self._dated[(account, unit)]))
            if lowest < floor:
                raise LedgerError(
                    "insufficient_funds",
                    f"{account} would go to {format_amount(lowest, unit)} {unit} on {on}, "
                    f"below its floor of {format_amount(floor, unit)}",
                )
