"""Free text a person typed (ids, names, payees, categories, reasons, descriptions): one
rule for all of it (docs/rules-trust.md#reading).

Text may not contain a character that breaks or hides a line: control characters
(Unicode category Cc: NUL, tab, CR, LF, DEL, the C1 controls), line and paragraph
separators (Zl, Zp), surrogates (Cs, which no database encoding holds) and invisible
format characters (Cf), except the zero-width joiner and non-joiner (U+200C, U+200D),
which spelling names in Persian and Indic scripts, and emoji, needs. Cf includes the
bidirectional overrides (U+202E ...) that can make a line read differently from what it
holds. And text has a length limit, so it always fits the column and the statement line.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_CHARS = 200  # any text value in an event or a party (docs/architecture.md#limits)

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
# Printable ASCII, the common case, needs no lookup in the Unicode database.
_PLAIN = re.compile(r"[\x20-\x7e]*")


def text_problem(value: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why `value` is not acceptable text, or None."""
    if len(value) > max_chars:
        return f"is longer than {max_chars} characters"
    if _PLAIN.fullmatch(value):
        return None
    for char in value:
        if char in _JOINERS:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"contains the control character U+{ord(char):04X}"
    return None


def all_plain(texts: list[str], max_chars: int = MAX_TEXT_CHARS) -> bool:
    """True when every text is printable ASCII within the limit, so `text_problem` has
    nothing to say about any of them: the usual case, checked with one match."""
    return (max(map(len, texts), default=0) <= max_chars
            and _PLAIN.fullmatch("".join(texts)) is not None)
