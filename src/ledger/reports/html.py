"""Statements as HTML and PDF (docs/statements.md#formats).

One self-contained HTML file per statement, from one Jinja2 template: the stylesheet is
inlined and nothing is fetched from the network, so the file can be emailed, saved on a
phone or opened offline. The PDF is WeasyPrint's rendering of the same HTML, tagged
(PDF/UA) so a screen reader finds the headings and tables.

Variants: `standard`, `large_print` (18pt text or more) and `easy_read` (short
sentences, one idea a line, key numbers first, large type).
"""

from __future__ import annotations

from functools import cache

from ledger.reports.document import Document

VARIANTS = ("standard", "large_print", "easy_read")


@cache
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("ledger.reports", "templates"),
                       autoescape=select_autoescape(["html", "j2"], default=True),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False,
                       keep_trailing_newline=True, auto_reload=False)


def render_html(document: Document, variant: str = "standard") -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    template = _environment().get_template("statement.html.j2")
    return template.render(doc=document, variant=variant)


def render_pdf(document: Document, variant: str = "standard") -> bytes:
    """The HTML as a tagged PDF (PDF/UA-1), A4."""
    from weasyprint import HTML

    html = render_html(document, variant)
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True,
                                       custom_metadata=True)


def version_for(preference: str | None, asked: str | None = None) -> str:
    """The version a reader gets: the one asked for, else the person's recorded
    preference (docs/statements.md#formats), else standard."""
    if asked in VARIANTS:
        return asked
    return preference if preference in ("easy_read", "large_print") else "standard"


def render_statement(document: Document, data: dict, fmt: str, variant: str) -> bytes:
    """The bytes of one statement file, the same for `ledger statement ...` and for
    `ledger statement holders`: JSON is the data; text, HTML and PDF are the document in
    the version; xlsx is the document's tables, a sheet each, in any version
    (docs/statements.md#xlsx)."""
    if fmt == "xlsx":
        from ledger.reports.statement_sheet import statement_xlsx

        return statement_xlsx(document)
    if fmt == "pdf":
        return render_pdf(document, variant)
    if fmt == "json":
        import json

        text = json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = render_html(document, variant)
    else:
        from ledger.reports.document import render_easy_text, render_text

        text = render_easy_text(document) if variant == "easy_read" else render_text(document)
    return text.encode("utf-8")
