"""`ledger serve`: the ledger's statements on the web, read-only, behind a sign-in
(docs/web.md).

Server-rendered pages from the statements' own documents and templates: no JavaScript,
plain URLs a person can bookmark. Every page and download checks the reader's roles
(ledger.web.scope); a refusal is the same "not found" page whether the thing is not yours
or does not exist. Sessions are signed, HttpOnly, SameSite=Lax cookies; every form
carries a CSRF token; failed sign-ins are rate-limited per username and per address.
The only writes are to the sign-in tables (users, invitations, failed attempts), never
to the books.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cache
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from ledger.errors import LedgerError, UsageError
from ledger.web import scope
from ledger.web.users import User

SESSION_DAYS = 1
MONTH_FORMAT = "%Y-%m"


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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Web:
    """What every request needs: the engine, the ledger and the signed-in user."""

    def __init__(self, db_url: str, ledger: str, https_only: bool = False) -> None:
        from ledger.store.schema import make_engine

        self.engine = make_engine(db_url)
        self.ledger = ledger
        self.https_only = https_only
        with self.engine.begin() as conn:
            from ledger.store.repo import DbStore
            from ledger.web.users import session_secret

            self.lid = DbStore(conn, ledger).lid
            self.secret = session_secret(conn, self.lid)


def create_app(db_url: str, ledger: str = "main", https_only: bool = False) -> FastAPI:
    web = Web(db_url, ledger, https_only)
    app = FastAPI(title="care-ledger", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=web.secret, session_cookie="ledger_session",
                       max_age=SESSION_DAYS * 86400, same_site="lax", https_only=https_only)
    app.state.web = web

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        """The same headers on every answer, redirects and errors included."""
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    _routes(app, web)
    return app


def create_app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several workers: the same settings `ledger serve`
    passes through the environment."""
    import os

    return create_app(os.environ["LEDGER_DATABASE_URL"], os.environ.get("LEDGER_NAME", "main"),
                      os.environ.get("LEDGER_HTTPS_ONLY") == "1")


# ---------------------------------------------------------------- helpers


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok(request: Request, form) -> bool:
    sent, kept = form.get("csrf_token", ""), request.session.get("csrf", "")
    return bool(kept) and isinstance(sent, str) and secrets.compare_digest(sent, kept)


def _page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    html = _templates().get_template(template).render(
        request=request, csrf_token=_csrf(request), user=context.pop("user", None), **context)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


