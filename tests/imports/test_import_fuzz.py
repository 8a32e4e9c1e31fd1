"""Mutated real-shaped files: never a traceback, never a partial posting
(docs/month-end.md#timesheets, docs/dp-statements.md: all or nothing, `FILE:LINE: reason`).

Each example starts from a file an export really writes (a provider's own timesheet, a
care-planning visit export in cp1252 with a rules file, a bank's newest-first statement with
a balance column, a decimal-comma statement with pending lines) and damages it the ways
files get damaged: characters dropped, doubled or swapped, lines cut, doubled or swapped,
columns swapped, stray quotes, NUL bytes, bytes that are not UTF-8, odd separators, huge or
negative numbers, empty cells, a byte order mark in the middle, CR-only line endings;
sometimes the rules file is damaged instead. The import then runs twice on a fresh ledger,
as a dry run and for real:

- the exit status is 0 or 2 and nothing is a traceback;
- on exit 2 every line of stderr names the file (or the rules file) and a line
  (`FILE:LINE: reason`, or `FILE: ...` for the whole file), the dry run refused the same
  way, and nothing at all was posted (balances and event count unchanged);
- on exit 0 the balances moved by exactly the sum of what the dry run said it would post,
  and importing the same file again posts nothing."""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("IMPORT_FUZZ_EXAMPLES", "60"))  # soak: 1000
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
PARTIES = """\
format: 1
name: setup
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1000.00"}
  - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
"""
SETUP = PARTIES + "".join(
    f"  - {{date: 2026-04-01, type: isf_open, holder: {h}, provider: SH, hours_per_month: 40,"
    f" rate: \"20.00\", carry: {{max_borrow_hours: 20}}}}\n"
    f"  - {{date: 2026-04-01, type: isf_advance, holder: {h}, provider: SH, month: 2026-04}}\n"
    for h in ("H1", "H2"))

PAYEES = """\
payee (?i)jane\\s+smith = PA-JANE | wages
payee ^TESCO = TESCO | shopping
payee caf = CAFE | leisure
"""
# (kind, file bytes, rules text or None, separator)
FILES = [
    ("timesheet", """\
holder,date,start,end,hours,worker,reference,notes
H1,2026-04-03,09:00,10:30,,Pat,,shopping
H1,03/04/2026,22:00,06:30,,Sam,,
H2,2026-04-04,,,2:30,Zoë,R17,
H1,2026-04-05,,,1.5,Pat,,"notes, with a comma"
H2,06/04/2026,13:15,14:00,,,,
""".encode("utf-8-sig"), None, b","),
    ("timesheet", """\
Visit ID;Client Ref;Visit Date;Actual Start;Actual End;Carer;Visit Status;Hours
V1001;H1;01/04/2026;08:00;08:45;Zoë;Completed;9
V1002;H2;01/04/2026;21:30;07:00;Jo;Completed;9
V1003;H1;02/04/2026;12:00;12:00;Jo;Cancelled;0
V1004;H2;30/04/2026;23:00;01:15;Renée;Completed;2
""".replace("\n", "\r\n").encode("cp1252"), """\
# a care-planning visit export (Windows)
separator ;
encoding cp1252
column holder = Client Ref
column date = Visit Date
column start = Actual Start
column end = Actual End
column worker = Carer
column reference = Visit ID
skip Visit Status = cancelled
""", b";"),
    ("bank", b"""\
Date,Details,Money In,Money Out,Balance
12/04/2026,TESCO STORES 2231,,23.45,603.10
12/04/2026,TESCO STORES 2231,,23.45,626.55
10/04/2026,JANE SMITH APRIL,,\"\xc2\xa3400.00\",650.00
03/04/2026,H1 contribution,50.00,,\"1,050.00\"
03/04/2026,Wokingham BC DP,\"1,000.00\",,\"1,000.00\"
""", """\
# our bank's export, newest first
column date = Date
column description = Details
column paid_in = Money In
column paid_out = Money Out
column balance = Balance
""" + PAYEES, b","),
    ("bank", """\
Transaction Date\tDescription\tAmount\tRef
2026-04-10\tJANE SMITH APRIL\t-400,00\tT1
2026-04-11\tTESCO STORES PENDING\t-5,00\t
2026-04-12\tCafé Zoë\t-12,50\tT2
2026-04-12\tTESCO STORES\t-1,05\t
""".encode(), """\
# a card statement: tabs, decimal commas, pending lines
separator tab
decimal ,
date %m/%d/%Y
column date = Transaction Date
column description = Description
column amount = Amount
column reference = Ref
pending description pending
""" + PAYEES, b"\t"),
]

# ------------------------------------------------------------------ damage

