"""The month-end commands, timesheet files and bank statements in the oracle model.

Sources: docs/month-end.md, docs/dp-statements.md, and the contract rules dated 2026-12-06
restated here:
- `ledger isf advance --provider P --month M` advances every ISF of P opened on or before
  M's last day, still open, and not yet advanced for M (one reversed no longer counts),
  dated M's first day, or the opening day for an ISF opened later in M. All or nothing:
  one refused event and nothing is posted, exit 1.
- `ledger isf reconcile --provider P --month M` reconciles every ISF of P advanced for M
  and not yet reconciled for M, dated M's last day, then prints the month's report; an
  ISF open in M but never advanced for it is left alone.
- A timesheet row is one `isf_delivery` (whole file all or nothing, exit 2, each problem
  as FILE:LINE); its key is its reference, else the visit (provider, holder, date, start
  or occurrence among that person's rows of that date, worker); a row already recorded
  is skipped, the same key with other minutes is refused; identical rows without a
  reference not already recorded are refused (the second told apart from the first by
  occurrence); times are Europe/London wall-clock times; start = end is
  refused; a row in a reconciled month is refused unless `--late-to-open-month`.
- A bank line of money out is a `dp_spend` to the payee of the first payee rule found in
  its description; money in must match a recorded council payment or contribution (same
  amount, within 5 days, nearest first, each used once). A line's key is its date,
  amount and occurrence among equal lines of that date; a line already recorded is
  skipped, one recorded under its key with another date, amount or payee is refused (the
  payee rules are not needed for a recorded line). A balance column is checked at the
  end of each date.
An `Outcome` is what the command should do: its exit status, the file lines it refuses,
and (reconcile) the report rows. `NotModelled` means the docs leave the case open.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from tests.oracle.core import (
    GBP,
    HRS,
    NotModelled,
    Refused,
    minutes,
    month_first,
    month_index,
    month_last,
    month_of,
)
from tests.oracle.model import Model

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC

REPORT_KEYS = (
    "hours_opening_minutes", "hours_allocated_minutes", "hours_delivered_minutes",
    "hours_expired_minutes", "hours_other_minutes", "hours_closing_minutes",
    "money_opening_minor", "money_in_minor", "money_delivered_minor", "money_fees_minor",
    "money_purchases_minor", "money_returned_minor", "money_other_minor",
    "money_closing_minor",
)
# (journal type, unit, direction) -> report key; anything else is `other`, signed.
KINDS = {
    ("isf_advance", HRS, 1): "hours_allocated_minutes",
    ("isf_delivery", HRS, -1): "hours_delivered_minutes",
    ("isf_hours_expiry", HRS, -1): "hours_expired_minutes",
    ("isf_advance", GBP, 1): "money_in_minor",
    ("isf_delivery", GBP, -1): "money_delivered_minor",
    ("isf_fee", GBP, -1): "money_fees_minor",
    ("isf_purchase", GBP, -1): "money_purchases_minor",
    ("isf_underspend_return", GBP, -1): "money_returned_minor",
}


@dataclass
class Outcome:
    exit: int
    problems: list[int] = field(default_factory=list)  # file lines, the header is line 1
    rows: dict[str, dict] | None = None  # reconcile: the month's report by holder
    reconciled: list[str] = field(default_factory=list)  # holders reconciled by this run


def _batch(model: Model, batch: list[tuple[dict, str]], refused_exit: int) -> Outcome:
    """All or nothing: any refused event and the model is left as it was."""
    saved = copy.deepcopy(model.__dict__)
    try:
        for raw, key in batch:
            model.apply(raw, key)
    except (Refused, NotModelled) as err:
        model.__dict__.clear()
        model.__dict__.update(saved)
        if isinstance(err, NotModelled):
            raise
        return Outcome(refused_exit)
    return Outcome(0)


def _key(model: Model, h: str, p: str, month: str, what: str) -> str:
    """docs/month-end.md: `isf-month-end/{P}/{H}/{M}/advance`, `/agreement-{n}` after the
    month for a reopened ISF, and `/advance/{n+1}` after n reversed advances of the month."""
    isf = model.isfs[(h, p)]
    key = f"isf-month-end/{p}/{h}/{month}"
    if isf["agreement"] > 1:
        key += f"/agreement-{isf['agreement']}"
    key += f"/{what}"
    reversed_ = sum(1 for done in model.events.values() if done["type"] == "isf_advance"
                    and done.get("isf") == (h, p) and done["agreement"] == isf["agreement"]
                    and done["month"] == month_index(month) and done["reversed"])
    return f"{key}/{reversed_ + 1}" if what == "advance" and reversed_ else key


# ------------------------------------------------------------------ month end

def advance(model: Model, provider: str, month: str) -> Outcome:
    if provider not in model.parties["provider"]:
        return Outcome(2)
    m = month_index(month)
    batch = []
    for (h, p), isf in sorted(model.isfs.items()):
        if (p != provider or isf["status"] != "open" or isf["open_date"] > month_last(m)
                or m in isf["advanced"]):
            continue
        raw = {"date": max(month_first(m), isf["open_date"]), "type": "isf_advance",
               "holder": h, "provider": p, "month": month}
        batch.append((raw, _key(model, h, p, month, "advance")))
    return _batch(model, batch, 1)


def reconcile(model: Model, provider: str, month: str) -> Outcome:
    if provider not in model.parties["provider"]:
        return Outcome(2)
    m = month_index(month)
    batch = []
    for (h, p), isf in sorted(model.isfs.items()):
        # A closed ISF is settled by its closure and takes no event (QUESTIONS.md).
        if (p != provider or isf["status"] != "open" or m not in isf["advanced"]
                or m in isf["reconciled"]):
            continue
        raw = {"date": month_last(m), "type": "isf_reconcile", "holder": h, "provider": p,
               "month": month}
        batch.append((raw, _key(model, h, p, month, "reconcile")))
    out = _batch(model, batch, 1)
    if out.exit == 0:
        out.rows = report(model, provider, m)
        out.reconciled = [raw["holder"] for raw, _ in batch]
    return out


def report(model: Model, provider: str, m: int) -> dict[str, dict]:
    """docs/month-end.md "The report", one row per ISF account of the provider."""
    first, last = month_first(m), month_last(m)
    rows = {}
    for h, p in sorted(model.isfs):
        if p != provider:
            continue
        acct = f"isf:{h}:{p}"
        row = dict.fromkeys(REPORT_KEYS, 0)
        for unit, name in ((HRS, "hours"), (GBP, "money")):
            suffix = "minutes" if unit == HRS else "minor"
            row[f"{name}_opening_{suffix}"] = model.balance(acct, unit,
                                                            first - dt.timedelta(days=1))
            row[f"{name}_closing_{suffix}"] = model.balance(acct, unit, last)
        for j in model.journals:
            if not first <= j.date <= last:
                continue
            for a, u, x in j.postings:
                if a != acct:
                    continue
                key = KINDS.get((j.type, u, 1 if x > 0 else -1))
                if key is None:
                    row["hours_other_minutes" if u == HRS else "money_other_minor"] += x
                else:
                    row[key] += abs(x)
        rows[h] = row
    return rows


# ------------------------------------------------------------------ timesheets

def _hhmm(text: str) -> dt.time:
    return dt.time(int(text[:2]), int(text[3:]))


def _exists(day: dt.date, at: dt.time) -> bool:
    """A wall-clock time that happens exactly once that day in Europe/London."""
    naive = dt.datetime.combine(day, at)
    offsets = set()
    for fold in (0, 1):
        local = naive.replace(tzinfo=LONDON, fold=fold)
        if local.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != naive:
            return False
        offsets.add(local.utcoffset())
    return len(offsets) == 1


def visit_minutes(day: dt.date, start: str, end: str) -> int | None:
    """Real minutes from start to end (end before start: the next day); None if refused."""
    s, e = _hhmm(start), _hhmm(end)
    end_day = day + dt.timedelta(days=1) if e < s else day
    if s == e or not _exists(day, s) or not _exists(end_day, e):
        return None
    begin = dt.datetime.combine(day, s, LONDON).astimezone(UTC)
    finish = dt.datetime.combine(end_day, e, LONDON).astimezone(UTC)
    return int((finish - begin).total_seconds()) // 60


def import_timesheet(model: Model, provider: str, rows: list[dict],
                     late: bool = False) -> Outcome:
    """Each row: holder, date, hours or start and end, reference?, worker? (as written)."""
    if provider not in model.parties["provider"]:
        return Outcome(2)
    problems, batch, seen, file_keys = [], [], set(), set()
    occurrence: Counter = Counter()
    repeats: dict[tuple, int] = {}
    for line, row in enumerate(rows, start=2):
        h, day, ref, worker = row["holder"], row["date"], row.get("reference"), row.get("worker")
        identical = not ref and tuple(sorted(row.items())) in seen
        if not ref:
            seen.add(tuple(sorted(row.items())))
        if "hours" in row:
            occurrence[(h, day)] += 1
            hours, visit = row["hours"], occurrence[(h, day)]
            try:
                mins = minutes(hours)
            except Refused:
                problems.append(line)
                continue
        else:
            mins = visit_minutes(day, row["start"], row["end"])
            if mins is None:
                problems.append(line)
                continue
            hours, visit = f"{mins // 60}:{mins % 60:02d}", row["start"]
        key = ("timesheet", provider, "ref", ref) if ref else (
            "timesheet", provider, h, day, visit, worker)
        if identical and key in file_keys:  # the same start: told apart by occurrence
            repeats[key] = repeats.get(key, 1) + 1
            key += (repeats[key],)
        if key in file_keys:
            raise NotModelled("two rows of one file with one key")
        file_keys.add(key)
        content = (h, day, mins, worker)
        if key in model.imported:  # skipped before the identical-rows check
            if model.imported[key] != content:
                problems.append(line)  # changed since it was imported
            continue
        if identical:
            problems.append(line)  # a likely duplicate
            continue
        raw = {"date": day, "type": "isf_delivery", "holder": h, "provider": provider,
               "hours": hours}
        isf = model.isfs.get((h, provider))
        if late and isf is not None and isf["status"] == "open" and model.closed_month(
                isf, month_of(day)):
            moved = month_first(isf["reconciled"][-1] + 1)
            if model.lock is not None:
                moved = max(moved, model.lock + dt.timedelta(days=1))
            raw.update(date=moved, worked_on=day)
        batch.append((line, raw, key, content))
    saved = copy.deepcopy(model.__dict__)
    for line, raw, key, _ in batch:
        try:
            model.apply(raw, "/".join(map(str, key)))
        except Refused:
            problems.append(line)
        except NotModelled:
            model.__dict__.clear()
            model.__dict__.update(saved)
            raise
    if problems:
        model.__dict__.clear()
        model.__dict__.update(saved)
        return Outcome(2, sorted(problems))
    for _, _, key, content in batch:
        model.imported[key] = content
    return Outcome(0)


# ------------------------------------------------------------------ bank statements

def payments_into(model: Model, holder: str) -> list[tuple[tuple, dt.date, int]]:
    """Council payments (one-off or scheduled) and contributions into holder:H:dp that
    stand (not reversed), as (id, date, pence), in the order recorded."""
    out, count = [], Counter()
    for j in model.journals:
        count[j.event] += 1
        done = model.events.get(j.event)
        if j.type not in ("dp_payment", "contribution") or (done and done["reversed"]):
            continue
        for a, u, x in j.postings:
            if (a, u) == (f"holder:{holder}:dp", GBP) and x > 0:
                out.append(((j.event, count[j.event]), j.date, x))
    return out


def import_bank(model: Model, holder: str, lines: list[dict],
                payees: list[tuple[str, str]]) -> Outcome:
    """Each line: date, description, amount (signed pence), reference?, balance? (pence)."""
    if holder not in model.parties["holder"]:
        return Outcome(2)
    problems, batch, used, matches = [], [], set(), {}
    occurrence: Counter = Counter()
    candidates = payments_into(model, holder)
    for line, row in enumerate(lines, start=2):
        day, amount, ref = row["date"], row["amount"], row.get("reference")
        occurrence[(day, amount)] += 1
        key = ("bank", holder, "ref", ref) if ref else (
            "bank", holder, day, amount, occurrence[(day, amount)])
        if amount > 0:
            near = sorted((abs((d - day).days), pid) for pid, d, x in candidates
                          if x == amount and abs((d - day).days) <= 5 and pid not in used)
            if not near:
                problems.append(line)  # money in that matches nothing recorded
                continue
            if len(near) > 1 and near[0][0] == near[1][0]:
                raise NotModelled("two payments equally near one line")
            pid = near[0][1]
            if model.matched.get(pid, key) != key or any(
                    k == key and p != pid for p, k in model.matched.items()):
                raise NotModelled("a payment matched by another line of an earlier import")
            used.add(pid)
            matches[pid] = key
            continue
        payee = next((name for pattern, name in payees
                      if re.search(pattern, row["description"], re.IGNORECASE)), None)
        content = (day, amount, payee)
        if key in model.imported:
            recorded = model.imported[key]
            if recorded[:2] != content[:2] or payee not in (None, recorded[2]):
                problems.append(line)  # changed since it was imported
            continue
        if payee is None:
            problems.append(line)  # a line it cannot place
            continue
        raw = {"date": day, "type": "dp_spend", "holder": holder, "payee": payee,
               "amount": f"{-amount // 100}.{-amount % 100:02d}"}
        batch.append((line, raw, key, content))
    saved = copy.deepcopy(model.__dict__)
    for line, raw, key, _ in batch:
        try:
            model.apply(raw, "/".join(map(str, key)))
        except Refused:
            problems.append(line)
        except NotModelled:
            model.__dict__.clear()
            model.__dict__.update(saved)
            raise
    last_of_day = {row["date"]: line for line, row in enumerate(lines, start=2)}
    for day, line in sorted(last_of_day.items()):
        given = lines[line - 2].get("balance")
        if given is not None and given != model.balance(f"holder:{holder}:dp", GBP, day):
            problems.append(line)
            break  # the first mismatch is reported
    if problems:
        model.__dict__.clear()
        model.__dict__.update(saved)
        return Outcome(2, sorted(set(problems)))
    for _, _, key, content in batch:
        model.imported[key] = content
    model.matched.update(matches)
    return Outcome(0)
