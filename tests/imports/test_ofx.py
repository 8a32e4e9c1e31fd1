"""OFX and QFX bank and card statements (docs/dp-statements.md#ofx): `read_ofx` on an OFX
1.x (SGML) current-account statement, an OFX 2 (XML) prepaid-card statement and a QFX
download (tests/data/exports/), and `ledger dp import-transactions` on OFX through the
command line, on SQLite and on PostgreSQL. Expected figures are read off the files."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ledger.errors import UsageError
from ledger.imports.bank import BankRules, read_bank_rules
from ledger.imports.ofx import read_ofx
from tests.imports.test_shipped_rules import balances, ledger, set_up

EXPORTS = Path(__file__).resolve().parents[2] / "tests" / "data" / "exports"
SGML = EXPORTS / "current-account-april.ofx"
XML = EXPORTS / "prepaid-card-may.ofx"
QFX = EXPORTS / "current-account-june.qfx"


def where(path: Path, tag: str = "<STMTTRN>") -> list[int]:
    """The line numbers a person sees beside each TAG in the file."""
    text = path.read_bytes().decode("ascii")
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(tag)]


def edited(tmp_path: Path, source: Path, *changes: tuple[str, str]) -> Path:
    """SOURCE with each (old, new) replaced once."""
    text = source.read_text(encoding="ascii")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / source.name
    path.write_text(text, encoding="ascii", newline="")
    return path


# ------------------------------------------------------- reading

def test_an_ofx_1_statement_gives_each_transaction_as_the_bank_wrote_it():
    read = read_ofx(SGML, "H1", BankRules())
    assert read.problems == [] and read.pending == []
    assert [line.line for line in read.lines] == where(SGML)
    assert [(line.date, line.pence, line.description, line.reference) for line in read.lines] == [
        (dt.date(2026, 4, 3), 1000_00, "WOKINGHAM BC DIRECT PAYMENT APR", "202604030001"),
        (dt.date(2026, 4, 3), 50_00, "A EXAMPLE CONTRIBUTION", "202604030002"),
        (dt.date(2026, 4, 10), -400_00, "JANE SMITH PA WAGES APRIL", "202604100001"),
        (dt.date(2026, 4, 12), -23_45, "TESCO STORES 2231 CONTACTLESS", "202604120001"),
        (dt.date(2026, 4, 20), -8_50, "TESCO STORES 2231 CONTACTLESS", "202604200001"),
        (dt.date(2026, 4, 20), -8_50, "TESCO STORES 2231 CONTACTLESS", "202604200002"),
        (dt.date(2026, 4, 28), -35_00, "CARELINE ALARM DD 00417", "202604280001"),
    ]
    # FITID is the bank's own id: it is the key, so two equal card payments on one day
    # are two lines.
    assert [line.key for line in read.lines] == [f"bank/H1/ref/{line.reference}"
                                                 for line in read.lines]
    # LEDGERBAL 574.55 as of 28 April is the balance after that day's last line.
    assert [line.balance for line in read.lines] == [None] * 6 + [574_55]


def test_an_ofx_2_card_statement_keeps_the_banks_own_day_and_text():
    read = read_ofx(XML, "H1", BankRules())
    assert read.problems == []
    assert [line.line for line in read.lines] == where(XML)
    # 00:00 and 00:30 British Summer Time are still the 15th and the 26th, though they
    # are the evening before in UTC; "M&amp;S" is M&S; "-12.5" is £12.50.
    assert [(line.date, line.pence, line.description) for line in read.lines] == [
        (dt.date(2026, 5, 2), 600_00, "LOAD FROM WOKINGHAM BC DIRECT PAYMENT MAY"),
        (dt.date(2026, 5, 9), -42_10, "M&S SIMPLY FOOD READING STN"),
        (dt.date(2026, 5, 15), -250_00, "JANE SMITH PA WAGES MAY"),
        (dt.date(2026, 5, 26), -12_50, "WOKINGHAM LEISURE SWIM SESSION"),
    ]
    assert [line.balance for line in read.lines] == [None, None, None, 295_40]


def test_a_qfx_download_reads_like_ofx():
    read = read_ofx(QFX, "H2", BankRules())
    assert read.problems == []
    assert [line.line for line in read.lines] == where(QFX)  # CRLF line ends
    # The NAME cut short at the bank's 21 characters is given whole by the MEMO; a line
    # with no MEMO is its NAME.
    assert [(line.date, line.pence, line.description) for line in read.lines] == [
        (dt.date(2026, 6, 1), 1000_00, "WOKINGHAM BOROUGH COUNCIL DP JUNE"),
        (dt.date(2026, 6, 12), -400_00, "JANE SMITH PA WAGES JUNE"),
        (dt.date(2026, 6, 19), -61_20, "SAINSBURYS S/MKTS"),
    ]
    # Its LEDGERBAL is as of 30 June, a day with no line: there is nothing to check it on.
    assert [line.balance for line in read.lines] == [None, None, None]
    assert read.lines[0].key == "bank/H2/ref/90000112"


def test_a_statement_written_newest_first_is_read_in_date_order(tmp_path):
    text = SGML.read_text(encoding="ascii")
    head, _, rest = text.partition("<STMTTRN>")
    body, _, tail = ("<STMTTRN>" + rest).rpartition("</STMTTRN>")
    blocks = [b + "</STMTTRN>\n" for b in body.split("</STMTTRN>\n")]
    path = tmp_path / "newest-first.ofx"
    path.write_text(head + "".join(reversed(blocks)).lstrip("\n") + tail, encoding="ascii")
    read = read_ofx(path, "H1", BankRules())
    assert read.problems == []
    assert [line.date for line in read.lines] == sorted(line.date for line in read.lines)
    assert sorted(line.line for line in read.lines) == where(path)
    assert read.lines[-1].reference == "202604280001" and read.lines[-1].balance == 574_55


def test_an_amount_is_read_exactly_or_refused_on_its_line(tmp_path):
    lines = where(SGML)
    path = edited(tmp_path, SGML, ("<TRNAMT>-400.00", "<TRNAMT>-400.005"),
                  ("<TRNAMT>-23.45", "<TRNAMT>-23,45"),
                  ("<TRNAMT>-35.00", "<TRNAMT>-1,035.00"))
    read = read_ofx(path, "H1", BankRules())
    problems = dict(read.problems)
    assert sorted(problems) == [lines[2], lines[6]]
    assert "'-400.005' has more than 2 decimal places" in problems[lines[2]]
    assert "'-1,035.00' is not an amount" in problems[lines[6]]
    # OFX may write pence after a comma: -23,45 is £23.45 out.
    assert next(line.pence for line in read.lines if line.line == lines[3]) == -23_45


def test_a_date_that_is_not_a_day_or_a_nil_amount_is_refused_on_its_line(tmp_path):
    lines = where(SGML)
    path = edited(tmp_path, SGML, ("<DTPOSTED>20260410", "<DTPOSTED>20260431"),
                  ("<TRNAMT>-23.45", "<TRNAMT>0.00"))
    problems = dict(read_ofx(path, "H1", BankRules()).problems)
    assert sorted(problems) == [lines[2], lines[3]]
    assert "DTPOSTED '20260431' is not an OFX date" in problems[lines[2]]
    assert "no money in or out" in problems[lines[3]]


def test_a_transaction_of_no_ofx_type_is_refused_on_its_line(tmp_path):
    lines = where(SGML)
    path = edited(tmp_path, SGML, ("<TRNTYPE>DIRECTDEBIT", "<TRNTYPE>STANDING ORDER"))
    problems = dict(read_ofx(path, "H1", BankRules()).problems)
    assert list(problems) == [lines[6]]
    assert "TRNTYPE 'STANDING ORDER' is not an OFX transaction type" in problems[lines[6]]


def test_a_fitid_given_twice_is_refused(tmp_path):
    lines = where(SGML)
    path = edited(tmp_path, SGML, ("<FITID>202604200002", "<FITID>202604200001"))
    problems = dict(read_ofx(path, "H1", BankRules()).problems)
    assert list(problems) == [lines[5]]
    assert f"also the id of the transaction on line {lines[4]}" in problems[lines[5]]


def test_month_refuses_every_line_outside_it(tmp_path):
    read = read_ofx(XML, "H1", BankRules(), month="2026-04")
    assert dict(read.problems) == {
        at: f"dated {on}, outside --month 2026-04"
        for at, on in zip(where(XML), ["2026-05-02", "2026-05-09", "2026-05-15",
                                       "2026-05-26"], strict=True)}
    assert read_ofx(XML, "H1", BankRules(), month="2026-05").problems == []


def test_pending_lines_by_description_are_listed_apart(tmp_path):
    path = edited(tmp_path, SGML, ("<MEMO>DD 00417", "<MEMO>DD 00417 PENDING"))
    rules = tmp_path / "bank.rules"
    rules.write_text("pending description \\bPENDING$\npayee ^TESCO = TESCO\n",
                     encoding="utf-8")
    read = read_ofx(path, "H1", read_bank_rules(rules))
    assert [line.description for line in read.pending] == ["CARELINE ALARM DD 00417 PENDING"]
    assert "202604280001" not in [line.reference for line in read.lines]
    assert len(read.lines) == 6


@pytest.mark.parametrize("content", [
    b"Date,Description,Amount\n03/04/2026,TESCO,-12.50\n",
    b"",
    b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS>",
    b"\xff\xfe\x00garbage",
])
def test_a_file_ofxtools_cannot_read_is_one_line_naming_it(tmp_path, content):
    path = tmp_path / "statement.ofx"
    path.write_bytes(content)
    with pytest.raises(UsageError) as refused:
        read_ofx(path, "H1", BankRules())
    message = str(refused.value)
    assert message.startswith(f"{path}: not an OFX file ofxtools can read (")
    assert "\n" not in message


def test_a_file_truncated_mid_statement_is_refused(tmp_path):
    text = SGML.read_text(encoding="ascii")
    path = tmp_path / "cut.ofx"
    path.write_text(text[:text.index("<NAME>JANE SMITH")], encoding="ascii")
    with pytest.raises(UsageError, match=re.escape(f"{path}: not an OFX file ofxtools")):
        read_ofx(path, "H1", BankRules())


def test_a_file_with_two_accounts_is_refused(tmp_path):
    text = SGML.read_text(encoding="ascii")
    start, end = text.index("<STMTTRNRS>"), text.index("</STMTTRNRS>") + len("</STMTTRNRS>")
    second = text[start:end].replace("<ACCTID>41234567", "<ACCTID>41239999")
    path = tmp_path / "two.ofx"
    path.write_text(text[:end] + "\n" + second + text[end:], encoding="ascii")
    with pytest.raises(UsageError, match=r"2 statements in one file \(accounts '41234567', "
                                         r"'41239999'\); export each account"):
        read_ofx(path, "H1", BankRules())


def test_a_statement_in_another_currency_is_refused(tmp_path):
    path = edited(tmp_path, SGML, ("<CURDEF>GBP", "<CURDEF>EUR"))
    with pytest.raises(UsageError, match="the statement is in EUR"):
        read_ofx(path, "H1", BankRules())


# ------------------------------------------------------- through the command line

HOLDER = """\
format: 1
name: ofx
parties:
  councils: [{id: WBC, name: Wokingham}]
  holders: [{id: H1, name: Ann Example, council: WBC}]
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1000.00"}
  - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
