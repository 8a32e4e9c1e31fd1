"""A heading or a table's caption never ends a PDF page (issue 20): it is kept with
what follows it, in every version of a statement."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli
from ledger.reports.council_doc import council_document
from ledger.reports.council_statement import council_statement
from ledger.reports.holder_doc import holder_document
from ledger.reports.html import VARIANTS, render_html
from ledger.reports.statements import holder_statement
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
KEEP_WITH_NEXT = ("h1", "h2", "h3", "caption")


def _last_on_each_page(html: str) -> list[tuple[str, str]]:
    """The last heading, paragraph, caption, table row or term laid out on each page but the
    last, as (tag, text)."""
    from weasyprint import HTML

    lasts = []
    pages = HTML(string=html).render().pages
    for page in pages[:-1]:
        seen: list[tuple[str, str]] = []

        def walk(box, seen=seen) -> None:
            tag = getattr(box, "element_tag", None)
            if tag in (*KEEP_WITH_NEXT, "p", "li", "tr", "dt", "dd"):
                text = "".join(box.element.itertext()) if box.element is not None else ""
                seen.append((tag, " ".join(text.split())))
                return
            for child in getattr(box, "children", None) or []:
                walk(child)
        walk(page._page_box)
        lasts.append(seen[-1])
    return lasts


def test_no_page_ends_with_a_heading_or_a_caption(db_url):
    import datetime as dt

    done = CliRunner().invoke(cli, ["scenario", "run", str(SCENARIOS / "wokingham-isf-pilot.yaml"),
                                    "--db", db_url], env={"LEDGER_DATABASE_URL": None})
    assert done.exit_code == 0, done.output
    start, end = dt.date(2026, 4, 1), dt.date(2026, 6, 30)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            store = DbStore(conn)
            documents = [holder_document(holder_statement(store, "H2", start, end)),
                         council_document(council_statement(store, "WBC", start, end))]
    finally:
        engine.dispose()
    pages = 0
    for document in documents:
        for variant in VARIANTS:
            lasts = _last_on_each_page(render_html(document, variant))
            pages += len(lasts) + 1
            stranded = [last for last in lasts if last[0] in KEEP_WITH_NEXT]
            assert not stranded, (document.title, variant, stranded)
    assert pages > len(documents) * len(VARIANTS)  # some statements run over a page
