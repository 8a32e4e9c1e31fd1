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
# accounts, in date, journal and posting order. The journals are found from the council's
# accounts through the posting index (a posting carries its journal's date), not by
# probing every journal in the period.
_GL_SQL = text("""
SELECT j.date, j.key, j.type, a.path, p.unit, p.amount_minor
FROM journal j
JOIN posting p ON p.journal_id = j.id
JOIN account a ON a.id = p.account_id
WHERE j.ledger_id = :lid AND j.status = 'posted' AND j.date >= :start AND j.date <= :end
  AND j.id IN (SELECT q.journal_id FROM account b JOIN posting q ON q.account_id = b.id
               WHERE b.ledger_id = :lid AND b.path LIKE :council_prefix ESCAPE '\\'
                 AND q.date >= :start AND q.date <= :end)
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
  AND j.id IN (SELECT q.journal_id FROM account b JOIN posting q ON q.account_id = b.id
               WHERE b.ledger_id = :lid AND b.path = :funding AND q.unit = 'GBP'
                 AND q.date >= :start AND q.date <= :end)
ORDER BY j.date, j.id, p.id
""").bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))


CODE_COLUMNS = ("cost_centre", "nominal", "supplier")


class Mapping:
    """Finance codes for accounts (docs/exports.md#mapping): each entry a glob `match` on
    the account path, optionally only for some journal `types`, and any of `cost_centre`,
    `nominal` and `supplier`. The first entry that matches gives a row its codes."""

    def __init__(self, entries: list[dict]) -> None:
        self.entries = entries

    def codes(self, account: str, kind: str) -> dict | None:
        from fnmatch import fnmatchcase

        for entry in self.entries:
            if fnmatchcase(account, entry["match"]) and (
                    not entry.get("types") or kind in entry["types"]):
                return entry
        return None


def read_mapping(path) -> Mapping:
    """A mapping file (YAML): `accounts:` a list of entries. Anything else is one line of
    error naming the entry."""
    import yaml

    from ledger.errors import UsageError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UsageError(f"{path}: cannot read the mapping ({err})") from None
    entries = data.get("accounts") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: a mapping is `accounts:` with a list of entries")
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: accounts entry {n}"
        if not isinstance(entry, dict) or not isinstance(entry.get("match"), str):
            raise UsageError(f"{where}: needs `match: ACCOUNT-PATTERN`")
        unknown = set(entry) - {"match", "types", *CODE_COLUMNS}
        if unknown:
            raise UsageError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        if not any(isinstance(entry.get(c), str | int) for c in CODE_COLUMNS):
            raise UsageError(f"{where}: gives no code (cost_centre, nominal or supplier)")
        types = entry.get("types")
        if types is not None and (not isinstance(types, list)
                                  or not all(isinstance(t, str) for t in types)):
            raise UsageError(f"{where}: `types` is a list of journal types")
        for c in CODE_COLUMNS:
            if c in entry:
                entry[c] = str(entry[c])
    return Mapping(entries)