_SECURITY_HEADERS = {
    # Nothing is fetched from anywhere; no script runs; no other site may frame a page.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _not_found(request: Request, user: User | None) -> HTMLResponse:
    """The one answer for "not yours" and "does not exist": no name, no figure."""
    return _page(request, "not_found.html.j2", status=404, user=user)


def _signed_in(request: Request, web: Web) -> User | None:
    from ledger.web.users import load_user

    uid = request.session.get("uid")
    since = request.session.get("since")
    if not isinstance(uid, int) or not isinstance(since, int | float):
        return None
    if _now().timestamp() - since > SESSION_DAYS * 86400:
        request.session.clear()  # a day after signing in, whatever the cookie says
        return None
    with web.engine.connect() as conn:
        return load_user(conn, web.lid, uid)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _month(value: str | None) -> tuple[dt.date, dt.date, str] | None:
    """The month asked for (default: last month), as first and last day; None if it is
    not a month."""
    if value is None:
        first = (_now().date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    else:
        try:
            first = dt.datetime.strptime(value, MONTH_FORMAT).date()
        except ValueError:
            return None
        if not 1900 <= first.year <= 2199:  # the ledger's dates (docs/rules-trust.md#reading)
            return None
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return first, last, first.strftime(MONTH_FORMAT)


def _version(request: Request, preference: str | None) -> str:
    from ledger.reports.html import version_for

    return version_for(preference, request.query_params.get("version"))


def _plain_id(value: str) -> bool:
    """An id as the ledger writes them: 1 to 200 characters, no control character (a NUL
    byte would reach PostgreSQL, which cannot hold one)."""
    return 0 < len(value) <= 200 and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)


def _attachment(filename: str) -> str:
    """A Content-Disposition for any id: an ASCII name, and the exact one (RFC 6266)."""
    import re

    exact = re.sub(r"[\\/]", "-", filename)
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", exact)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(exact, safe='')}"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# ---------------------------------------------------------------- routes


def _routes(app: FastAPI, web: Web) -> None:  # noqa: C901 - one place lists every page
    from ledger.store.repo import DbStore

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None):
        return _page(request, "login.html.j2", next=_safe_next(next), error=None)

    @app.post("/login")
    async def login(request: Request):
        from ledger.web import users

        form = await request.form()
        username = "".join(c if ord(c) >= 32 else "\ufffd"
                           for c in str(form.get("username", ""))[:100])
        password = str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "/")))
        if not _csrf_ok(request, form):
            return _page(request, "login.html.j2", status=400, next=target,
                         error="The form was out of date. Please sign in again.")
        address = request.client.host if request.client else "unknown"
        now = _now()
        with web.engine.begin() as conn:
            if users.too_many_failures(conn, web.lid, username, address, now):
                return _page(request, "login.html.j2", status=429, next=target,
                             error="Too many attempts to sign in. Please wait 15 minutes "
                                   "and try again.")
            user = users.authenticate(conn, web.lid, username, password)
            if user is None:
                users.record_failure(conn, web.lid, username, address, now)
            else:
                users.clear_failures(conn, web.lid, username)
        if user is None:
            return _page(request, "login.html.j2", status=401, next=target,
                         error="That username and password do not match. Please try again.")
        request.session.clear()  # a new session on sign-in: no fixation
        request.session.update(uid=user.id, csrf=secrets.token_urlsafe(32),
                               since=int(_now().timestamp()))
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        form = await request.form()
        if _csrf_ok(request, form):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        with web.engine.connect() as conn:
            links = _home_links(DbStore(conn, web.ledger), user)
        return _page(request, "home.html.j2", user=user, links=links,
                     can_invite=scope.can_invite(user))

    @app.get("/statements/holder/{holder}")
    def holder_page(request: Request, holder: str, month: str | None = None,
                    format: str = "html"):
        from ledger.reports.holder_doc import holder_document
        from ledger.reports.statements import holder_statement

        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        period = _month(month)
        with web.engine.connect() as conn:
            store = DbStore(conn, web.ledger)
            if period is None or not _plain_id(holder) or \
                    not scope.Reader(store, user, period[1]).holder(holder):
                return _not_found(request, user)
            try:
                data = holder_statement(store, holder, period[0], period[1])
            except (UsageError, LedgerError):
                return _not_found(request, user)
        doc = holder_document(data)
        version = _version(request, data.get("statement_format"))
        return _statement_response(request, user, doc, data, version, period[2], format,
                                   f"statement-{holder}-{period[2]}")

    @app.get("/statements/pool/{pool:path}")
    def pool_page(request: Request, pool: str, month: str | None = None,
                  format: str = "html"):
        from ledger.reports.pool_doc import label_for, pool_document
        from ledger.reports.statements import pool_statement_from_store

        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        period = _month(month)
        with web.engine.connect() as conn:
            store = DbStore(conn, web.ledger)
            if period is None or not _plain_id(pool) or \
                    not (reader := scope.Reader(store, user, period[1])).pool(pool):
                return _not_found(request, user)
            data = pool_statement_from_store(store, pool, period[0], period[1])
            member = reader.own_member(pool)
            label = preference = None
            if member is not None:
                parties = store.parties("holder", as_of=period[1])
                label = label_for(store.get_state("pool", pool) or {}, parties, member)
                preference = (parties.get(member) or {}).get("statement_format")
        try:
            doc = pool_document(data, member_label=label)
        except ValueError:  # not a member in this period: the shared copy
            doc = pool_document(data)
        return _statement_response(request, user, doc, data, _version(request, preference),
                                   period[2], format, f"pool-{pool}-{period[2]}")

    @app.get("/provider/{provider}/month-end")
    def provider_page(request: Request, provider: str, month: str | None = None,
                      format: str = "html"):
        from ledger.reports.provider_statement import provider_document, provider_statement

        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        period = _month(month)
        with web.engine.connect() as conn:
            store = DbStore(conn, web.ledger)
            if period is None or not _plain_id(provider) or \
                    not scope.Reader(store, user, period[1]).provider(provider):
                return _not_found(request, user)
            data = provider_statement(store, provider, period[2])
        return _statement_response(request, user, provider_document(data), data,
                                   _version(request, None), period[2], format,
                                   f"month-end-{provider}-{period[2]}")

    @app.get("/council/{council}")
    def council_page(request: Request, council: str, month: str | None = None,
                     format: str = "html"):
        from ledger.reports.council_doc import council_document
        from ledger.reports.council_statement import council_statement

        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        period = _month(month)
        with web.engine.connect() as conn:
            store = DbStore(conn, web.ledger)
            if period is None or not _plain_id(council) or \
                    not scope.Reader(store, user, period[1]).council(council):
                return _not_found(request, user)
            data = council_statement(store, council, period[0], period[1])
        return _statement_response(request, user, council_document(data), data,
                                   _version(request, None), period[2], format,
                                   f"council-{council}-{period[2]}")

    from ledger.web.invites import invite_routes

    invite_routes(app, web)

    @app.exception_handler(404)
    async def missing(request: Request, exc):
        return _not_found(request, _signed_in(request, web))


