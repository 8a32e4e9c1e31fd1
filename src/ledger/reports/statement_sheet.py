"""A statement's tables as a spreadsheet (docs/statements.md#xlsx): one sheet per table,
in the order the statement shows them, named by its number and caption, with the table's header
row frozen and its total (if any) as the last row.

Each cell is the figure the statement prints, typed: money (`£1,290.00`, `-£42.00`) is a
number in pounds shown with two decimals; a plain figure in a figures column (decimal
hours such as `22.75`, counts) is a number; hours in words (`22 hours 45 minutes`) are
exact H:MM text (`22:45`); a date (`1 May 2026` or `2026-05-01`) is a
date; anything else is text, written as a text cell so it never runs as a formula,
whatever it starts with."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import BinaryIO

from ledger.reports.sheet import save_stable

MONEY_FORMAT = '"£"#,##0.00;-"£"#,##0.00'
_MONEY = re.compile(r"(-?)£([0-9]{1,3}(?:,[0-9]{3})*|[0-9]+)\.([0-9]{2})\Z")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_LONG_DATE = re.compile(r"[0-9]{1,2} [A-Z][a-z]+ [0-9]{4}\Z")
_HOURS_WORDS = re.compile(r"(?:([0-9]+) hours?)?(?: ?([0-9]+) minutes?)?\Z")
_NOT_IN_TITLE = re.compile(r"[\[\]:*?/\\]")


def tables(doc) -> Iterator:
    """Every table of a statement's document, in the order it shows them."""
    for section in doc.sections:
        for part in [section, *section.subsections]:
            yield from part.tables


def cell_value(text: str, figures: bool) -> object:
    """What the sheet holds for one printed cell; `figures` says the column holds
    figures (a plain number elsewhere, such as an id, stays text)."""
    money = _MONEY.match(text)
    if money:
        sign, pounds, pence = money.groups()
        return Decimal(f"{sign}{pounds.replace(',', '')}.{pence}")
    words = _HOURS_WORDS.match(text)
    if text and words:  # "22 hours 45 minutes": exact, as H:MM text
        whole, minutes = words.groups()
        return f"{int(whole or 0)}:{int(minutes or 0):02d}"
    if figures and _NUMBER.match(text):
        return int(text) if "." not in text else Decimal(text)
    if _ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text
    if _LONG_DATE.match(text):
        try:
            return dt.datetime.strptime(text, "%d %B %Y").date()
        except ValueError:
            return text
    return text


def sheet_titles(captions: list[str]) -> list[str]:
    """A sheet name for each caption: its number in the statement and the caption, cut
    to the 31 characters a sheet name may have, none of `[]:*?/\\` (so each differs
    and they sort in the statement's order): `2. Money in each ISF`."""
    return [f"{n}. {_NOT_IN_TITLE.sub(' ', caption).strip()}"[:31].rstrip()
            for n, caption in enumerate(captions, start=1)]


def _put(sheet, row: int, column: int, value: object, money: bool = False) -> None:
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula, whatever it starts with
    elif isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    elif money:
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, Decimal):
        cell.number_format = "0." + "0" * -int(value.as_tuple().exponent)


def write_statement_xlsx(doc, out: BinaryIO) -> None:
    """Save the statement document's tables to `out` as an .xlsx workbook."""
    from openpyxl import Workbook

    found = list(tables(doc))
    book = Workbook()
    first = book.active
    assert first is not None
    if not found:  # a workbook needs a sheet: say there is nothing to show
        first.title = "No tables"
        _put(first, 1, 1, "This statement has no tables.")
    for n, (table, title) in enumerate(zip(found, sheet_titles([t.caption for t in found]),
                                           strict=True)):
        sheet = first if n == 0 else book.create_sheet()
        sheet.title = title
        for c, name in enumerate(table.columns, start=1):
            _put(sheet, 1, c, name)
        rows = [*table.rows, *([table.total] if table.total else [])]
        for r, row in enumerate(rows, start=2):
            for c, text in enumerate(row, start=1):
                figures = table.numeric[c - 1] if c - 1 < len(table.numeric) else False
                text = str(text)
                _put(sheet, r, c, cell_value(text, figures), bool(_MONEY.match(text)))
        sheet.freeze_panes = "A2"
    save_stable(book, out)


def statement_xlsx(doc) -> bytes:
    import io

    out = io.BytesIO()
    write_statement_xlsx(doc, out)
    return out.getvalue()
