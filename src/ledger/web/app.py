"""`ledger serve`: the ledger's statements on the web, read-only, behind a sign-in
(docs/web.md).

Server-rendered pages from the statements' own documents and templates: no JavaScript,
plain URLs a person can bookmark. Every statement is one page, `/statements/KIND/ID`
(`/provider/P/month-end` and `/council/C` too), which asks `ledger.app.statements` for
the statement as the signed-in reader may read it; a refusal is the same "not found"
page whether the thing is not yours or does not exist. Sessions are kept on the server
(records of the ledger's audit chain); the cookie is signed, HttpOnly, SameSite=Lax and
carries only the session's random token. Every form carries a CSRF token; failed
sign-ins are rate-limited per username and per address. The only writes are to the audit
chain (sessions, invitations) and the failed attempts, never to the books.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware

from ledger.app import access
from ledger.app.months import latest_month
from ledger.app.reading import Books
from ledger.app.statement_cache import StatementCache
from ledger.app.statements import KINDS, Scope, readable, statement
from ledger.errors import LedgerError, UsageError
from ledger.web import addresses, invites
from ledger.web import two_factor as two_factor_pages
from ledger.web.addresses import TrustedProxies, trusted_networks
from ledger.web.limits import BodyLimit, off_loop
from ledger.web.pages import (
    SECURITY_HEADERS,
    SESSION_DAYS,
    could_not,
    csrf_ok,
    end_session,
    links,
    month_period,
    not_found,
    page,
    plain_id,
    safe_next,
    signed_in,
    start_session,
    statement_response,
    to_login,
)


class Web:
    """What every request needs: the ledger's books and the session key."""

    def __init__(self, db_url: str, ledger: str, https_only: bool = False) -> None:
        self.books = Books.at(db_url, ledger, mode="serve")
        self.ledger = ledger
        self.https_only = https_only
        self.secret = access.session_key(self.books)
        # Statements built in this process, for the next reader (docs/web.md#cache).
        self.statements = StatementCache()

    @property
    def engine(self):
        return self.books.engine


class SecurityHeaders:
    """The same headers on every answer, redirects and errors included. A plain ASGI
    middleware: Starlette's BaseHTTPMiddleware costs a task group and a stream per
    request (about a tenth of a page's time under load, in the profile)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(db_url: str, ledger: str = "main", https_only: bool = False,
               trusted_proxies: tuple[str, ...] = (),
               require_two_factor: tuple[str, ...] = ()) -> FastAPI:
    web = Web(db_url, ledger, https_only)
    app = FastAPI(title="care-ledger", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)  # 413 past 64 KiB, 415 for a file upload (web/limits.py)
    app.add_middleware(SessionMiddleware, secret_key=web.secret, session_cookie="ledger_session",
                       max_age=SESSION_DAYS * 86400, same_site="lax", https_only=https_only)
    app.state.web = web

    app.add_middleware(SecurityHeaders)

    _routes(app, web.books)
    invites.routes(app, web.books)
    two_factor_pages.routes(app, web.books, require_two_factor)  # web/two_factor.py
    # Outermost: who the client is (X-Forwarded-For only from --trusted-proxy peers).
    app.add_middleware(TrustedProxies, trusted=trusted_networks(trusted_proxies))

    @app.exception_handler(404)
    async def missing(request: Request, exc):
        return not_found(request, signed_in(request, web.books))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc):
        # Starlette answers with this, then raises the error again for the server's log.
        return could_not(request)

    return app


def create_app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several workers: the same settings `ledger serve`
    passes through the environment."""
    import os

    return create_app(os.environ["LEDGER_DATABASE_URL"], os.environ.get("LEDGER_NAME", "main"),
                      os.environ.get("LEDGER_HTTPS_ONLY") == "1",
                      tuple(os.environ.get(addresses.ENVIRONMENT, "").split()),
                      require_two_factor=tuple(
                          os.environ.get("LEDGER_REQUIRE_TWO_FACTOR", "").split()))


def _routes(app: FastAPI, books: Books) -> None:
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None):
        return page(request, "login.html.j2", next=safe_next(next), error=None)

    @app.post("/login")
    async def login(request: Request):
        form = await request.form()
        username = "".join(c if ord(c) >= 32 else "\ufffd"
                           for c in str(form.get("username", ""))[:100])
        target = safe_next(str(form.get("next", "/")))
        if not csrf_ok(request, form):
            return page(request, "login.html.j2", status=400, next=target,
                        error="The form was out of date. Please sign in again.")
        address = request.client.host if request.client else "unknown"  # web/addresses.py
        try:  # Argon2 in the hashing pool, never on the event loop (web/limits.py)
            user = await off_loop(access.sign_in, books, username,
                                  str(form.get("password", "")), address)
        except access.TooManyAttempts:
            return page(request, "login.html.j2", status=429, next=target,
                        error="Too many attempts to sign in. Please wait 15 minutes "
                              "and try again.")
        if user is None:
            return page(request, "login.html.j2", status=401, next=target,
                        error="That username and password do not match. Please try again.")
        second = two_factor_pages.after_password(request, books, user, target)
        if second is not None:  # two-factor: a code (or setting it up) comes first
            return second
        if not start_session(request, user.id):  # removed since its password was checked
            return page(request, "login.html.j2", status=401, next=target,
                        error="That username and password do not match. Please try again.")
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        form = await request.form()
        if csrf_ok(request, form):
            end_session(request)
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        found = readable(books, Scope(user.roles), access.now().date())
        return page(request, "home.html.j2", user=user, links=links(found),
                    can_invite=access.can_invite(user))

    @app.get("/statements/pool/{ident:path}")  # a pool's id is free text: it may hold a /
    def pool_page(request: Request, ident: str, month: str | None = None,
                  format: str = "html"):
        return statement_page(request, "pool", ident, month, format)

    @app.get("/statements/{kind}/{ident}")
    def statement_page(request: Request, kind: str, ident: str, month: str | None = None,
                       format: str = "html"):
        """Every statement: a person's, a pool's, a provider's month end, a council's
        overview."""
        if kind not in KINDS:
            return not_found(request, signed_in(request, books))
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        if not plain_id(ident):
            return not_found(request, user)
        reader = Scope(user.roles, who=user.username, user_id=user.id,
                       address=request.client.host if request.client else None)
        if month is None:  # the latest month with something in it the reader may read
            month = reader.opening_month(books, kind, ident, latest_month(
                books, kind, ident, access.now().date()))
        period = month_period(month)
        if period is None:
            return not_found(request, user)
        try:  # (the read is recorded in the access log: ledger.app.access_log)
            found = statement(books, kind, ident, period, reader, fmt=format,
                              version=request.query_params.get("version"),
                              cache=request.app.state.web.statements)
        except (UsageError, LedgerError):  # not this reader's, or not there: one answer
            return not_found(request, user)
        return statement_response(request, user, found, format)

    @app.get("/provider/{provider}/month-end")
    def provider_page(request: Request, provider: str, month: str | None = None,
                      format: str = "html"):
        return statement_page(request, "provider", provider, month, format)

    @app.get("/council/{council}")
    def council_page(request: Request, council: str, month: str | None = None,
                     format: str = "html"):
        return statement_page(request, "council", council, month, format)