"""
PAYEES = """\
# One bank's OFX download: the payees; columns do not apply to OFX.
payee JANE\\s+SMITH = PA-JANE | wages
payee ^TESCO = TESCO | shopping
payee CARELINE = CARELINE | equipment
"""


def test_an_ofx_statement_is_imported_by_its_payee_rules_once(tmp_path, db_url):
    db = set_up(tmp_path, db_url, HOLDER)
    rules = tmp_path / "bank.rules"
    rules.write_text(PAYEES, encoding="utf-8")

    def run(path: Path):
        return ledger(db, "dp", "import-transactions", path, "--holder", "H1",
                      "--rules", rules, "--month", "2026-04")

    done = run(SGML)
    assert done.code == 0, done.err
    # In: £1,000.00 from the council, £50.00 contribution, both recorded. Out: wages
    # £400.00, Tesco £23.45 and twice £8.50, the alarm £35.00.
    assert "5 spends posted, 0 already recorded, 2 payments in matched" in done.out
    money = balances(db)
    assert money[("external:PA-JANE", "GBP")] == 400_00
    assert money[("external:TESCO", "GBP")] == 23_45 + 2 * 8_50
    assert money[("external:CARELINE", "GBP")] == 35_00
    assert money[("holder:H1:dp", "GBP")] == 1000_00 + 50_00 - 400_00 - 23_45 - 2 * 8_50 \
        - 35_00 == 574_55  # the statement's LEDGERBAL
    again = run(SGML)
    assert again.code == 0, again.err
    assert "0 spends posted, 5 already recorded, 2 payments in matched" in again.out
    assert balances(db) == money
    # A LEDGERBAL that differs from the ledger is named on the line it applies to.
    wrong = edited(tmp_path, SGML, ("<BALAMT>574.55", "<BALAMT>570.55"))
    refused = run(wrong)
    assert refused.code == 2, refused.out + refused.err
    assert list(refused.refusals(wrong)) == [where(SGML)[-1]], refused.err
    assert "£570.55" in refused.err
    assert balances(db) == money
