"""Exports a council's finance system loads (docs/exports.md#gl, #payments).

CSV as RFC 4180, UTF-8, a header row, rows in date then journal order, the same bytes on
every export of the same data. A text cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return is written with a leading `'`, so a spreadsheet never runs it; numbers
are written as numbers. `excel=True` adds a byte order mark and CRLF line ends (the
default is LF). Rows are written as they are read.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from typing import TextIO

from sqlalchemy import Connection, Date, bindparam, text

from ledger.core.amounts import Unit, format_amount

GL_COLUMNS = ("date", "journal", "type", "account", "unit", "amount", "minor_units")
PAYMENT_COLUMNS = ("date", "journal", "type", "direction", "counterparty", "amount",
                   "minor_units")
_RISKY = ("=", "+", "-", "@", "\t", "\r")
STREAM_ROWS = 5000

# Postings of every posted journal dated in the period that touches one of the council's
# accounts, in date, journal and posting order.
_GL_SQL = text("""
SELECT j.date, j.key, j.type, a.path, p.unit, p.amount_minor
FROM journal j
JOIN posting p ON p.journal_id = j.id
JOIN account a ON a.id = p.account_id
WHERE j.ledger_id = :lid AND j.status = 'posted' AND j.date >= :start AND j.date <= :end
  AND EXISTS (SELECT 1 FROM posting q JOIN account b ON b.id = q.account_id
              WHERE q.journal_id = j.id AND b.ledger_id = :lid
                AND b.path LIKE :council_prefix ESCAPE '\\')
ORDER BY j.date, j.id, p.id
""").bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))
# The GBP postings of every posted journal dated in the period with a GBP posting on the
# council's funding account.
_PAYMENTS_SQL = text("""
SELECT j.date, j.key, j.type, a.path, p.amount_minor
FROM journal j
JOIN posting p ON p.journal_id = j.id AND p.unit = 'GBP'
JOIN account a ON a.id = p.account_id
WHERE j.ledger_id = :lid AND j.status = 'posted' AND j.date >= :start AND j.date <= :end
  AND EXISTS (SELECT 1 FROM posting q JOIN account b ON b.id = q.account_id
              WHERE q.journal_id = j.id AND q.unit = 'GBP' AND b.path = :funding
                AND b.ledger_id = :lid)
ORDER BY j.date, j.id, p.id
""").bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))


def safe(value: str) -> str:
    """A text cell a spreadsheet will show, never run."""
    return "'" + value if value.startswith(_RISKY) else value


def _writer(out: TextIO, excel: bool):
    if excel:
        out.write("\ufeff")
    return csv.writer(out, lineterminator="\r\n" if excel else "\n")


def _like_prefix(council: str) -> str:
    escaped = council.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"council:{escaped}:%"


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_gl(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date,
             out: TextIO, excel: bool = False) -> int:
    """One row per posting of every journal dated in the period with a posting on an
    account `council:{C}:*`. Returns the rows written."""
    write = _writer(out, excel)
    write.writerow(GL_COLUMNS)
    rows = 0
    for on, key, kind, account, unit, minor in _stream(conn, _GL_SQL, {
            "lid": lid, "start": start, "end": end,
            "council_prefix": _like_prefix(council)}):
        write.writerow([_iso(on), safe(key), safe(kind), safe(account), unit,
                        format_amount(int(minor), Unit(unit)), int(minor)])
        rows += 1
    return rows


def write_payments(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date,
                   out: TextIO, excel: bool = False) -> int:
    """One row per journal in the period that moves money out of (`payment`) or back into
    (`recovery`) `council:{C}:funding`, then the TOTAL line: the row count, and payments
    less recoveries. Returns the rows written (the total line not counted)."""
    funding = f"council:{council}:funding"
    write = _writer(out, excel)
    write.writerow(PAYMENT_COLUMNS)
    rows = net = 0
    for on, key, kind, postings in _journals(_stream(conn, _PAYMENTS_SQL, {
            "lid": lid, "start": start, "end": end, "funding": funding})):
        moved = sum(minor for account, minor in postings if account == funding)
        if moved == 0:
            continue  # out and back within one journal: nothing paid
        direction = "payment" if moved < 0 else "recovery"
        others = sorted({account for account, minor in postings
                         if account != funding and (minor > 0) == (moved < 0)})
        write.writerow([_iso(on), safe(key), safe(kind), direction, safe(" ".join(others)),
                        format_amount(abs(moved), Unit.GBP), abs(moved)])
        rows += 1
        net += -moved
    write.writerow(["TOTAL", rows, "", "", "", format_amount(net, Unit.GBP), net])
    return rows


def _stream(conn: Connection, statement, params: dict) -> Iterator[tuple]:
    return iter(conn.execute(statement.execution_options(yield_per=STREAM_ROWS), params))


def _journals(rows: Iterator[tuple]) -> Iterator[tuple]:
    """Postings grouped by journal (they arrive in journal order)."""
    current = None
    postings: list[tuple[str, int]] = []
    for on, key, kind, account, minor in rows:
        if current is not None and key != current[1]:
            yield (*current, postings)
            postings = []
        current = (on, key, kind)
        postings.append((account, int(minor)))
    if current is not None:
        yield (*current, postings)




# ---------------------------------------------------------------- dp-monitoring

DP_MONITORING_COLUMNS = (
    "holder", "account", "balance", "balance_minor", "weekly_amount_minor",
    "weeks_held", "contingency_minor", "allowed_weeks", "allowed_minor", "surplus_minor")
_WEEKS_PER = {"weekly": Fraction(1), "four_weekly": Fraction(4), "monthly": Fraction(52, 12)}


def weekly_pence(schedules: list[dict], as_of: dt.date) -> Fraction:
    """What the person's schedules in force on `as_of` pay a week (exact)."""
    total = Fraction(0)
    for s in schedules:
        if s["start"] <= as_of.isoformat() and (s["end"] is None
                                                or s["end"] >= as_of.isoformat()):
            total += Fraction(s["amount_pence"]) / _WEEKS_PER[s["every"]]
    return total


