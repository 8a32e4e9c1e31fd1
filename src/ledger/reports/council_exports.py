"""Exports a council's finance system loads (docs/exports.md#gl, #payments).

CSV as RFC 4180, UTF-8, a header row, rows in date then journal order, the same bytes on
every export of the same data. A text cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return, after any leading spaces and quotes, is written with a leading `'`, so a
spreadsheet never runs it; figures the ledger writes itself (amounts, hours as H:MM) are
not text and are written as they are. `excel=True` adds a byte order mark and CRLF line ends (the
default is LF). Rows are written as they are read.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from typing import TextIO

from sqlalchemy import Connection, Date, bindparam, text

from ledger.core.amounts import Unit, format_amount
from ledger.core.calendar import financial_quarter
from ledger.reports import export_cells as cells
from ledger.reports.contract_rows import PAYING_TYPE, contract_rows, two_places
from ledger.reports.export_cells import safe
from ledger.reports.finance_codes import (
    CODE_COLUMNS,
    Mapping,
    read_mapping,  # noqa: F401  (app/reading.py reads it here)
)

GL_COLUMNS = ("date", "journal", "type", "account", "unit", "amount", "minor_units")
PAYMENT_COLUMNS = ("date", "journal", "type", "direction", "counterparty", "amount",
                   "minor_units")
STREAM_ROWS = 5000

# Postings of every posted journal dated in the period that touches one of the council's
# accounts, in date, journal and posting order. The journals are found from the council's
# accounts through the posting index (a posting carries its journal's date), not by
# probing every journal in the period.
_GL_SQL = text("""
SELECT j.date, j.key, j.type, a.path, p.unit, p.amount_minor
FROM journal j
JOIN posting p ON p.ledger_id = j.ledger_id AND p.journal_id = j.id
JOIN account a ON a.ledger_id = p.ledger_id AND a.id = p.account_id
WHERE j.ledger_id = :lid AND p.ledger_id = :lid AND a.ledger_id = :lid
  AND j.status = 'posted' AND j.date >= :start AND j.date <= :end
  AND j.id IN (SELECT q.journal_id FROM account b
               JOIN posting q ON q.ledger_id = b.ledger_id AND q.account_id = b.id
               WHERE b.ledger_id = :lid AND q.ledger_id = :lid
                 AND b.path LIKE :council_prefix ESCAPE '\\'
                 AND q.date >= :start AND q.date <= :end)
ORDER BY j.date, j.id, p.id
""").bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))
# The GBP postings of every posted journal dated in the period with a GBP posting on the
# council's funding account.
_PAYMENTS_SQL = text("""
SELECT j.date, j.key, j.type, a.path, p.amount_minor
FROM journal j
JOIN posting p ON p.ledger_id = j.ledger_id AND p.journal_id = j.id AND p.unit = 'GBP'
JOIN account a ON a.ledger_id = p.ledger_id AND a.id = p.account_id
WHERE j.ledger_id = :lid AND p.ledger_id = :lid AND a.ledger_id = :lid
  AND j.status = 'posted' AND j.date >= :start AND j.date <= :end
  AND j.id IN (SELECT q.journal_id FROM account b
               JOIN posting q ON q.ledger_id = b.ledger_id AND q.account_id = b.id
               WHERE b.ledger_id = :lid AND q.ledger_id = :lid
                 AND b.path = :funding AND q.unit = 'GBP'
                 AND q.date >= :start AND q.date <= :end)
ORDER BY j.date, j.id, p.id
""").bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))


def rows_gl(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date,
            unit: str | None = None) -> Iterator[tuple[str, str]]:
    """The (account, type) of every row of the GL export, the pairs its codes come from."""
    for _, _, kind, account, _, _ in _gl_postings(conn, lid, council, start, end, unit):
        yield account, kind


def _gl_postings(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date,
                 unit: str | None) -> Iterator[tuple]:
    """The GL's postings; with `unit`, only those in that unit (`GBP` or `HRS`)."""
    rows = _stream(conn, _GL_SQL, {"lid": lid, "start": start, "end": end,
                                   "council_prefix": _like_prefix(council)})
    return rows if unit is None else (row for row in rows if row[4] == unit)


