"""The easy read puts a simple picture beside each idea (docs/statements.md#pictures):
inline SVG drawn in the project's templates, each with alt text, nothing loaded from
anywhere, and clean under axe."""

from __future__ import annotations

import re

from ledger.reports.holder_doc import holder_document
from ledger.reports.html import VARIANTS, render_html
from tests.reports.test_easy_read_statement_sums import _statement

IDEA = re.compile(r'<p class="idea">(<svg[^>]*>.*?</svg>)<span>(.*?)</span></p>', re.S)


def _document():
    money = {"opening": 7475, "in": 71500, "delivered": 69000, "fees": 2500,
             "purchases": 0, "returned": 0, "other": 0, "closing": 7475}
    return holder_document(_statement(money))


def test_every_easy_read_idea_has_a_picture_with_alt_text():
    doc = _document()
    html = render_html(doc, "easy_read")
    ideas = IDEA.findall(html)
    lines = [*doc.easy_summary, *(line for s in doc.sections for line in s.easy)]
    assert [text for _, text in ideas][-len(lines):] == [
        line.replace("'", "&#39;") for line in lines]
    for svg, text in ideas:
        assert 'role="img"' in svg and re.search(r'aria-label="[A-Z][^"]+"', svg), text
        assert "<title>" in svg
    pictures = {re.search(r'aria-label="([^"]+)"', svg)[1] for svg, text in ideas}
    assert {"A clock", "A pile of coins"} <= pictures
    clock = next(svg for svg, text in ideas if text.startswith("You used"))
    assert 'aria-label="A clock"' in clock


def test_pictures_load_nothing_and_only_the_easy_read_has_them():
    doc = _document()
    for variant in VARIANTS:
        html = render_html(doc, variant)
        assert not re.search(r"<img|\bsrc=|url\(|xlink:href|href=\"http", html)
        assert ('class="picture"' in html) == (variant == "easy_read")


def test_the_easy_read_with_pictures_is_clean_under_axe(axe):
    from tests.a11y.axe import format_violations

    page = render_html(_document(), "easy_read")
    found = axe.check_html(page)
    assert not found, format_violations(found)
    assert axe.reflow_ok(page)["ok"]
