"""What every instrument module shares: event field types, the handler registry, and the
context a handler works through.

A handler receives a validated event (a pydantic model) and a `Ctx`. It reads balances and
its instrument's state through the context, and emits journals and state changes into it.
It never touches SQL; the runner hands what it emitted to a backend (the database, or the
in-memory reference model used by tests) only after the core checks pass.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from ledger.core.amounts import Unit, format_amount, parse_minutes, parse_pence
from ledger.core.journal import Journal, Posting, check_journal, check_party_id, default_floor
from ledger.errors import LedgerError

# ---------------------------------------------------------------- event field types


def _positive(parse: Callable[[object, str], int]) -> Callable[[object], int]:
    def check(value: object) -> int:
        minor = parse(value, "value")
        if minor <= 0:
            # Direction comes from the event type, never from a sign (CONTRACT section 3).
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


Pence = Annotated[int, BeforeValidator(lift(_positive(parse_pence)))]
"""A GBP amount > 0, as integer pence."""
Minutes = Annotated[int, BeforeValidator(lift(_positive(parse_minutes)))]
"""An HRS amount > 0, as integer minutes."""
RatePence = Pence
"""An hourly rate > 0 in pence per hour (rates are money, so 2 places at most)."""
PartyId = Annotated[str, AfterValidator(lift(check_party_id))]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: object) -> str:
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ValueError(f"{value!r} is not a month (YYYY-MM)")
    return value


Month = Annotated[str, BeforeValidator(_month)]
"""A calendar month as 'YYYY-MM'."""


def month_index(month: str) -> int:
    """Months since year 0, for arithmetic on 'YYYY-MM' strings."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class Event(BaseModel):
    """Fields every event has. Subclasses add theirs and a `type: Literal[...]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    type: str
    id: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] | None = None
    expect_error: str | None = None


class Strict(BaseModel):
    """A nested object of an event (e.g. an ISF's carry policy): unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- registry

Handler = Callable[["Ctx", Any], None]
HANDLERS: dict[str, tuple[type[Event], Handler]] = {}
# Called once for each journal a `reverse` undoes, keyed by that journal's type, so an
# instrument can undo its own bookkeeping (hours lots, award totals) along with the money.
REVERSE_HOOKS: dict[str, Callable[[Ctx, Journal], None]] = {}


def handles(model: type[Event]) -> Callable[[Handler], Handler]:
    event_type = get_args(model.model_fields["type"].annotation)[0]  # Literal["x"]

    def register(fn: Handler) -> Handler:
        assert event_type not in HANDLERS, event_type
        HANDLERS[event_type] = (model, fn)
        return fn

    return register


def on_reverse(journal_type: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        REVERSE_HOOKS[journal_type] = fn
        return fn

    return register


# ---------------------------------------------------------------- backend and context


@dataclass(frozen=True)
class EventRecord:
    key: str
    type: str
    date: dt.date
    payload_hash: str
    index: int | None = None
    source: str | None = None
    # The event as written, as canonical JSON (what `payload_hash` hashes): stored so
    # `verify` can replay every recorded event and rebuild what it posted.
    payload: str | None = None


class Backend(Protocol):
    """What a handler's context needs from storage: the database store or the reference
    model in tests. Reads only; writing happens in `apply`."""

    def balance(self, account: str, unit: Unit) -> int: ...
    def floor(self, account: str, unit: Unit) -> int | None: ...
    def get_state(self, kind: str, ref: str) -> dict | None: ...
    def party(self, kind: str, party_id: str) -> dict | None: ...
    def journal_hash(self, key: str) -> str | None: ...
    def journals_for_event(self, event_key: str) -> list[Journal]: ...
    def is_reversed(self, journal_key: str) -> bool: ...
    def locked_until(self) -> dt.date | None: ...
    def event_hash(self, key: str) -> str | None: ...
    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int: ...
    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        """The balance at the end of the day before `day`, then the net movement of each
        later date that has postings (dates ascending): enough to know the balance on
        every date from `day` on (docs/rules-trust.md#floors)."""
    def apply(self, change: Change) -> None: ...
    def lock_for_write(self) -> None:
        """Wait for our turn to write, before reading what the checks depend on."""

    def add_parties(self, parties: list[dict]) -> None: ...


@dataclass
class Change:
    """Everything one event does, applied by a backend atomically or not at all."""

    event: EventRecord
    journals: list[Journal] = field(default_factory=list)
    states: dict[tuple[str, str], dict] = field(default_factory=dict)
    floors: dict[tuple[str, Unit], int] = field(default_factory=dict)
    lock_until: dt.date | None = None
    # Party records this event writes (a declaration or a `party_update`): each a dict
    # with kind, id, valid_from (ISO date) and the whole record as it stands from then.
    parties: list[dict] = field(default_factory=list)
    outcome: str = "applied"  # or "rejected:CODE" for an `expect_error` event, kept


class Ctx:
    """A handler's view of the ledger while one event is applied."""

    def __init__(self, backend: Backend, event: EventRecord) -> None:
        self.backend = backend
        self.event_key = event.key
        self.date = event.date
        self.change = Change(event)
        self._deltas: dict[tuple[str, Unit], int] = {}

    # -- reads
    def balance(self, account: str, unit: Unit) -> int:
        return self.backend.balance(account, unit) + self._deltas.get((account, unit), 0)

    def state(self, kind: str, ref: str) -> dict | None:
        if (kind, ref) in self.change.states:
            return copy.deepcopy(self.change.states[(kind, ref)])
        found = self.backend.get_state(kind, ref)
        return copy.deepcopy(found) if found is not None else None

    def party(self, kind: str, party_id: str) -> dict:
        """A declared party ('council', 'provider', 'holder'); `unknown_party` if not."""
        found = self.backend.party(kind, party_id)
        if found is None:
            raise LedgerError("unknown_party", f"{kind} {party_id!r} is not declared")
        return found

    def council_of(self, holder: str) -> str:
        return self.party("holder", holder)["council"]

    def journal_exists(self, key: str) -> bool:
        return self.backend.journal_hash(key) is not None or any(
            j.key == key for j in self.change.journals
        )

    # -- writes
    def put_state(self, kind: str, ref: str, data: dict) -> None:
        self.change.states[(kind, ref)] = copy.deepcopy(data)

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
        if any(j.key == key for j in self.change.journals):
            raise LedgerError("duplicate_conflict", f"journal key {key!r} used twice")
        self.change.journals.append(journal)
        for p in journal.postings:
            k = (p.account, p.unit)
            self._deltas[k] = self._deltas.get(k, 0) + p.amount_minor
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
        for (account, unit), delta in self._deltas.items():
            floor = self.floor(account, unit)
            if floor is None or delta >= 0:
                continue
            after = self.balance(account, unit)
            if after < floor:
                raise LedgerError(
                    "insufficient_funds",
                    f"{account} would go to {format_amount(after, unit)} {unit}, "
                    f"below its floor of {format_amount(floor, unit)}",
                )