def _code_cells(mapping: Mapping | None, account: str, kind: str) -> list[str]:
    if mapping is None:
        return []
    codes = mapping.codes(account, kind) or {}
    return [safe(codes.get(c, "")) for c in CODE_COLUMNS]


def check_mapped(mapping: Mapping | None, where, pairs) -> None:
    """Refuse, naming every (account, type) no entry of the mapping covers, so an export
    never carries a blank code (docs/exports.md#mapping). `where` names the file."""
    from ledger.errors import UsageError

    if mapping is None:
        return
    missing = sorted({f"{account} ({kind})" for account, kind in pairs
                      if mapping.codes(account, kind) is None})
    if missing:
        raise UsageError(f"{where}: no mapping for {len(missing)} "
                         f"account{'' if len(missing) == 1 else 's'}: " + ", ".join(missing))


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
             out: TextIO, excel: bool = False, mapping: Mapping | None = None,
             unit: str | None = None, split: bool = False) -> int:
    """One row per posting of every journal dated in the period with a posting on an
    account `council:{C}:*`, with its finance codes when a mapping is given (check
    `check_mapped` with `rows_gl` first), then the version 2 columns (description,
    financial year and period, exact hours) and, with `split`, debit and credit. With
    `unit`, only the rows in that unit. Returns the rows written."""
    write = _writer(out, excel)
    write.writerow([*GL_COLUMNS, *(CODE_COLUMNS if mapping else ()), *cells.GL_ADDED,
                    *(cells.GL_DEBIT_CREDIT if split else ())])
    rows = 0
    units = {unit.value: unit for unit in Unit}
    row = write.writerow
    for on, key, kind, account, code, minor in _gl_postings(conn, lid, council, start, end,
                                                             unit):
        minor = int(minor)
        day, year, period = _day(on)
        cells_ = [day, safe(key), safe(kind), safe(account), code,
                  format_amount(minor, units[code]), minor,
                  *_code_cells(mapping, account, kind),
                  safe(cells.description(kind, account)), year, period,
                  cells.hours_text(minor) if code == "HRS" else ""]  # a figure: unguarded
        if split:
            cells_ += cells.debit_credit(minor, units[code])
        row(cells_)
        rows += 1
    return rows


@lru_cache(maxsize=4096)
def _day(on: object) -> tuple[str, str, int]:
    """A journal's date as read (a date, or its text on some engines): the date as
    YYYY-MM-DD, its financial year and its period."""
    day = dt.date.fromisoformat(on) if isinstance(on, str) else on
    assert isinstance(day, dt.date)
    return (day.isoformat(), *cells.financial_period(day))


def payment_rows(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date
                 ) -> Iterator[tuple]:
    """(date, key, type, direction, counterparties, pence moved) per journal."""
    funding = f"council:{council}:funding"
    for on, key, kind, postings in _journals(_stream(conn, _PAYMENTS_SQL, {
            "lid": lid, "start": start, "end": end, "funding": funding})):
        moved = sum(minor for account, minor in postings if account == funding)
        if moved == 0:
            continue  # out and back within one journal: nothing paid
        others = sorted({account for account, minor in postings
                         if account != funding and (minor > 0) == (moved < 0)})
        yield on, key, kind, "payment" if moved < 0 else "recovery", others, moved


def rows_payments(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date
                  ) -> Iterator[tuple[str, str]]:
    """The (counterparty, type) of every row of the payments export."""
    for _, _, kind, _, others, _ in payment_rows(conn, lid, council, start, end):
        yield (others[0] if others else ""), kind


def write_payments(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date,
                   out: TextIO, excel: bool = False, mapping: Mapping | None = None,
                   total_line: bool = True) -> cells.PaymentTotals:
    """One row per journal in the period that moves money out of (`payment`) or back into
    (`recovery`) `council:{C}:funding`, then (with `total_line`, the default) the TOTAL
    line: the row count, and payments less recoveries. Returns the count and totals
    (the total line not counted)."""
    write = _writer(out, excel)
    write.writerow([*PAYMENT_COLUMNS, *(CODE_COLUMNS if mapping else ()),
                    *cells.PAYMENTS_ADDED])
    totals = cells.PaymentTotals()
    for on, key, kind, direction, others, moved in payment_rows(conn, lid, council, start,
                                                                 end):
        # Codes come from the counterparty (the first, when there are several).
        write.writerow([_iso(on), safe(key), safe(kind), direction, safe(" ".join(others)),
                        format_amount(abs(moved), Unit.GBP), abs(moved),
                        *_code_cells(mapping, others[0] if others else "", kind),
                        *(safe(ids) for ids in cells.parties_of(others))])
        totals.add(-moved)
    if total_line:
        write.writerow(["TOTAL", totals.rows, "", "", "", format_amount(totals.net, Unit.GBP),
                        totals.net, *(("", "", "") if mapping else ()), "", ""])
    return totals


