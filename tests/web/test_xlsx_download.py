"""The web's "Download as spreadsheet (.xlsx)" (docs/web.md): every statement page offers
it, in place of the CSV download there was; the file is the statement's tables a sheet
each, cell for cell the figures of the page's own tables, typed; a reader who may not see the statement gets the same 404 page
as for one that does not exist. On both engines (the `site` fixture)."""

from __future__ import annotations

import html
import io
import re
from email.message import Message
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from tests.reports.test_statement_xlsx import check_cell
from tests.web.conftest import HOLDER_NAMES, MONTH

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LINK = "Download as spreadsheet (.xlsx)"

OWN = [  # (user, page, a figure the statement's tables hold, in pounds)
    ("ann", "/statements/holder/H1", None),
    ("wes", "/statements/pool/MIXED", None),
    ("bw", "/provider/BW/month-end", "126.00"),
    ("ric", "/council/RIC", "1780.00"),
    ("sh", "/statements/provider/SH", None),
]

REFUSED = [  # (user, a statement that exists and is not theirs)
    ("ann", "/statements/holder/H2"),
    ("ann", "/council/WBC"),
    ("rosa", "/statements/holder/H1"),
    ("rosa", "/provider/BW/month-end"),
    ("wes", "/statements/holder/R2"),
    ("sh", "/provider/BW/month-end"),
    ("ric", "/council/WBC"),
    ("ric", "/statements/pool/OUTSIDE"),  # not there at all
]


class _Tables(HTMLParser):
    """The page's tables as printed: (caption, [header, *rows]) each."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._caption = ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(("", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td", "caption"):
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._row is not None and self._text is not None:
            self._row.append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "caption" and self._text is not None:
            rows = self.tables[-1][1]
            self.tables[-1] = (" ".join("".join(self._text).split()), rows)
            self._text = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None


def page_tables(text: str) -> list[tuple[str, list[list[str]]]]:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def filename(response) -> str:
    header = Message()
    header["content-disposition"] = response.headers["content-disposition"]
    return header.get_filename() or ""


@pytest.mark.parametrize(("user", "path", "figure"), OWN, ids=[f"{u}:{p}" for u, p, _ in OWN])
def test_the_page_offers_the_spreadsheet_and_it_equals_the_tables(site, user, path, figure):
    client = site.as_user(user)
    page = client.get(f"{path}?month={MONTH}")
    assert page.status_code == 200
    links = {text: html.unescape(href)
             for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page.text)}
    assert LINK in links, "the page offers no spreadsheet"
    download = client.get(links[LINK])
    assert download.status_code == 200
    assert download.headers["content-type"] == XLSX
    assert download.headers["content-disposition"].startswith("attachment;")
    name = filename(download)
    assert name.endswith(f"-{MONTH}.xlsx") and "/" not in name, name
    assert not any("CSV" in text for text in links), "the many-tables CSV is gone"
    assert client.get(f"{path}?month={MONTH}&format=csv").status_code == 404
    book = load_workbook(io.BytesIO(download.content))
    tables = page_tables(page.text)
    assert tables and len(book.worksheets) == len(tables)
    numbers = []
    for sheet, (caption, rows) in zip(book.worksheets, tables, strict=True):
        assert sheet.freeze_panes == "A2", caption
        held = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert len(held) == len(rows), caption
        for r, (got, printed) in enumerate(zip(held, rows, strict=True), start=1):
            for c, (cell, text) in enumerate(zip(got, printed, strict=True), start=1):
                if r == 1:
                    assert cell == text, caption
                else:
                    check_cell(cell, text, f"{caption} row {r} column {c}: {text!r}")
                    if isinstance(cell, int | float):
                        numbers.append(f"{cell:.2f}")
    assert numbers, "money and figures are numbers"
    if figure is not None:
        assert figure in numbers


def test_the_spreadsheet_names_no_one_the_reader_may_not_see(site):
    """A pool member's copy: the others who gave no consent stay unnamed on the sheets."""
    download = site.as_user("wes").get(f"/statements/pool/MIXED?month={MONTH}&format=xlsx")
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.content))
    cells = [str(v) for s in book.worksheets for row in s.iter_rows(values_only=True)
             for v in row if v is not None]
    assert "Kingfisher" in cells
    for name in ("Rafe Richmond", "Rita Hamm"):
        assert not any(name in cell for cell in cells), name


@pytest.mark.parametrize(("user", "path"), REFUSED, ids=[f"{u}:{p}" for u, p in REFUSED])
def test_cross_scope_spreadsheet_is_the_same_not_found(site, user, path):
    client = site.as_user(user)
    reference = client.get(f"/statements/holder/NOBODY?month={MONTH}&format=xlsx")
    assert reference.status_code == 404 and b"Page not found" in reference.content
    refused = client.get(f"{path}?month={MONTH}&format=xlsx")
    assert refused.status_code == 404
    assert refused.content == reference.content
    assert refused.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in refused.headers
    for name in HOLDER_NAMES.values():
        assert name not in refused.text


def test_signed_out_spreadsheet_asks_to_sign_in(site):
    response = site.client().get(f"/statements/holder/H1?month={MONTH}&format=xlsx")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "content-disposition" not in response.headers
