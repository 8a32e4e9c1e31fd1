"""Replay a scenario's events into a backend (the file format: docs/scenarios.md).

For each event, in file order: work out its key; skip it if that key is recorded with the
same payload (before any other check); otherwise validate it, run its handler, run the
core checks and apply everything it emitted atomically. A rejection leaves no trace.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from pydantic import ValidationError

import ledger.domain  # noqa: F401 - registers every handler
from ledger.core.change import CURRENT_RULES, Backend, Change, EventRecord
from ledger.core.journal import MAX_KEY_CHARS, sha256_text
from ledger.core.text import text_problem
from ledger.domain.base import HANDLERS, Ctx, day
from ledger.errors import CODES, ExpectationFailed, LedgerError
from ledger.scenarios.schema import ScenarioFile, ScenarioStream
from ledger.store.repo import BatchRefused


def _plain(value: object) -> object:
    """The event as written, in a canonical JSON-able form for its payload hash."""
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
    return json.dumps(_plain(raw), sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class RunResult:
    applied: int = 0
    skipped: int = 0
    rejected_as_expected: int = 0
    journals: int = 0
    failure: str | None = None  # set when the run stopped (exit status 1)


def _shown(value: object) -> str:
    """A value for a message: one line, not too long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..."


class EventFailed(Exception):
    """The run must stop here: a rejection nobody expected, or a failed `expect`."""


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


MAX_TYPE_CHARS = 60  # the event record's type column


def _record_problem(key: str, kind: object) -> str | None:
    """The key and the type are stored with an event's record, even a refused one: text
    no column can hold is refused before (docs/rules-trust.md#reading)."""
    problem = text_problem(key, MAX_KEY_CHARS)
    if problem:
        return f"the event id {problem}"
    problem = text_problem(kind, MAX_TYPE_CHARS) if isinstance(kind, str) else None
    return f"the event type {problem}" if problem else None


def parse_event(raw: dict):
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in HANDLERS:
        raise LedgerError("invalid", f"unknown event type {_shown(event_type)}")
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
    posted). Raises EventFailed when the run must stop."""
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
        raise EventFailed(f"invalid: expect_error {_shown(expected)} is not an error code "
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


BATCH_EVENTS = 2000  # events per durable transaction on the batched path


def run_scenario(backend: Backend, scenario: ScenarioFile | ScenarioStream, source: str = "",
                 progress: Callable[[], None] | None = None,
                 commit_every: int | None = None) -> RunResult:
    """Replay every event; stops at the first unexpected rejection (events before it stay
    applied). The caller owns the transaction; with `commit_every`, the backend commits
    after every that many events (one durable transaction per batch,
    docs/architecture.md#batches). Events are read a batch at a time, so a streamed file
    is never held whole. `progress` is called after each event."""
    result = RunResult()
    try:
        # A party declared again with a different record stops the run before any event
        # (docs/rules-trust.md#parties); the backend's message names the party.
        backend.add_parties(_parties(scenario))
    except LedgerError as err:
        result.failure = f"{source}: parties: {err}" if source else f"parties: {err}"
        return result
    events = scenario.numbered_events()
    step = commit_every or BATCH_EVENTS
    # (index, line, event, key, outcome, journals) of each event not yet committed
    window: list[tuple[int, int | None, dict, str, str, int]] = []
    try:
        while batch := list(islice(events, step)):
            keys = [str(raw.get("id") or f"{scenario.name}#{index}")
                    for index, _, raw in batch]
            backend.prefetch_events([k for k in keys if not text_problem(k, MAX_KEY_CHARS)])
            for (index, line, raw), key in zip(batch, keys, strict=True):
                try:
                    outcome, journals = apply_event(backend, raw, key, index, source)
                except EventFailed as err:
                    backend.flush()  # the events before it stay applied
                    result.failure = _failure(source, index, line, raw, key, str(err))
                    return result
                _count(result, outcome, journals, +1)
                window.append((index, line, raw, key, outcome, journals))
                if progress is not None:
                    progress()
                if commit_every and (index + 1) % commit_every == 0:
                    backend.commit()
                    window.clear()
        backend.flush()
    except BatchRefused as refused:
        # The database refused an event Python had accepted: the events before it are
        # written, it and those after it are not (docs/architecture.md#batches).
        first = next(n for n, entry in enumerate(window) if entry[3] == refused.event_key)
        for *_, outcome, journals in window[first:]:
            _count(result, outcome, journals, -1)
        index, line, raw, key, _, _ = window[first]
        result.failure = _failure(source, index, line, raw, key, str(refused.error))
    return result


def _count(result: RunResult, outcome: str, journals: int, sign: int) -> None:
    result.journals += sign * journals
    if outcome == "applied":
        result.applied += sign
    elif outcome == "skipped":
        result.skipped += sign
    else:
        result.rejected_as_expected += sign


def _failure(source: str, index: int, line: int | None, raw: dict, key: str,
             why: str) -> str:
    where = "" if line is None else f"{source}:{line}: " if source else f"line {line}: "
    kind = raw.get("type", "?")
    kind = kind if isinstance(kind, str) and kind in HANDLERS else _shown(kind)
    shown = key if len(key) <= 80 and not text_problem(key) else _shown(key)
    return f"{where}event {index} (id {shown}, {kind}): {why}"


def _parties(scenario: ScenarioFile | ScenarioStream) -> list[dict]:
    """Every declared party as its whole record, defaults included, so that declaring it
    again with anything different is caught (docs/rules-trust.md#parties)."""
    out = []
    for kind, items in (("council", scenario.parties.councils),
                        ("provider", scenario.parties.providers),
                        ("holder", scenario.parties.holders)):
        for party in items:
            out.append({"kind": kind, **party.model_dump()})
    return out

