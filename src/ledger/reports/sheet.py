"""An export as one spreadsheet sheet (docs/exports.md#xlsx): the CSV the export writes,
cell for cell, with numbers as numbers, dates as dates, text as text (never a formula),
on one sheet with its header row frozen. `save_stable` saves any of the project's
workbooks so that the same data gives the same bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import BinaryIO, TextIO

DATE_COLUMNS = frozenset({"date", "from", "to"})
NUMBER_COLUMNS = frozenset({
    "amount", "minor_units", "period", "balance", "weeks_held", "allowed_weeks", "spend",
    "debit", "credit", "rows", "payments", "recoveries", "net", "rate_pence_per_hour",
    "utilisation_percent"})
_INTEGER = re.compile(r"-?[0-9]+\Z")
_DECIMAL = re.compile(r"-?[0-9]+\.([0-9]+)\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def is_number_column(name: str) -> bool:
    """Whether a column holds figures: pence, minutes, pounds, counts, periods."""
    return (name in NUMBER_COLUMNS or name.startswith("money_")
            or name.endswith(("_minor", "_minutes")))


def unguarded(text: str) -> str:
    """A text cell as it was before the CSV's formula guard (docs/exports.md#csv) gave it
    a leading `'`: the guard adds one exactly when the rest is a cell it guards."""
    from ledger.reports.council_exports import safe

    rest = text[1:]
    return rest if text.startswith("'") and safe(rest) != rest else text


def typed(column: str, text: str) -> object:
    """What the sheet holds for one CSV cell of a column: a date in a date column, an
    integer or an exact decimal in a figures column (where the cell is one: `TOTAL` and
    hours as H:MM stay text), else the text as it was before the formula guard."""
    if column in DATE_COLUMNS and _DATE.match(text):
        return dt.date.fromisoformat(text)
    if is_number_column(column):
        if _INTEGER.match(text):
            return int(text)
        if _DECIMAL.match(text):
            return Decimal(text)
    return unguarded(text)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def write_xlsx(write: Callable[[TextIO], object], out: BinaryIO, title: str) -> None:
    """Run an export's `write` and put what it wrote on one sheet named `title`, typed
    cell by cell (`typed`), the header row frozen, and save the workbook to `out`."""
    from openpyxl import Workbook

    text = io.StringIO()
    write(text)
    rows = csv_rows(text.getvalue())
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    header = rows[0] if rows else []
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            held = value if r == 1 else typed(header[c - 1], value)
            cell.value = held
            if isinstance(held, str):
                cell.data_type = "s"  # text, never a formula, whatever it starts with
            elif isinstance(held, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(held, Decimal):
                places = -int(held.as_tuple().exponent)
                cell.number_format = "0." + "0" * places
    sheet.freeze_panes = "A2"
    save_stable(book, out)


# The one time written in a workbook: as the CSV's bytes are the same on every export of
# the same data, so are the workbook's (docs/exports.md#xlsx). openpyxl writes the time
# of saving into docProps/core.xml and into each zip entry; both are set to this.
STABLE_TIME = dt.datetime(1980, 1, 1)
_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def save_stable(book, out: BinaryIO) -> None:
    """Save `book` to `out` with no time of saving in it."""
    book.properties.created = STABLE_TIME
    raw = io.BytesIO()
    book.save(raw)
    stamp = STABLE_TIME.isoformat() + "Z"
    with zipfile.ZipFile(raw) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(entry.filename, date_time=STABLE_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, data)