ODD_BYTES = [b"\xff", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80", b"\x81", b"\x00", b"\xef\xbb\xbf"]
OPS = ["drop", "double", "swap", "cut", "cut_line", "double_line", "swap_lines",
       "swap_columns", "quote", "odd_bytes", "odd_separator", "huge", "negative",
       "empty_cell", "cr_only", "blank_line"]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _cells(line: bytes, sep: bytes) -> tuple[list[bytes], bytes]:
    body = line.rstrip(b"\r\n")
    return body.split(sep), line[len(body):]


def damage(data: bytes, op: str, a: int, b: int, sep: bytes) -> bytes:
    """One kind of damage at places a and b (taken modulo the file's size)."""
    i, lines = a % (len(data) + 1), _lines(data)
    k, m = a % len(lines), b % len(lines)
    if op in ("drop", "double", "swap", "cut"):
        return {"drop": data[:i] + data[i + 1:], "double": data[:i] + data[i:i + 1] + data[i:],
                "swap": data[:i] + data[i + 1:i + 2] + data[i:i + 1] + data[i + 2:],
                "cut": data[:i]}[op]
    if op in ("quote", "odd_bytes", "blank_line"):
        bit = {"quote": b'"', "blank_line": b"\n", "odd_bytes": ODD_BYTES[b % len(ODD_BYTES)]}
        return data[:i] + bit[op] + data[i:]
    if op == "cut_line":
        return b"".join(lines[:k] + lines[k + 1:])
    if op == "double_line":
        return b"".join(lines[:k + 1] + lines[k:])
    if op == "swap_lines":
        lines[k], lines[m] = lines[m], lines[k]
        return b"".join(lines)
    if op == "cr_only":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    if op == "odd_separator":
        lines[k] = lines[k].replace(sep, [b"|", b";", b"\t", b","][b % 4])
        return b"".join(lines)
    out = []
    for n, line in enumerate(lines):
        cells, end = _cells(line, sep)
        j, h = b % len(cells), a % len(cells)
        if op == "swap_columns":
            cells[j], cells[h] = cells[h], cells[j]
        elif n == k and op == "empty_cell":
            cells[j] = b""
        elif n == k and op == "huge":
            cells[j] = re.sub(rb"\d", b"9" * 30, cells[j], count=1) if b % 2 else b"1e308"
        elif n == k and op == "negative":
            cells[j] = b"-" + cells[j]
        out.append(sep.join(cells) + end)
    return b"".join(out)


damages = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 10**6),
                             st.integers(0, 10**6), st.integers(0, 9)), min_size=1, max_size=4)


# ------------------------------------------------------------------ reading the answers

def posted_by_dry_run(stdout: str, path, kind: str) -> dict[tuple[str, str], int]:
    """What the dry run said it would post, as the balance changes it makes."""
    moved: dict[tuple[str, str], int] = {}
    prefix = re.escape(str(path))
    if kind == "timesheet":
        for h, mm, holder in re.findall(
                rf"^{prefix}:\d+: would post (\d+):(\d\d) for (\S+) on ", stdout, re.M):
            key = (f"isf:{holder}:SH", "HRS")
            moved[key] = moved.get(key, 0) - int(h) * 60 - int(mm)
    else:
        for pounds, pence in re.findall(
                rf"^{prefix}:\d+: would post a spend of £([\d,]+)\.(\d\d) to ", stdout, re.M):
            key = ("holder:H1:dp", "GBP")
            moved[key] = moved.get(key, 0) - int(pounds.replace(",", "")) * 100 - int(pence)
    return moved


def check_refusal(stderr: str, path, rules) -> None:
    named = [re.escape(str(p)) for p in (path, rules) if p is not None]
    where = re.compile(rf"^(?:error: )?(?:{'|'.join(named)})(?::\d+)?: \S")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "exit 2 with nothing on stderr"
    for line in lines:
        assert where.match(line), f"a refusal that names no file and line: {line!r}"


@SETTINGS
@given(base=st.integers(0, len(FILES) - 1), hits=damages, month=st.booleans())
@example(base=2, hits=[("blank_line", 209, 0, 1)], month=False)  # "1\n,050.00": a break in quotes
def test_a_damaged_file_is_posted_whole_or_refused_line_by_line(fresh_ledger, base, hits,
                                                                month):
    kind, data, rules_text, sep = FILES[base]
    rules_data = rules_text.encode() if rules_text else None
    for op, a, b, pick in hits:
        if rules_data is not None and pick == 0:  # now and then the rules file instead
            rules_data = damage(rules_data, op, a, b, b" ")
        else:
            data = damage(data, op, a, b, sep)
    ledger = fresh_ledger(SETUP)
    path = ledger.write(".csv", data)
    rules = ledger.write(".rules", rules_data) if rules_data is not None else None
    note(f"{hits}\n{data!r}\n{rules_data!r}")
    args = (["isf", "import-timesheet", str(path), "--provider", "SH"] if kind == "timesheet"
            else ["dp", "import-transactions", str(path), "--holder", "H1"])
    args += (["--rules", str(rules)] if rules else []) + (["--month", "2026-04"] if month else [])
    before, counts = ledger.balances(), ledger.counts()

    dry = ledger.invoke(*args, "--dry-run")
    done = ledger.invoke(*args)
    for run in (dry, done):
        note(run.said())
        assert run.crash is None and run.code in (0, 2), run.said()
        assert "Traceback" not in run.stderr + run.stdout, run.said()
    assert dry.code == done.code, "the dry run and the import disagree"
    event(f"{kind} exit {done.code}")
    if done.code == 2:
        check_refusal(done.stderr, path, rules)
        assert dry.stderr == done.stderr, "the dry run refused otherwise"
        assert ledger.balances() == before and ledger.counts() == counts, "partly posted"
        return
    after = ledger.balances()
    moved = posted_by_dry_run(dry.stdout, path, kind)
    unit = "HRS" if kind == "timesheet" else "GBP"
    changed = {key for key in set(after) | set(before) if after.get(key, 0) != before.get(
        key, 0) and key[1] == unit and key[0].split(":")[0] in ("isf", "holder")}
    assert changed <= set(moved), (changed, moved)
    for key, change in moved.items():
        assert after.get(key, 0) - before.get(key, 0) == change, (key, change, after, before)
    again = ledger.invoke(*args)
    assert again.code == 0 and ledger.balances() == after, again.said()
