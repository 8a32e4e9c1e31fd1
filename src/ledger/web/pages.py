"""What every page of the web view shares (docs/web.md): the templates, the security
headers, the CSRF token, the one "not found" answer, who is signed in, the month asked
for, and a statement as a page or a download. Routes live in ledger.web.app and
ledger.web.invites; this module imports neither."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import cache, partial
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from ledger.app import access
from ledger.app.access import User
from ledger.app.statements import Period, Statement

SESSION_DAYS = access.SESSION_DAYS

SECURITY_HEADERS = {
    # Nothing is fetched from anywhere; no script runs; no other site may frame a page.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Where each kind of statement is read: the addresses people have bookmarked. Every
# kind is also at /statements/KIND/ID, and all of them are one page (ledger.web.app).
PAGES = {"holder": "/statements/holder/{}", "pool": "/statements/pool/{}",
         "provider": "/provider/{}/month-end", "council": "/council/{}",
         "isf": "/statements/isf/{}"}  # a provider's statement of one ISF: H:P
LINK_TEXT = {"holder": "Statement", "pool": "Pool", "provider": "Month end",
             "council": "Council overview", "isf": "ISF"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOAD_NAME = {"holder": "statement", "pool": "pool", "provider": "month-end",
                 "council": "council", "isf": "isf"}


@cache
def _templates():
    from jinja2 import (
        ChoiceLoader,
        Environment,
        PackageLoader,
        StrictUndefined,
        select_autoescape,
    )

    return Environment(loader=ChoiceLoader([PackageLoader("ledger.web", "templates"),
                                            PackageLoader("ledger.reports", "templates")]),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined)


def csrf(request: Request) -> str:
    """The form token: while signed out, a random one kept in the cookie; once signed in,
    one derived from the session's token with the ledger's key (the cookie then carries
    only the session's token)."""
    session = request.session.get("token")
    if isinstance(session, str):
        return _csrf_of(request, session)
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_of(request: Request, session: str) -> str:
    key = request.app.state.web.secret.encode()
    return hmac.new(key, b"csrf|" + session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, form) -> bool:
    session = request.session.get("token")
    kept = (_csrf_of(request, session) if isinstance(session, str)
            else request.session.get("csrf", ""))
    sent = form.get("csrf_token", "")
    return bool(kept) and isinstance(sent, str) and secrets.compare_digest(sent, kept)


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    html = _templates().get_template(template).render(
        request=request, csrf_token=csrf(request), user=context.pop("user", None), **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def not_found(request: Request, user: User | None) -> HTMLResponse:
    """The one answer for "not yours" and "does not exist": no name, no figure."""
    return page(request, "not_found.html.j2", status=404, user=user)


def could_not(request: Request) -> HTMLResponse:
    """The answer when the server failed (the database unreachable, or refusing): plain
    words and a way back, status 500, the same headers as every page. No detail: the
    error goes to the server's log (docs/web.md#logs), never to the reader."""
    html = _templates().get_template("could_not.html.j2").render(
        request=request, csrf_token="", user=None)
    return HTMLResponse(html, status_code=500, headers=SECURITY_HEADERS)


def signed_in(request: Request, books) -> User | None:
    """The user whose open session the cookie's token names (kept on the server, so a
    sign-out, a removal, a new password or new roles end it at once); else None, and the
    cookie's session is cleared."""
    token = request.session.get("token")
    if token is None:
        return None
    user = access.session_user(books, token)
    if user is None:
        request.session.clear()
    return user


def start_session(request: Request, uid: int) -> bool:
    """A new session on sign-in (no fixation): a new random token, the only thing the
    cookie carries; the session itself is a record on the server. False (and no session)
    if the sign-in was removed a moment ago."""
    token = access.start_session(request.app.state.web.books, uid)
    if token is None:
        return False
    request.session.clear()
    request.session["token"] = token
    return True


def end_session(request: Request) -> None:
    """Sign-out: the session ends on the server, and the cookie is cleared."""
    token = request.session.get("token")
    if isinstance(token, str):
        access.end_session(request.app.state.web.books, token)
    request.session.clear()


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def month_period(value: str) -> Period | None:
    """The month asked for; None if it is not a month YYYY-MM."""
    try:
        return Period.of_month(value)
    except ValueError:
        return None


def plain_id(value: str) -> bool:
    """An id as the ledger writes them: 1 to 200 characters, no control character (a NUL
    byte would reach PostgreSQL, which cannot hold one)."""
    return 0 < len(value) <= 200 and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)


def links(readable: list[tuple[str, str, str]]) -> list[dict]:
    """The home page's links, from (kind, id, name) of what the user may read."""
    return [{"href": PAGES[kind].format(quote(ident, safe="")),
             "text": f"{LINK_TEXT[kind]}: {name}"} for kind, ident, name in readable]


def _attachment(filename: str) -> str:
    """A Content-Disposition for any id: an ASCII name, and the exact one (RFC 6266)."""
    exact = re.sub(r"[\\/]", "-", filename)
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", exact)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(exact, safe='')}"


def statement_response(request: Request, user: User, found: Statement, fmt: str) -> Response:
    """The statement as a page, or a download: PDF (the same document) or a spreadsheet
    (its tables, a sheet each, figures as numbers). There is no CSV: one file of several
    tables with amounts as printed text needed hand work before a spreadsheet could add it
    up (docs/web.md)."""
    version = found.version(request.query_params.get("version"))
    month = found.period.month
    filename = f"{DOWNLOAD_NAME[found.kind]}-{found.ident}-{month}"
    if fmt == "pdf":
        return Response(found.render("pdf", version), media_type="application/pdf",
                        headers={**SECURITY_HEADERS,
                                 "Content-Disposition": _attachment(f"{filename}.pdf")})
    if fmt == "xlsx":
        return Response(found.render("xlsx", version), media_type=XLSX_TYPE,
                        headers={**SECURITY_HEADERS,
                                 "Content-Disposition": _attachment(f"{filename}.xlsx")})
    if fmt != "html":
        return not_found(request, user)
    base = quote(request.url.path)

    def link(**changes) -> str:
        query = {"month": month, "version": version, **changes}
        return f"{base}?{urlencode({k: v for k, v in query.items() if v})}"

    versions = [{"value": v, "text": t, "href": link(version=v), "current": v == version}
                for v, t in (("standard", "Standard"), ("large_print", "Large print"),
                             ("easy_read", "Easy read"))]
    return page(request, "statement_page.html.j2", user=user, doc=found.document,
                document_body=partial(_document_body, found), variant=version, month=month,
                versions=versions, pdf=link(format="pdf"), xlsx=link(format="xlsx"),
                path=base)


_CALLER = "\x00page controls\x00"  # cannot occur in a rendered document: no NUL


def _document_body(found: Statement, doc, variant: str, standalone: bool = True, *,
                   caller) -> Markup:
    """The statements' `document_body` macro (reports/templates/_document.html.j2) as the
    page calls it, the same text: the document is rendered once per version for the
    statement and its cached copies (ledger.app.statement_cache), and the page's own
    controls (`caller`) are put in its place every time."""

    def render() -> tuple[str, str]:
        macro = _templates().get_template("_document.html.j2").module.document_body
        text = str(macro(doc, variant, standalone, caller=lambda: Markup(_CALLER)))
        before, mark, after = text.partition(_CALLER)
        assert mark, "document_body did not call its caller"
        return before, after

    before, after = found.kept(("web page", variant, standalone), render)
    return Markup(before) + caller() + Markup(after)
