"""A statement as a reader meets it: a title, sections of plain sentences and tables.

Every statement kind (holder, pool, provider, council) is first built as a `Document`,
then rendered as text, HTML (standard, large print or easy read) or PDF by functions that
know nothing about ledgers (docs/statements.md#formats). So the words a screen reader
speaks, the words on paper and the words in a terminal are the same words.

A section carries two versions of its words: `sentences` (plain English) and `easy`
(easy read: at most 15 words a sentence, one idea a line, key numbers first;
docs/statements.md#easy-read). Tables are for the standard and large-print versions;
easy read leaves them out unless a table is marked `easy`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from ledger.core.amounts import format_minutes
from ledger.core.calendar import month_title

EASY_READ_MAX_WORDS = 15


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)  # right-aligned figure columns
    total: list[str] | None = None  # a last row, shown apart (a table foot)
    easy: bool = False  # also shown in the easy-read version
    row_headers: bool = True  # the first cell of each row names the row

    def __post_init__(self) -> None:
        if not self.numeric:
            self.numeric = [False, *([True] * (len(self.columns) - 1))]
        assert len(self.numeric) == len(self.columns)
        assert all(len(row) == len(self.columns) for row in self.rows), self.caption


@dataclass
class Section:
    heading: str
    sentences: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    easy: list[str] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    id: str = ""  # an anchor for links within the document


@dataclass
class Document:
    kind: str  # holder, pool, provider, council
    title: str
    subtitle: str
    summary: list[str] = field(default_factory=list)  # the key numbers, said first
    easy_summary: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how to read it, who to ask
    lang: str = "en-GB"

    def words_we_use(self) -> list[tuple[str, str]]:
        """The easy read's "Words we use" box: see `words_we_use` below."""
        return words_we_use(self)

    @staticmethod
    def picture_for(line: str) -> str:
        """The easy read's picture beside a line: see `picture_for` below."""
        return picture_for(line)


# ---------------------------------------------------------------- words we use

# The easy read's "Words we use" box (docs/statements.md#words-we-use): a word is
# explained when the statement uses it. Each meaning is one short easy-read line.
WORDS_WE_USE = (
    ("Direct payment", r"direct payment",
     "Money the council pays you, so you can buy your own support.",
     "Money a council pays a person, so they can buy their own support."),
    ("ISF", r"\bISFs?\b|Individual Service Fund|holds money for your support",
     "Individual Service Fund. A provider holds money for your support.",
     "Individual Service Fund. A provider holds a person's money for their support."),
    ("PA", r"\bPAs?\b", "Personal assistant. Someone you employ to support you.",
     "Personal assistant. Someone a person employs to support them."),
    ("Pool", r"\bpool", "Money people put together to pay for things they share.",
     "Money people put together to pay for things they share."),
)
PERSONAL_KINDS = ("holder", "pool")  # written to "you"; the others to an organisation


def words_we_use(document: Document) -> list[tuple[str, str]]:
    """(word, meaning) for each word of WORDS_WE_USE the document uses anywhere."""
    text = [document.title, *document.summary, *document.easy_summary]
    sections = [*document.sections]
    while sections:
        section = sections.pop()
        text += [section.heading, *section.sentences, *section.easy]
        text += [cell for table in section.tables for row in table.rows for cell in row]
        sections += section.subsections
    joined = "\n".join(text)
    personal = document.kind in PERSONAL_KINDS
    return [(word, yours if personal else theirs)
            for word, pattern, yours, theirs in WORDS_WE_USE
            if re.search(pattern, joined, re.IGNORECASE if word != "PA" else 0)]


# ---------------------------------------------------------------- pictures

# The easy read puts a simple picture beside each idea (docs/statements.md#pictures),
# drawn as inline SVG in templates/_pictures.html.j2. Which one, from the line's words:
# the first rule that matches wins.
PICTURES = (
    ("back", re.compile(r"went back|back to the council|paid back|got .* back",
                        re.IGNORECASE)),
    ("coins", re.compile(r"£")),
    ("clock", re.compile(r"\bhours?\b|\bminutes?\b", re.IGNORECASE)),
    ("calendar", re.compile(r"\bmonth\b|January|February|March|April|May|June|July|"
                            r"August|September|October|November|December")),
    ("people", re.compile(r"\bmembers?\b|\bgroup\b|\bpool\b|\bMember \d", re.IGNORECASE)),
)


