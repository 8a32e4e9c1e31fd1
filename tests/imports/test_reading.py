"""The reading rules shared by both importers: the rules file, encodings, dates, amounts."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.errors import UsageError
from ledger.imports.bank import read_bank_rules
from ledger.imports.reading import (
    ReadRules,
    check_month,
    month_option,
    parse_amount,
    parse_date,
    read_table,
)
from ledger.imports.timesheet import COLUMNS, read_rules


def rules_file(tmp_path, text: str):
    path = tmp_path / "export.rules"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the rules file


def test_rules_are_read_with_their_settings(tmp_path):
    rules = read_rules(rules_file(tmp_path, "# a rota export\n\ncolumn holder = Client\n"
                                            "column date = Visit Date\nseparator ;\n"
                                            "encoding cp1252\ndate %m/%d/%Y\n"
                                            "timezone Europe/Dublin\n"
                                            "skip Visit Status = Cancelled\n"))
    assert rules.columns == {"holder": "Client", "date": "Visit Date"}
    assert rules.mapped
    assert (rules.separator, rules.encoding, rules.date_format, rules.timezone) == (
        ";", "cp1252", "%m/%d/%Y", "Europe/Dublin")
    assert rules.skips == [("Visit Status", "Cancelled")]


def test_a_rules_file_without_column_lines_reads_our_own_names(tmp_path):
    rules = read_rules(rules_file(tmp_path, "separator tab\n"))
    assert not rules.mapped and rules.separator == "\t"


@pytest.mark.parametrize(("text", "line", "says"), [
    ("column holder = Client\ncolumn holder = Name\n", 2, "already mapped"),
    ("column holder = Client\ncolumn worker = client\n", 2, "already column holder"),
    ("# comment\nencoding klingon\n", 2, "unknown encoding 'klingon'"),
    ("encoding base64\n", 1, "unknown encoding"),
    ("date %d/%m\n", 1, "a day, a month and a year"),
    ("timezone Mars/Olympus\n", 1, "unknown time zone"),
    ("encoding cp1252\nencoding latin-1\n", 2, "already set at line 1"),
    ("separator ab\n", 1, "one character"),
    ("column colour = Colour\n", 1, "NAME one of holder"),
    ("skip Status\n", 1, "expected `skip Header = Value`"),
    ("decimal ,\n", 1, "unknown rule 'decimal'"),
])
def test_a_rules_file_mistake_is_refused_at_its_line(tmp_path, text, line, says):
    path = rules_file(tmp_path, text)
    with pytest.raises(UsageError) as err:
        read_rules(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert says in str(err.value)


def test_bank_rules_read_decimal_comma_and_pending(tmp_path):
    rules = read_bank_rules(rules_file(tmp_path, "decimal ,\npending Status = Pending\n"
                                                 "pending description ^PENDING\n"
                                                 "payee TESCO = TESCO | food\n"))
    assert rules.decimal_comma
    assert [(p.header, p.value) for p in rules.pending] == [("Status", "Pending"),
                                                            (None, "")]
    assert rules.pending[1].pattern.search("pending: card")
    assert rules.payees[0].payee == "TESCO"


@pytest.mark.parametrize("text", ["decimal .\n", "pending description (\n",
                                  "timezone Europe/London\n"])
def test_bank_rules_mistakes_are_refused_at_their_line(tmp_path, text):
    path = rules_file(tmp_path, text)
    with pytest.raises(UsageError, match=f"^{path}:1: "):
        read_bank_rules(path)


# ---------------------------------------------------------------- encodings


def test_utf8_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffholder,notes\nH1,café\n".encode())
    table = read_table(path, ReadRules(), COLUMNS)
    assert [r.cells for r in table.records] == [{"holder": "H1", "notes": "café"}]


def test_bytes_that_are_not_utf8_are_reported_on_their_line_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"holder,notes\nH1,ok\nH1,caf\xe9\nH2,fine\nH3,\x93q\x94\n")
    table = read_table(path, ReadRules(), COLUMNS)
    records = list(table.records)
    assert [r.line for r in records] == [2, 4]
    assert [line for line, _ in table.problems] == [3, 5]
    assert table.problems[0][1].startswith("bytes that are not UTF-8 text at column 7; ")
    assert "`encoding NAME`" in table.problems[0][1]


def test_a_header_that_is_not_text_stops_the_reading(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"h\xf6lder,date\nH1,2026-04-01\n")
    with pytest.raises(UsageError, match=f"^{path}:1: bytes that are not UTF-8"):
        read_table(path, ReadRules(), COLUMNS)


def test_a_declared_encoding_reads_the_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("holder,notes\nH1,café “quoted”\n".encode("cp1252"))
    table = read_table(path, ReadRules(encoding="cp1252"), COLUMNS)
    assert [r.cells["notes"] for r in table.records] == ["café “quoted”"]
    assert table.problems == []


def test_with_column_lines_only_mapped_columns_are_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Client,Hours,Start\nH1,2:00,09:00\n", encoding="utf-8")
    rules = ReadRules(columns={"holder": "client", "start": "Start"}, mapped=True)
    table = read_table(path, rules, COLUMNS)
    assert [r.cells for r in table.records] == [{"holder": "H1", "start": "09:00"}]
    assert table.shown == {"holder": "Client", "start": "Start"}


def test_a_header_read_twice_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("holder,date,Date\nH1,2026-04-01,2026-04-02\n", encoding="utf-8")
    with pytest.raises(UsageError, match=f"^{path}:1: two columns are headed 'date'"):
        read_table(path, ReadRules(), COLUMNS)


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(("text", "day"), [
    ("2026-04-01", dt.date(2026, 4, 1)),
    ("01/04/2026", dt.date(2026, 4, 1)),
    ("1/4/2026", dt.date(2026, 4, 1)),
    ("31/12/2026", dt.date(2026, 12, 31)),
])
def test_dates_are_iso_or_day_month(text, day):
    assert parse_date(text, ReadRules()) == day


def test_a_month_first_date_is_refused_naming_the_format_to_declare():
    with pytest.raises(ValueError) as err:
        parse_date("04/13/2026", ReadRules(), "Date")
    assert str(err.value) == (
        "date '04/13/2026' (column 'Date') is not a day/month date DD/MM/YYYY; if the "
        "export writes month first, add `date %m/%d/%Y` to the rules file")


@pytest.mark.parametrize("text", ["31/02/2026", "2026-02-30", "1 April 2026", "04/01/26",
                                  "01/04/1066"])
def test_a_date_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError, match=r"^date .* \(column 'When'\) is (not|outside) "):
        parse_date(text, ReadRules(), "When")


def test_a_declared_format_replaces_day_month_but_iso_is_still_read():
    rules = ReadRules(date_format="%m/%d/%Y")
    assert parse_date("04/01/2026", rules) == dt.date(2026, 4, 1)
    assert parse_date("04/13/2026", rules) == dt.date(2026, 4, 13)
    assert parse_date("2026-04-13", rules) == dt.date(2026, 4, 13)
    with pytest.raises(ValueError, match="is not a date written %m/%d/%Y"):
        parse_date("13/04/2026", rules)


def test_month_refuses_a_date_outside_it():
    check_month(dt.date(2026, 4, 30), "2026-04")
    check_month(dt.date(2026, 5, 1), None)
    with pytest.raises(ValueError) as err:
        check_month(dt.date(2026, 5, 1), "2026-04")
    assert str(err.value) == "dated 2026-05-01, outside --month 2026-04"
    with pytest.raises(UsageError, match="--month"):
        month_option("April")


# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(("text", "pence"), [
    ("1,234.56", 123456), ("-12.50", -1250), ("£1,234.00", 123400), ("(12.50)", -1250),
    ("12", 1200), ("1,234,567.8", 123456780), ("-£3.05", -305), ("£-3.05", -305),
    (" 7.00 ", 700), ("+2.50", 250), ("12,345", 1234500),
])
def test_amounts_are_read_as_written(text, pence):
    assert parse_amount(text) == pence


@pytest.mark.parametrize("text", ["-12,50", "1,2", "12,3456", "1,23.00", ",500"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused(text):
    with pytest.raises(ValueError) as err:
        parse_amount(text, column="Amount")
    assert str(err.value) == (
        f"amount {text!r} (column 'Amount'): a comma here is not a thousands separator; "
        "if the file uses a decimal comma, add `decimal ,` to the rules file")


@pytest.mark.parametrize(("text", "pence"), [
    ("-12,50", -1250), ("1.234,56", 123456), ("1 234,56", 123456), ("1\u00a0234,56", 123456),
    ("12", 1200), ("(3,05)", -305), ("1.234.567", 123456700),
])
def test_a_decimal_comma_reads_amounts_written_so(text, pence):
    assert parse_amount(text, decimal_comma=True) == pence


@pytest.mark.parametrize("text", ["12.50", "1.23,4", "1.234 567,00"])
def test_with_a_decimal_comma_a_point_is_only_a_thousands_separator(text):
    with pytest.raises(ValueError, match=r"\(column 'Amount'\)[: ]"):
        parse_amount(text, decimal_comma=True, column="Amount")


@pytest.mark.parametrize(("text", "says"), [
    ("12.345", "more than 2 decimal places"), ("1,234.567", "more than 2 decimal places"),
    ("abc", "not a number"), ("--5", "more than one sign"),
    ("(-5.00)", "more than one sign"), ("1e3", "not a number"),
])
def test_amounts_that_could_mean_two_things_or_none_are_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_amount(text)
