"""A bench's own section of a doc, written with `--write-doc`.

Each section stands between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, and
the block a bench builds carries both markers. `write_section` puts the block in place of
the old section, from its start marker to its end marker, and leaves every other byte of
the doc as it was (line endings too). A doc with neither marker gets the block at its end,
after a blank line (and after `heading`, if given). A doc whose markers do not make one
whole section (a start with no end after it, an end with no start, two sections of the
same name) is refused: one line, exit 2, the doc untouched. Someone has edited round the
markers, and where the new figures belong is theirs to say, not a guess's. The doc is
written whole or not at all: a file beside it, then renamed into its place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of the section called `name`."""
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


class SectionError(ValueError):
    """The doc's markers for the section do not make one whole section."""


def replace_section(text: str, name: str, block: str, heading: str | None = None) -> str:
    """`text` with its `name` section replaced by `block`, or `block` appended."""
    start, end = markers(name)
    if not (block.startswith(start) and block.endswith(end)):
        raise ValueError(f"the block for bench:{name} must begin with {start} and end "
                         f"with {end}")
    starts, ends = text.count(start), text.count(end)
    if starts == 0 and ends == 0:
        head = f"{heading}\n\n" if heading else ""
        return text.rstrip("\n") + "\n\n" + head + block + "\n"
    if starts > 1 or ends > 1:
        raise SectionError(f"{starts} {start} and {ends} {end}; keep one of each")
    if ends == 0 or (starts == 1 and text.index(end) < text.index(start)):
        raise SectionError(f"{start} has no {end} after it; put the end marker back, or "
                           "remove the start marker to have the section appended")
    if starts == 0:
        raise SectionError(f"{end} has no {start} before it; put the start marker back, or "
                           "remove the end marker to have the section appended")
    before, rest = text.split(start, 1)
    return before + block + rest.split(end, 1)[1]


def write_section(doc: Path, name: str, block: str, heading: str | None = None) -> None:
    """Write `block` as the `name` section of `doc` (see the module's docstring). A doc
    that cannot be read or written, or whose markers are broken: one line on stderr,
    exit 2."""
    try:
        with open(doc, encoding="utf-8", newline="") as f:
            text = f.read()
        text = replace_section(text, name, block, heading)
        # Whole or not at all: written beside the doc, then put in its place.
        part = doc.with_name(f".{doc.name}.part")
        with open(part, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(part, doc)
    except (OSError, UnicodeDecodeError, SectionError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if isinstance(e, UnicodeDecodeError):
            reason = "not UTF-8 text"
        print(f"bench: {doc}: the bench:{name} section is not written: {reason}",
              file=sys.stderr)
        raise SystemExit(2) from None
