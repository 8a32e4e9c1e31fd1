"""Reading bank statements: amounts, order, pending lines, keys and refusals by line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ledger.errors import UsageError
from ledger.imports import ofx
from ledger.imports.bank import BankReading, read_bank_rules, read_statement

UPGRADE = Path(__file__).parent.parent / "data" / "imports-2026-12-06"


def statement(tmp_path, text: str, rules: str = "", **options) -> BankReading:
    path = tmp_path / "statement.csv"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "b.rules").write_text(rules, encoding="utf-8")
    return read_statement(path, "D1", read_bank_rules(tmp_path / "b.rules"), **options)


def figures(reading: BankReading) -> list[tuple[int, str, int]]:
    assert reading.problems == []
    return [(line.line, line.date.isoformat(), line.pence) for line in reading.lines]


def test_amounts_are_read_as_the_bank_writes_them(tmp_path):
    reading = statement(tmp_path, "date,description,amount,balance\n"
                                  '01/04/2026,IN,"1,234.56","1,234.56"\n'
                                  "02/04/2026,OUT,-12.50,1222.06\n"
                                  "03/04/2026,CARD,(2.06),£1220.00\n")
    assert figures(reading) == [(2, "2026-04-01", 123456), (3, "2026-04-02", -1250),
                                (4, "2026-04-03", -206)]
    assert [line.balance for line in reading.lines] == [123456, 122206, 122000]


def test_a_comma_that_is_not_a_thousands_separator_is_refused_with_its_column(tmp_path):
    reading = statement(tmp_path, "Date,Details,Amount\n01/04/2026,SHOP,\"-12,50\"\n"
                                  "02/04/2026,SHOP,\"-1,2\"\n",
                        "column date = Date\ncolumn description = Details\n"
                        "column amount = Amount\n")
    assert reading.lines == []
    assert reading.problems == [
        (2, "amount '-12,50' (column 'Amount'): a comma here is not a thousands "
            "separator; if the file uses a decimal comma, add `decimal ,` to the rules file"),
        (3, "amount '-1,2' (column 'Amount'): a comma here is not a thousands "
            "separator; if the file uses a decimal comma, add `decimal ,` to the rules file")]


def test_a_decimal_comma_file_is_read_with_its_rule(tmp_path):
    reading = statement(tmp_path, "date;description;amount;balance\n"
                                  "01/04/2026;IN;1.234,56;1.234,56\n"
                                  "02/04/2026;OUT;-12,50;1.222,06\n",
                        "separator ;\ndecimal ,\n")
    assert figures(reading) == [(2, "2026-04-01", 123456), (3, "2026-04-02", -1250)]


@pytest.mark.parametrize(("cells", "says"), [
    ("0.00,", "amount '0.00' (column 'amount'): no money in or out"),
    (",", "no amount: 'amount' empty"),
    ("1.234,", "amount '1.234' (column 'amount') has more than 2 decimal places"),
    ("5.00,x", "balance 'x' (column 'balance')"),
])
def test_a_line_without_one_clear_amount_is_refused(tmp_path, cells, says):
    reading = statement(tmp_path, f"date,description,amount,balance\n01/04/2026,X,{cells}\n")
    assert reading.lines == []
    [(line, why)] = reading.problems
    assert line == 2 and why.startswith(says)


def test_paid_in_and_out_columns(tmp_path):
    reading = statement(tmp_path, "date,description,in,out\n01/04/2026,A,10.00,\n"
                                  "02/04/2026,B,,£4.00\n03/04/2026,C,1.00,1.00\n",
                        "column date = date\ncolumn description = description\n"
                        "column paid_in = in\ncolumn paid_out = out\n")
    assert [(line.line, line.pence) for line in reading.lines] == [(2, 1000), (3, -400)]
    [(line, why)] = reading.problems
    assert line == 4 and why.startswith("both paid in (column 'in') and paid out")


def test_with_a_rules_file_only_mapped_columns_are_read(tmp_path):
    reading = statement(tmp_path, "Date,Details,Amount,reference\n01/04/2026,A,-3.00,R1\n",
                        "column date = Date\ncolumn description = Details\n"
                        "column amount = Amount\n")
    assert reading.lines[0].reference is None
    assert reading.lines[0].key == "bank/D1/2026-04-01/-300#1"


def test_newest_first_statements_are_turned_into_date_order(tmp_path):
    reading = statement(tmp_path, "date,description,amount,balance\n"
                                  "03/04/2026,C,-1.00,7.00\n02/04/2026,B,-2.00,8.00\n"
                                  "01/04/2026,A,10.00,10.00\n")
    assert [line.description for line in reading.lines] == ["A", "B", "C"]


def test_a_one_day_statement_newest_first_is_ordered_by_its_balances(tmp_path):
    reading = statement(tmp_path, "date,description,amount,balance\n"
                                  "01/04/2026,C,-1.00,7.00\n01/04/2026,B,-2.00,8.00\n"
                                  "01/04/2026,A,10.00,10.00\n")
    assert [line.description for line in reading.lines] == ["A", "B", "C"]
    oldest_first = statement(tmp_path, "date,description,amount,balance\n"
                                       "01/04/2026,A,10.00,10.00\n01/04/2026,B,-2.00,8.00\n"
                                       "01/04/2026,C,-1.00,7.00\n")
    assert [line.description for line in oldest_first.lines] == ["A", "B", "C"]


def test_pending_lines_are_listed_and_not_posted(tmp_path):
    reading = statement(tmp_path, "date,description,amount,Status\n"
                                  "01/04/2026,TESCO,-5.00,Booked\n"
                                  "02/04/2026,TESCO,-6.00,pending\n"
                                  "03/04/2026,PENDING AMAZON,-7.00,Booked\n"
                                  "01/05/2026,NEXT MONTH,-8.00,Pending\n",
                        "pending Status = Pending\npending description ^pending\n",
                        month="2026-04")
    assert figures(reading) == [(2, "2026-04-01", -500)]
    assert [line.line for line in reading.pending] == [3, 4, 5]
    assert all(line.key == "" for line in reading.pending)


def test_skip_rules_leave_lines_out(tmp_path):
    reading = statement(tmp_path, "date,description,amount,Type\n01/04/2026,A,-5.00,CARD\n"
                                  "01/04/2026,B,0.00,INFO\n", "skip Type = info\n")
    assert figures(reading) == [(2, "2026-04-01", -500)]
    assert reading.skipped == [(3, "skip Type = info")]


def test_month_and_dates_follow_the_reading_rules(tmp_path):
    reading = statement(tmp_path, "date,description,amount\n04/13/2026,A,-1.00\n"
                                  "01/05/2026,B,-1.00\n", month="2026-04")
    assert reading.lines == []
    assert reading.problems[0][0] == 2 and "`date %m/%d/%Y`" in reading.problems[0][1]
    assert reading.problems[1] == (3, "dated 2026-05-01, outside --month 2026-04")
    declared = statement(tmp_path, "date,description,amount\n04/13/2026,A,-1.00\n",
                         "date %m/%d/%Y\n")
    assert declared.lines[0].date == dt.date(2026, 4, 13)


def test_a_line_is_known_by_date_amount_and_occurrence_not_description(tmp_path):
    text = "date,description,amount,reference\n01/04/2026,{},-5.00,\n01/04/2026,CAFE,-5.00,\n" \
           "01/04/2026,CAFE,-5.00,R9\n02/04/2026,CAFE,-5.00,\n"
    pending = statement(tmp_path, text.format("CAFE PENDING"))
    final = statement(tmp_path, text.format("CAFE LTD"))
    keys = ["bank/D1/2026-04-01/-500#1", "bank/D1/2026-04-01/-500#2", "bank/D1/ref/R9",
            "bank/D1/2026-04-02/-500#1"]
    assert [line.key for line in pending.lines] == [line.key for line in final.lines] == keys


def test_lines_recorded_by_the_earlier_release_carry_its_keys():
    recorded = {key for (key,) in sqlite3.connect(UPGRADE / "ledger.db").execute(
        "select key from event where key like 'bank/%'")}
    reading = read_statement(UPGRADE / "bank.csv", "D1", read_bank_rules(UPGRADE / "bank.rules"))
    assert reading.problems == []
    money_out = {line.legacy_key for line in reading.lines if line.pence < 0}
    assert money_out == recorded


def test_the_earlier_key_keeps_the_description(tmp_path):
    reading = statement(tmp_path, "date,description,amount\n01/04/2026,CAFE,-5.00\n"
                                  "01/04/2026,CAFE,-5.00\n")
    digest = hashlib.sha256(json.dumps(["D1", "2026-04-01", "CAFE", -500]).encode())
    assert [line.legacy_key for line in reading.lines] == [
        f"bank/D1/{digest.hexdigest()[:32]}#1", f"bank/D1/{digest.hexdigest()[:32]}#2"]


def test_a_statement_must_have_what_a_line_needs(tmp_path):
    with pytest.raises(UsageError, match=":1: no 'amount' column, nor 'paid_in' column or 'paid_out' column$"):
        statement(tmp_path, "date,description\n01/04/2026,A\n")


@pytest.mark.parametrize("head", [b"OFXHEADER:100\n", b"\xef\xbb\xbf  <?OFX x?>", b"<OFX>",
                                  b"\n<?xml version='1.0'?>"])
def test_ofx_content_is_read_by_the_ofx_reader(tmp_path, monkeypatch, head):
    path = tmp_path / "statement.csv"  # by its content, not its name
    path.write_bytes(head + b"\n<OFX></OFX>\n")
    calls = []
    monkeypatch.setattr(ofx, "read_ofx", lambda *args: calls.append(args) or BankReading())
    assert read_statement(path, "D1", None, "2026-04") == BankReading()
    assert calls == [(path, "D1", calls[0][2], "2026-04")]