def _home_links(store, user: User) -> list[dict]:
    """What this user may open, each with a plain name."""
    links = []
    today = _now().date()
    reader = scope.Reader(store, user, today)
    holders = sorted(store.parties("holder", as_of=today).items())
    for hid, party in holders:
        if reader.holder(hid):
            name = party.get("name") or hid
            links.append({"href": f"/statements/holder/{quote(hid, safe='')}",
                          "text": f"Statement: {name}"})
    for ref, state in sorted(store.states("pool").items()):
        if reader.pool(ref):
            links.append({"href": f"/statements/pool/{quote(ref, safe='')}",
                          "text": f"Pool: {state.get('name') or ref}"})
    for pid, party in sorted(store.parties("provider", as_of=today).items()):
        if reader.provider(pid):
            links.append({"href": f"/provider/{pid}/month-end",
                          "text": f"Month end: {party.get('name') or pid}"})
    for cid, party in sorted(store.parties("council", as_of=today).items()):
        if reader.council(cid):
            links.append({"href": f"/council/{cid}",
                          "text": f"Council overview: {party.get('name') or cid}"})
    return links


def _statement_response(request: Request, user: User, doc, data: dict, version: str,
                        month: str, fmt: str, filename: str) -> Response:
    """The statement as a page, or a download: PDF (the same document) or CSV (its
    tables, one after another)."""
    if fmt == "pdf":
        from ledger.reports.html import render_pdf

        return Response(render_pdf(doc, version), media_type="application/pdf", headers={
            **_SECURITY_HEADERS,
            "Content-Disposition": _attachment(f"{filename}.pdf")})
    if fmt == "csv":
        return Response(_document_csv(doc), media_type="text/csv; charset=utf-8", headers={
            **_SECURITY_HEADERS,
            "Content-Disposition": _attachment(f"{filename}.csv")})
    if fmt != "html":
        return _not_found(request, user)
    base = quote(request.url.path)

    def link(**changes) -> str:
        query = {"month": month, "version": version, **changes}
        return f"{base}?{urlencode({k: v for k, v in query.items() if v})}"

    versions = [{"value": v, "text": t, "href": link(version=v), "current": v == version}
                for v, t in (("standard", "Standard"), ("large_print", "Large print"),
                             ("easy_read", "Easy read"))]
    return _page(request, "statement_page.html.j2", user=user, doc=doc, variant=version,
                 month=month, versions=versions, pdf=link(format="pdf"),
                 csv=link(format="csv"), path=base)


def _document_csv(doc) -> bytes:
    """Every table of the document, each after its caption, as CSV a spreadsheet opens
    (a leading ' on any cell a spreadsheet would run)."""
    import csv
    import io

    from ledger.reports.council_exports import safe

    out = io.StringIO()
    write = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")
    for section in doc.sections:
        for part in [section, *section.subsections]:
            for table in part.tables:
                write.writerow([safe(table.caption)])
                write.writerow([safe(c) for c in table.columns])
                for row in [*table.rows, *([table.total] if table.total else [])]:
                    write.writerow([safe(c) for c in row])
                write.writerow([])
    return out.getvalue().encode("utf-8")