def rows_gl(conn: Connection, lid: int, council: str, start: dt.date, end: dt.date
            ) -> Iterator[tuple[str, str]]:
    """The (account, type) of every row of the GL export, the pairs its codes come from."""
    for _, _, kind, account, _, _ in _stream(conn, _GL_SQL, {
            "lid": lid, "start": start, "end": end,
            "council_prefix": _like_prefix(council)}):
        yield account, kind


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
             out: TextIO, excel: bool = False, mapping: Mapping | None = None) -> int:
    """One row per posting of every journal dated in the period with a posting on an
    account `council:{C}:*`, with its finance codes when a mapping is given (check
    `check_mapped` with `rows_gl` first). Returns the rows written."""
    write = _writer(out, excel)
    write.writerow([*GL_COLUMNS, *(CODE_COLUMNS if mapping else ())])
    rows = 0
    units = {unit.value: unit for unit in Unit}
    row = write.writerow
    for on, key, kind, account, unit, minor in _stream(conn, _GL_SQL, {
            "lid": lid, "start": start, "end": end,
            "council_prefix": _like_prefix(council)}):
        minor = int(minor)
        cells = [on if type(on) is str else on.isoformat(), safe(key), safe(kind),
                 safe(account), unit, format_amount(minor, units[unit]), minor]
        if mapping is not None:
            cells += _code_cells(mapping, account, kind)
        row(cells)
        rows += 1
    return rows


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
                   out: TextIO, excel: bool = False, mapping: Mapping | None = None) -> int:
    """One row per journal in the period that moves money out of (`payment`) or back into
    (`recovery`) `council:{C}:funding`, then the TOTAL line: the row count, and payments
    less recoveries. Returns the rows written (the total line not counted)."""
    write = _writer(out, excel)
    write.writerow([*PAYMENT_COLUMNS, *(CODE_COLUMNS if mapping else ())])
    rows = net = 0
    for on, key, kind, direction, others, moved in payment_rows(conn, lid, council, start,
                                                                 end):
        # Codes come from the counterparty (the first, when there are several).
        write.writerow([_iso(on), safe(key), safe(kind), direction, safe(" ".join(others)),
                        format_amount(abs(moved), Unit.GBP), abs(moved),
                        *_code_cells(mapping, others[0] if others else "", kind)])
        rows += 1
        net += -moved
    write.writerow(["TOTAL", rows, "", "", "", format_amount(net, Unit.GBP), net,
                    *(("", "", "") if mapping else ())])
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


