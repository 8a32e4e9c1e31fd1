"""Two-factor sign-in's pages (docs/web.md#two-factor): the second step of signing in
(`/login/two-factor`), setting it up (`/account/two-factor/setup`: the key as a QR code
and as text, a code to confirm, then the recovery codes, shown once), and its own page
(`/account/two-factor`: on or off, recovery codes left, turning it off). The rules are
`ledger.app.two_factor`'s; this door only carries them.

A right password for a sign-in with two-factor on (or whose roles the deployment requires
it of) starts no session: the browser's signed cookie gets a pending step instead, which
grants nothing and ends after 5 minutes (15 to set it up). A signed-in user whose roles
require it and who has not set it up (a session from before the requirement) is sent to
set it up whatever they ask for, and may do nothing else but sign out.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from ledger.app import access, two_factor
from ledger.app.access import User
from ledger.web.limits import off_loop
from ledger.web.pages import csrf_ok, page, signed_in, start_session, to_login

PENDING = "two_factor"  # the cookie's pending step
KEY = "two_factor_key"  # the key being set up, until a code confirms it
CODE_PAGE = "/login/two-factor"
SETUP_PAGE = "/account/two-factor/setup"
# What a signed-in user who must set up two-factor may still open.
_OPEN_WHILE_CONFINED = {SETUP_PAGE, "/logout", "/login", CODE_PAGE}

OUT_OF_DATE = "The form was out of date. Please try again."
TOO_MANY = "Too many attempts to sign in. Please wait 15 minutes and try again."
WRONG_CODE = ("That code is not right. Enter the 6 digits your app shows now (a code "
              "works once).")
WRONG_RECOVERY = "That recovery code is not right, or it has been used."
TIMED_OUT = "It took too long to finish signing in. Please sign in again."


def _address(request: Request) -> str:
    """The address the rate limit counts, as the sign-in form's handler counts it."""
    return request.client.host if request.client else "unknown"


def _require(request: Request) -> frozenset[str]:
    return request.app.state.two_factor_require


def after_password(request: Request, books, user: User, target: str) -> Response | None:
    """Called by `POST /login` once the password is right: None to sign in at once, or
    the redirect to the step still to come (no session is started)."""
    pending = two_factor.after_password(books, user, _require(request))
    if pending is None:
        return None
    request.session.clear()
    request.session[PENDING] = {"uid": pending.uid, "seq": pending.seq,
                                "step": pending.step, "started": pending.started,
                                "next": target}
    return RedirectResponse(CODE_PAGE if pending.step == "code" else SETUP_PAGE,
                            status_code=303)


def _pending(request: Request, step: str) -> tuple[two_factor.Pending, str] | None:
    """The browser's pending step of this kind, and where to go after; None if none."""
    kept = request.session.get(PENDING)
    if not isinstance(kept, dict):
        return None
    try:
        pending = two_factor.Pending(int(kept["uid"]), int(kept["seq"]), str(kept["step"]),
                                     float(kept["started"]))
        target = str(kept["next"])
    except (KeyError, TypeError, ValueError):
        return None
    return (pending, target) if pending.step == step else None


def _timed_out(request: Request) -> Response:
    request.session.clear()
    return page(request, "login.html.j2", status=400, next="/", error=TIMED_OUT)


def _setup_key(request: Request) -> str:
    """The key being set up: made once and kept in the signed cookie, so the QR code the
    person scanned stays the one the code is checked against."""
    key = request.session.get(KEY)
    if not isinstance(key, str) or len(key) != 32:
        key = request.session[KEY] = two_factor.new_key()
    return key


