"""One event through the rules: work out its key's standing, validate it, run its
handler, run the core checks and hand what it emitted to the backend, atomically
(docs/architecture.md). `submit` calls it for every event of every source; `verify`
replays recorded events through it under the rules version each was recorded with.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from pydantic import ValidationError

import ledger.domain  # noqa: F401 - the floor rule (HANDLERS loads every handler when read)
from ledger.core.change import CURRENT_RULES, Backend, Change, EventRecord
from ledger.core.journal import MAX_KEY_CHARS, sha256_text
from ledger.core.text import all_plain, text_problem
from ledger.domain.base import HANDLERS, Ctx, day
from ledger.errors import CODES, ExpectationFailed, LedgerError

MAX_TYPE_CHARS = 60  # the event record's type column


class EventFailed(Exception):
    """The event was refused and nobody expected it (or an `expect` failed): the message
    is the code and the reason."""


_AS_IS = frozenset({str, int, bool, type(None)})  # what `_plain` hands back unchanged


def _plain(value: object) -> object:
    """The event as written, in a canonical JSON-able form for its payload hash."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _AS_IS else _plain(v)
                for k, v in value.items()}  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | Decimal):
        return str(value)
    return value


def _record_date(value: object) -> dt.date:
    """The date a refused event is recorded under: its own when it has a real one."""
    try:
        return day(value)
    except ValueError:
        return dt.date.min


def event_payload(raw: dict) -> str:
    """The event as written, as canonical JSON: stored with its record (so `verify` can
    replay it) and hashed into its payload hash."""
    return _CANONICAL.encode(_plain(raw))


# json.dumps(value, sort_keys=True, separators=(",", ":"), default=str), made once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def shown(value: object) -> str:
    """A value for a message: one line, not too long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..."


def _validation_message(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{where}: {msg}" if where else msg


def _check_text(value: object, where: str) -> None:
    """Every text in an event, names of fields included, follows the one rule for text
    (docs/rules-trust.md#reading): no control characters, at most MAX_TEXT_CHARS."""
    if type(value) is dict and _flat_and_plain(value):
        return  # the usual event: nothing the walk below could refuse
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise LedgerError("invalid", f"{where}: {problem}")
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_text(name, f"{where}: a field name" if where else "a field name")
            _check_text(item, f"{where}.{name}" if where else str(name))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, f"{where}.{n}")


def _flat_and_plain(event: dict) -> bool:
    """Every field name is text, every value plain (text, a number, true/false, null) and
    every text printable ASCII within the limit."""
    texts = []
    for name, value in event.items():
        if type(name) is not str:
            return False
        texts.append(name)
        kind = type(value)
        if kind is str:
            texts.append(value)
        elif kind not in _AS_IS:
            return False
    return all_plain(texts)


def _record_problem(key: str, kind: object) -> str | None:
    """The key and the type are stored with an event's record, even a refused one: text
    no column can hold is refused before (docs/rules-trust.md#reading)."""
    problem = text_problem(key, MAX_KEY_CHARS)
    if problem:
        return f"the event id {problem}"
    problem = text_problem(kind, MAX_TYPE_CHARS) if isinstance(kind, str) else None
    return f"the event type {problem}" if problem else None


def key_problem(key: str) -> str | None:
    """Why no record can be kept under this key, or None."""
    return text_problem(key, MAX_KEY_CHARS)


def parse_event(raw: dict):
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in HANDLERS:
        raise LedgerError("invalid", f"unknown event type {shown(event_type)}")
    _check_text(raw, "")
    model, _ = HANDLERS[event_type]
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise LedgerError("invalid", _validation_message(err)) from None


def apply_event(backend: Backend, raw: dict, key: str, index: int | None = None,
                source: str | None = None, rules_version: int = CURRENT_RULES
                ) -> tuple[str, int]:
    """Apply one event under `rules_version` (the current rules; `verify` passes the
    version a record was made under). Returns ('applied'|'skipped'|'rejected', journals
    posted). Raises EventFailed when it was refused unexpectedly.

    A key already recorded with the same payload is skipped before any other check; the
    same key with another payload is `duplicate_conflict`."""
    backend.lock_for_write()  # so the checks below read what the write will see
    payload = event_payload(raw)
    payload_hash = sha256_text(payload)
    expected = raw.get("expect_error")
    problem = _record_problem(key, raw.get("type"))
    if problem:
        if expected == "invalid":
            return "rejected", 0  # nothing can be recorded under such a key or type
        raise EventFailed(f"invalid: {problem}")
    recorded = backend.event_hash(key)
    if recorded is not None:
        if recorded == payload_hash:
            return "skipped", 0
        if expected == "duplicate_conflict":
            return "rejected", 0  # nothing can be recorded: the key is taken
        conflict = (f"duplicate_conflict: key {key!r} is already recorded with a "
                    "different payload")
        raise EventFailed(f"expected {expected} but got {conflict}" if expected else conflict)
    if expected is not None and (not isinstance(expected, str) or expected not in CODES):
        raise EventFailed(f"invalid: expect_error {shown(expected)} is not an error code "
                          f"(one of {', '.join(sorted(CODES))})")
    record = EventRecord(key, str(raw.get("type"))[:60], _record_date(raw.get("date")),
                         payload_hash, index, source, payload, rules_version)
    try:
        event = parse_event(raw)
        record = EventRecord(key, event.type, event.date, payload_hash, index, source,
                             payload, rules_version)
        ctx = Ctx(backend, record)
        HANDLERS[event.type][1](ctx, event)
        ctx.check()
        change = ctx.change
        if expected is None:
            backend.apply(change)
            return "applied", len(change.journals)
    except ExpectationFailed as err:
        raise EventFailed(str(err)) from None
    except LedgerError as err:
        if expected is None:
            raise EventFailed(str(err)) from None
        if err.code != expected:
            raise EventFailed(f"expected {expected} but got {err}") from None
        # Recorded (posting nothing) so that replaying the file skips it too, whatever
        # the balances are by then.
        backend.apply(Change(record, outcome=f"rejected:{err.code}"))
        return "rejected", 0
    raise EventFailed(f"expected {expected} but the event was accepted")


__all__ = ["EventFailed", "apply_event", "event_payload", "key_problem", "parse_event",
           "shown"]