def _two_places(value: Fraction) -> str:
    """A number to 2 decimal places, rounded once, halves away from zero."""
    from ledger.core.amounts import round_half_away

    hundredths = round_half_away(value * 100)
    sign = "-" if hundredths < 0 else ""
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


def write_dp_monitoring(store, council: str, as_of: dt.date, weeks: Fraction,
                        contingency_pence: int, out: TextIO, excel: bool = False) -> int:
    """Every direct-payment account of the council's people: its balance on `as_of`, the
    weeks of support it holds at the weekly amount its schedules pay, and the surplus a
    review would recover (balance - contingency - weekly amount x weeks, rounded once;
    never below 0), with its working. Posts nothing."""
    from ledger.core.amounts import round_half_away

    schedules: dict[str, list[dict]] = {}
    for ref in store.state_refs("dp_schedule"):
        state = store.get_state("dp_schedule", ref)
        if state is not None and state["council"] == council:
            schedules.setdefault(state["holder"], []).append(state)
    holders = sorted(pid for pid, p in store.parties("holder", as_of).items()
                     if p.get("council") == council)
    write = _writer(out, excel)
    write.writerow(DP_MONITORING_COLUMNS)
    rows = 0
    for holder in holders:
        account = f"holder:{holder}:dp"
        if account not in store.accounts_like(account):
            continue  # no direct payment
        balance = store.balance_as_of(account, Unit.GBP, as_of)
        weekly = weekly_pence(schedules.get(holder, []), as_of)
        held = _two_places(Fraction(balance) / weekly) if weekly else ""
        weekly_minor = round_half_away(weekly)
        allowed = round_half_away(weekly * weeks)
        write.writerow([safe(holder), safe(account), format_amount(balance, Unit.GBP),
                        balance, weekly_minor, held, contingency_pence, str(weeks), allowed,
                        max(balance - contingency_pence - allowed, 0)])
        rows += 1
    return rows


# ---------------------------------------------------------------- isf-returns

def write_isf_returns(store, council: str, month: str, out: TextIO,
                      excel: bool = False) -> int:
    """Per ISF of the council's people: the month's hours and money, allocated,
    delivered, expired and returned, opening and closing (docs/month-end.md#the-report,
    one row per ISF, every provider)."""
    from ledger.reports.isf_month import ROW_KEYS, report

    by_provider: dict[str, list[str]] = {}
    for ref in store.state_refs("isf"):
        state = store.get_state("isf", ref)
        if state is not None and state["council"] == council:
            by_provider.setdefault(state["provider"], []).append(state["holder"])
    columns = ["holder", "provider", *[k for k in ROW_KEYS if k not in ("holder", "flag")]]
    write = _writer(out, excel)
    write.writerow(columns)
    rows = []
    for provider in sorted(by_provider):
        for row in report(store, provider, month, Fraction(10), by_provider[provider])["isfs"]:
            rows.append({**row, "provider": provider})
    for row in sorted(rows, key=lambda r: (r["holder"], r["provider"])):
        write.writerow([safe(str(row[c])) if c in ("holder", "provider") else row[c]
                        for c in columns])
    return len(rows)


__all__ = ["GL_COLUMNS", "PAYMENT_COLUMNS", "safe", "write_dp_monitoring", "write_gl",
           "write_isf_returns", "write_payments"]