def write_control(out: TextIO, totals: cells.PaymentTotals, council: str, start: dt.date,
                  end: dt.date, excel: bool = False) -> None:
    """The payments export's control file: a header and one row, the council, the period,
    the row count, and payments, recoveries and net in pounds and in pence."""
    write = _writer(out, excel)
    write.writerow(cells.CONTROL_COLUMNS)
    figures = []
    for pence in (totals.payments, totals.recoveries, totals.net):
        figures += [format_amount(pence, Unit.GBP), pence]
    write.writerow([safe(council), start.isoformat(), end.isoformat(), totals.rows, *figures])


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


def dp_monitoring_rows(store, council: str, as_of: dt.date, weeks: Fraction,
                       contingency_pence: int) -> list[dict]:
    """Every direct-payment account of the council's people on `as_of`: its balance, the
    weekly amount its schedules pay (with none in force, what one-off payments paid a
    week: reports/dp_paid.py), the weeks held, what may be kept (weekly amount x
    weeks, rounded once, plus the contingency) and the surplus above that (never below 0).
    A few queries in all, whatever the number of people."""
    from sqlalchemy import select

    from ledger.core.amounts import round_half_away
    from ledger.reports.balances import balances
    from ledger.reports.dp_paid import paid_weekly
    from ledger.store import models as m

    schedules: dict[str, list[dict]] = {}
    for state in store.states("dp_schedule").values():
        if state["council"] == council:
            schedules.setdefault(state["holder"], []).append(state)
    holders = sorted(pid for pid, p in store.parties("holder", as_of).items()
                     if p.get("council") == council)
    dp_accounts = set(store.conn.execute(select(m.Account.path).where(
        m.Account.ledger_id == store.lid, m.Account.path.like("holder:%:dp"))).scalars())
    held = {row.account: row.minor for row in balances(store.conn, as_of, "holder:", store.lid)
            if row.unit is Unit.GBP}
    one_off = paid_weekly(store, holders, as_of)
    rows = []
    for holder in holders:
        account = f"holder:{holder}:dp"
        if account not in dp_accounts:
            continue  # no direct payment
        balance = held.get(account, 0)
        weekly = (weekly_pence(schedules.get(holder, []), as_of)
                  or one_off.get(holder, Fraction(0)))  # no schedule: what was paid
        allowed = round_half_away(weekly * weeks)
        rows.append({"holder": holder, "account": account, "balance_minor": balance,
                     "weekly_amount_minor": round_half_away(weekly),
                     "weeks_held": two_places(Fraction(balance) / weekly) if weekly else "",
                     "contingency_minor": contingency_pence, "allowed_weeks": str(weeks),
                     "allowed_minor": allowed,
                     "surplus_minor": max(balance - contingency_pence - allowed, 0)})
    return rows


def write_dp_monitoring(store, council: str, as_of: dt.date, weeks: Fraction,
                        contingency_pence: int, out: TextIO, excel: bool = False,
                        mapping: Mapping | None = None, mapping_name: str = "") -> int:
    """`dp_monitoring_rows` as CSV, with the working. Posts nothing. With a mapping, each
    row takes the codes of its account for a `dp_review` journal, the one that would
    recover it."""
    rows = [[safe(r["holder"]), safe(r["account"]), format_amount(r["balance_minor"], Unit.GBP),
             r["balance_minor"], r["weekly_amount_minor"], r["weeks_held"],
             r["contingency_minor"], r["allowed_weeks"], r["allowed_minor"], r["surplus_minor"]]
            for r in dp_monitoring_rows(store, council, as_of, weeks, contingency_pence)]
    return _write_coded(out, excel, DP_MONITORING_COLUMNS, rows, mapping, mapping_name,
                        lambda row: (row[1], "dp_review"))