def dp_monitoring_rows(store, council: str, as_of: dt.date, weeks: Fraction,
                       contingency_pence: int) -> list[dict]:
    """Every direct-payment account of the council's people on `as_of`: its balance, the
    weekly amount its schedules pay, the weeks held, what may be kept (weekly amount x
    weeks, rounded once, plus the contingency) and the surplus above that (never below 0).
    A few queries in all, whatever the number of people."""
    from sqlalchemy import select

    from ledger.core.amounts import round_half_away
    from ledger.reports.balances import balances
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
    rows = []
    for holder in holders:
        account = f"holder:{holder}:dp"
        if account not in dp_accounts:
            continue  # no direct payment
        balance = held.get(account, 0)
        weekly = weekly_pence(schedules.get(holder, []), as_of)
        allowed = round_half_away(weekly * weeks)
        rows.append({"holder": holder, "account": account, "balance_minor": balance,
                     "weekly_amount_minor": round_half_away(weekly),
                     "weeks_held": _two_places(Fraction(balance) / weekly) if weekly else "",
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
                 key) -> int:
    """Write a header and rows that were all worked out first, with the finance codes of
    `key(row)` (account, journal type) when there is a mapping; nothing at all when a
    row has no mapping."""
    check_mapped(mapping, where, (key(row) for row in rows))
    write = _writer(out, excel)
    write.writerow([*columns, *(CODE_COLUMNS if mapping else ())])
    for row in rows:
        write.writerow([*row, *_code_cells(mapping, *key(row))])
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
    # Party ids never begin with a character `safe` guards, so the cells are the ids.
    return _write_coded(out, excel, columns, rows, mapping, mapping_name,
                        lambda cells: (f"isf:{cells[0]}:{cells[1]}", "isf_reconcile"))


# ---------------------------------------------------------------- contracts

CONTRACT_COLUMNS = ("quarter", "kind", "contract", "provider", "service",
                    "rate_pence_per_hour", "spend", "spend_minor", "hours_minutes",
                    "contracted_minor", "capacity_minutes", "utilisation_percent")
_CONTRACT_TYPES = ("calloff", "block_payment", "block_usage", "spot_purchase", "grant")


def financial_quarter(on: dt.date) -> str:
    """UK public-sector quarters: Q1 is April to June. `2026-27 Q1`."""
    year = on.year if on.month >= 4 else on.year - 1
    quarter = (on.month - 4) % 12 // 3 + 1
    return f"{year}-{(year + 1) % 100:02d} Q{quarter}"


def write_contracts(store, council: str, start: dt.date, end: dt.date, out: TextIO,
                    excel: bool = False, mapping: Mapping | None = None,
                    mapping_name: str = "") -> int:
    """Per contract and financial quarter, what the council spent and the hours it
    bought, against what was contracted (docs/exports.md#contracts). A reversal counts
    against the contract of the journal it reverses. With a mapping, each row takes the
    codes of `provider:{P}:income` for the contract's paying journal type."""
    from ledger.store import models as m

    funding, hours_account = f"council:{council}:funding", f"council:{council}:hours"
    found = store.load_journals(
        m.Journal.date <= end,
        m.Journal.type.in_([*_CONTRACT_TYPES, "reversal"]))
    by_key = {j.key: j for j in found}
    groups: dict[tuple, dict] = {}
    for j in found:
        if j.date < start:
            continue
        origin = by_key.get(j.reverses_key) if j.type == "reversal" else j
        if origin is None or origin.type not in _CONTRACT_TYPES:
            continue
        spend = -sum(p.amount_minor for p in j.postings
                     if p.account == funding and p.unit is Unit.GBP)
        minutes = -sum(p.amount_minor for p in j.postings
                       if p.account == hours_account and p.unit is Unit.HRS)
        if not spend and not minutes:
            continue  # another council's
        provider = next((p.account.split(":")[1] for p in origin.postings
                         if p.account.startswith("provider:")), "")
        memo = origin.memo
        kind = {"calloff": "framework", "block_payment": "block", "block_usage": "block",
                "spot_purchase": "spot", "grant": "grant"}[origin.type]
        contract = memo.get("contract") or memo.get("framework") or f"{kind}:{provider}"
        service = memo.get("service", "")
        rate = memo.get("rate_pence_per_hour", "")
        key = (financial_quarter(j.date), kind, contract, provider, service, rate)
        group = groups.setdefault(key, {"spend": 0, "minutes": 0})
        group["spend"] += spend
        group["minutes"] += minutes
    rows = []
    for (quarter, kind, contract, provider, service, rate), group in sorted(
            groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        contracted, capacity, utilisation = "", "", ""
        if kind == "block":
            block = store.get_state("block", contract) or {}
            months = _months_in(quarter, block, start, end)
            contracted = block.get("amount_per_month_pence", 0) * months
            capacity = block.get("capacity_minutes_per_month", 0) * months
            if capacity:
                utilisation = _two_places(Fraction(group["minutes"] * 100, capacity))
        rows.append([quarter, kind, safe(contract), safe(provider), safe(service), rate,
                     format_amount(group["spend"], Unit.GBP), group["spend"],
                     group["minutes"], contracted, capacity, utilisation])
    paying = {"framework": "calloff", "block": "block_payment", "spot": "spot_purchase",
              "grant": "grant"}
    return _write_coded(out, excel, CONTRACT_COLUMNS, rows, mapping, mapping_name,
                        lambda row: (f"provider:{row[3]}:income",
                                     paying[row[1]]))


def _months_in(quarter: str, block: dict, start: dt.date, end: dt.date) -> int:
    """Months of the quarter within the period that the block was open on the 1st of."""
    year, q = int(quarter[:4]), int(quarter[-1])
    count = 0
    for i in range(3):
        month = 4 + (q - 1) * 3 + i
        first = dt.date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
        if not start.replace(day=1) <= first <= end:
            continue
        opened = block.get("opened", "9999")[:7]
        closed = block.get("closed")
        if opened <= first.isoformat()[:7] and (closed is None or closed >= first.isoformat()):
            count += 1
    return count


__all__ = ["GL_COLUMNS", "PAYMENT_COLUMNS", "financial_quarter", "safe", "write_contracts",
           "write_dp_monitoring", "write_gl", "write_isf_returns", "write_payments"]