class _Confine:
    """A signed-in user who must set up two-factor and has not: only that page. A plain
    ASGI middleware: every request passes through it, and Starlette's BaseHTTPMiddleware
    costs a task group and a stream per request (about a tenth of a page's time under
    load, in the profile)."""

    def __init__(self, app, books) -> None:
        self.app, self.books = app, books

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            token = request.session.get("token")
            require = _require(request)
            if (require and isinstance(token, str)
                    and request.url.path not in _OPEN_WHILE_CONFINED):
                user = await run_in_threadpool(access.session_user, self.books, token)
                if user is not None and await run_in_threadpool(
                        two_factor.needs_enrolment, self.books, user, require):
                    await RedirectResponse(SETUP_PAGE, status_code=303)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def routes(app: FastAPI, books, require: Iterable[str] = ()) -> None:
    app.state.two_factor_require = two_factor.check_kinds(require)

    # Innermost, so it runs inside the session middleware and sees the cookie's session.
    app.user_middleware.append(Middleware(_Confine, books=books))

    def code_page(request: Request, status: int = 200, error: str | None = None,
                  recovery_error: str | None = None) -> Response:
        return page(request, "two_factor_code.html.j2", status=status, error=error,
                    recovery_error=recovery_error)

    @app.get(CODE_PAGE)
    def code_form(request: Request):
        found = _pending(request, "code")
        if found is None or two_factor.pending_user(books, found[0]) is None:
            return _timed_out(request) if found else RedirectResponse("/login", status_code=303)
        return code_page(request)

    @app.post(CODE_PAGE)
    async def code_check(request: Request):
        form = await request.form()
        found = _pending(request, "code")
        if found is None:
            return RedirectResponse("/login", status_code=303)
        if not csrf_ok(request, form):
            return code_page(request, 400, error=OUT_OF_DATE)
        recovery = "recovery_code" in form
        code = str(form.get("recovery_code" if recovery else "code", ""))[:100]
        pending, target = found
        if pending.expired(two_factor.seconds()):
            return _timed_out(request)
        try:
            user = await off_loop(two_factor.second_step, books, pending, code,
                                  _address(request), recovery)
        except access.TooManyAttempts:
            return code_page(request, 429, **{"recovery_error" if recovery else "error":
                                              TOO_MANY})
        if user is None:
            if two_factor.pending_user(books, pending) is None:
                return _timed_out(request)
            return code_page(request, 401, **{"recovery_error" if recovery else "error":
                                              WRONG_RECOVERY if recovery else WRONG_CODE})
        start_session(request, user.id)
        return RedirectResponse(target, status_code=303)

    def setup_page(request: Request, user: User | None, username: str, status: int = 200,
                   error: str | None = None) -> Response:
        key = _setup_key(request)
        uri = two_factor.key_uri(key, username, request.app.state.web.ledger)
        return page(request, "two_factor_setup.html.j2", status=status, user=user,
                    key=two_factor.spaced(key), qr=two_factor.qr_code(uri), error=error,
                    replacing=user is not None and two_factor.status_of(books, user).on,
                    required=(user is None or two_factor.required(user, _require(request))))

    @app.get(SETUP_PAGE)
    def setup_form(request: Request):
        user = signed_in(request, books)
        if user is not None:
            return setup_page(request, user, user.username)
        found = _pending(request, "enrol")
        if found is None:
            return to_login(request)
        pending_user = two_factor.pending_user(books, found[0])
        if pending_user is None:
            return _timed_out(request)
        return setup_page(request, None, pending_user.username)

    @app.post(SETUP_PAGE)
    async def setup_confirm(request: Request):
        form = await request.form()
        code = str(form.get("code", ""))[:100]
        user = signed_in(request, books)
        found = None if user is not None else _pending(request, "enrol")
        if found is not None:
            who = two_factor.pending_user(books, found[0])
        elif user is not None:
            who = user
        else:
            return to_login(request)
        if who is None:
            return _timed_out(request)
        key = request.session.get(KEY)
        if not csrf_ok(request, form) or not isinstance(key, str):
            return setup_page(request, user, who.username, 400, OUT_OF_DATE)
        codes, target = None, "/"
        try:
            if found is None:
                codes = await off_loop(two_factor.turn_on, books, who, key, code,
                                       _address(request))
            else:
                done = await off_loop(two_factor.enrol, books, found[0], key, code,
                                      _address(request))
                if done is not None:
                    codes, target = done[1], found[1]
        except access.TooManyAttempts:
            return setup_page(request, user, who.username, 429, TOO_MANY)
        if codes is None:
            if found is not None and two_factor.pending_user(books, found[0]) is None:
                return _timed_out(request)
            return setup_page(request, user, who.username, 401, WRONG_CODE)
        # Every session of the sign-in has ended; this browser starts a new one.
        start_session(request, who.id)
        return page(request, "two_factor_codes.html.j2", user=who, codes=codes,
                    next=target)

    def account_page(request: Request, user: User, status: int = 200,
                     error: str | None = None, notice: str | None = None) -> Response:
        return page(request, "two_factor.html.j2", status=status, user=user, error=error,
                    notice=notice, state=two_factor.status_of(books, user),
                    required=two_factor.required(user, _require(request)))

    @app.get("/account/two-factor")
    def account(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        return account_page(request, user)

    @app.post("/account/two-factor/off")
    async def turn_off(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        form = await request.form()
        if not csrf_ok(request, form):
            return account_page(request, user, 400, OUT_OF_DATE)
        if two_factor.required(user, _require(request)):
            return account_page(request, user, 400, "Your role needs two-factor sign-in, "
                                "so it cannot be turned off. You can set up a new phone.")
        try:
            done = await run_in_threadpool(two_factor.turn_off, books, user,
                                           str(form.get("code", ""))[:100], _address(request))
        except access.TooManyAttempts:
            return account_page(request, user, 429, TOO_MANY)
        if not done:
            return account_page(request, user, 401, WRONG_CODE)
        start_session(request, user.id)  # every session ended: this browser starts anew
        return account_page(request, user, notice="Two-factor sign-in is now off. You "
                            "sign in with your password alone.")