def _write_coded(out: TextIO, excel: bool, columns, rows: list[list], mapping, where,
                 key, added: tuple = ((), lambda row: ())) -> int:
    """Write a header and rows that were all worked out first, with the finance codes of
    `key(row)` (account, journal type) when there is a mapping, then the `added` columns
    (their names, and a function giving a row's cells); nothing at all when a row has no
    mapping."""
    check_mapped(mapping, where, (key(row) for row in rows))
    write = _writer(out, excel)
    added_columns, added_cells = added
    write.writerow([*columns, *(CODE_COLUMNS if mapping else ()), *added_columns])
    for row in rows:
        write.writerow([*row, *_code_cells(mapping, *key(row)), *added_cells(row)])
    return len(rows)


# ---------------------------------------------------------------- isf-returns

def write_isf_returns(store, council: str, month: str, out: TextIO,
                      excel: bool = False, mapping: Mapping | None = None,
                      mapping_name: str = "") -> int:
    """Per ISF of the council's people: the month's hours and money, allocated,
    delivered, expired and returned, opening and closing (docs/month-end.md#the-report,
    one row per ISF, every provider). With a mapping, each row takes the codes of its
    account `isf:{H}:{P}` for an `isf_reconcile` journal."""
    from ledger.reports.isf_month import ROW_KEYS, report

    by_provider: dict[str, list[str]] = {}
    for ref in store.state_refs("isf"):
        state = store.get_state("isf", ref)
        if state is not None and state["council"] == council:
            by_provider.setdefault(state["provider"], []).append(state["holder"])
    columns = ["holder", "provider", *[k for k in ROW_KEYS if k not in ("holder", "flag")]]
    found = []
    for provider in sorted(by_provider):
        for row in report(store, provider, month, Fraction(10), by_provider[provider])["isfs"]:
            found.append({**row, "provider": provider})
    rows = [[safe(str(row[c])) if c in ("holder", "provider") else row[c] for c in columns]
            for row in sorted(found, key=lambda r: (r["holder"], r["provider"]))]
    # Column spec version 2: each money column again in pounds, after the others.
    money = [i for i, c in enumerate(columns) if c.startswith("money_")]
    pounds = ([columns[i].removesuffix("_minor") for i in money],
              lambda row: [format_amount(row[i], Unit.GBP) for i in money])
    # Party ids never begin with a character `safe` guards, so the cells are the ids.
    return _write_coded(out, excel, columns, rows, mapping, mapping_name,
                        lambda cells: (f"isf:{cells[0]}:{cells[1]}", "isf_reconcile"),
                        pounds)


# ---------------------------------------------------------------- contracts

CONTRACT_COLUMNS = ("quarter", "kind", "contract", "provider", "service",
                    "rate_pence_per_hour", "spend", "spend_minor", "hours_minutes",
                    "contracted_minor", "capacity_minutes", "utilisation_percent")


def write_contracts(store, council: str, start: dt.date, end: dt.date, out: TextIO,
                    excel: bool = False, mapping: Mapping | None = None,
                    mapping_name: str = "") -> int:
    """`contract_rows` as CSV: per contract and financial quarter, what the council spent
    and the hours it bought, against what was contracted (docs/exports.md#contracts).
    With a mapping, each row takes the codes of `provider:{P}:income` for the contract's
    paying journal type."""

    def blank(value: object) -> object:
        return "" if value is None else value

    rows = [[r.quarter, r.kind, safe(r.contract), safe(r.provider), safe(r.service),
             blank(r.rate_pence_per_hour), format_amount(r.spend_minor, Unit.GBP),
             r.spend_minor, r.hours_minutes, blank(r.contracted_minor),
             blank(r.capacity_minutes), blank(r.utilisation_percent)]
            for r in contract_rows(store, council, start, end)]
    return _write_coded(out, excel, CONTRACT_COLUMNS, rows, mapping, mapping_name,
                        lambda row: (f"provider:{row[3]}:income", PAYING_TYPE[row[1]]))


__all__ = ["GL_COLUMNS", "PAYMENT_COLUMNS", "financial_quarter", "safe", "write_contracts",
           "write_dp_monitoring", "write_gl", "write_isf_returns", "write_payments"]