def picture_for(line: str) -> str:
    """The name of the picture for an easy-read line: clock, back, coins, calendar,
    people, or info for anything else."""
    return next((name for name, pattern in PICTURES if pattern.search(line)), "info")


# ---------------------------------------------------------------- words for figures


def money(pence: int) -> str:
    """£1,234.50, never signed: callers say "owed", "short" or "held" in words."""
    pounds, rest = divmod(abs(pence), 100)
    return f"£{pounds:,}.{rest:02d}"


def signed_money(pence: int) -> str:
    """-£42.00 or £84.00: for a balance column in a finance officer's table, where an
    overspent account must subtract when the column is added up."""
    return f"-{money(pence)}" if pence < 0 else money(pence)


def hours(minutes: int) -> str:
    """"22 hours 45 minutes", "1 hour", "30 minutes", "0 hours": never signed."""
    minutes = abs(minutes)
    whole, rest = divmod(minutes, 60)
    parts = []
    if whole or not rest:
        parts.append(f"{whole} hour" + ("" if whole == 1 else "s"))
    if rest:
        parts.append(f"{rest} minute" + ("" if rest == 1 else "s"))
    return " ".join(parts)


def decimal_hours(minutes: int) -> str:
    """For tables: `22.75`, as the CSV and JSON outputs write hours."""
    return format_minutes(minutes)


def long_date(value: str | dt.date) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"


def month_name(month: str) -> str:
    """`2026-05` -> `May 2026` (ledger.core.calendar.month_title)."""
    return month_title(month)


def end_phrase(start: str | dt.date, end: str | dt.date) -> str:
    """When the period ends, for easy read instead of "now" (a statement is read months
    later): "at the end of June 2026" for a whole month, else "on 9 June 2026"."""
    first = dt.date.fromisoformat(start) if isinstance(start, str) else start
    last = dt.date.fromisoformat(end) if isinstance(end, str) else end
    if first.day == 1 and (last + dt.timedelta(days=1)).day == 1 and \
            (first.year, first.month) == (last.year, last.month):
        return f"at the end of {last:%B %Y}"
    return f"on {long_date(last)}"


def word_count(sentence: str) -> int:
    return len(sentence.split())


# ---------------------------------------------------------------- plain text


def render_text(document: Document, width: int = 88) -> str:
    """The standard version as plain text for a terminal or an email."""
    import textwrap

    out = [document.title, document.subtitle, ""]
    out += [line for s in document.summary for line in textwrap.wrap(s, width)]
    if document.summary:
        out.append("")

    def emit(section: Section, depth: int) -> None:
        out.append(section.heading)
        out.append(("=" if depth == 0 else "-") * len(section.heading))
        for sentence in section.sentences:
            out.extend(textwrap.wrap(sentence, width))
        for table in section.tables:
            out.append("")
            out.extend(_text_table(table))
        out.append("")
        for sub in section.subsections:
            emit(sub, depth + 1)

    for section in document.sections:
        emit(section, 0)
    for note in document.notes:
        out.extend(textwrap.wrap(note, width))
    return "\n".join(out).rstrip() + "\n"


def _text_table(table: Table) -> list[str]:
    rows = [table.columns, *table.rows, *([table.total] if table.total else [])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(table.columns))]
    lines = [table.caption]
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if num else c.ljust(w)
                 for c, w, num in zip(row, widths, table.numeric, strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
        if n == 0 or (table.total and n == len(rows) - 2):
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def render_easy_text(document: Document) -> str:
    """The easy-read version as text: one idea a line, blank lines between sections."""
    out = [document.title, document.subtitle, "", *document.easy_summary, ""]
    words = words_we_use(document)
    if words:
        out += ["Words we use", *(f"{word}: {meaning}" for word, meaning in words), ""]
    for section in document.sections:
        for sub in [section, *section.subsections]:
            if not sub.easy:
                continue
            out += [sub.heading, *sub.easy, ""]
    return "\n".join(out).rstrip() + "\n"
