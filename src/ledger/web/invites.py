"""Invitations (docs/web.md#invitations): a council or a provider adds a person by making
a one-time link; the person opens it, chooses a username and a password, and is signed
in. A council may invite its own people, their pools and its own staff; a provider its
own staff and the people whose ISF it holds; an auditor anyone (ledger.app.statements
`Scope`, asked through ledger.app.access). One invitation may carry several roles (a
person and their pools), given all at once on acceptance.

Accepting is rate-limited per network with the sign-in's failed attempts, hashes the
password in the hashing pool (never on the event loop), and refuses a taken username
with the same page, status and work as a username or password not allowed, so it tells
no one which usernames exist.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from ledger.app import access
from ledger.errors import UsageError
from ledger.web.limits import off_loop
from ledger.web.pages import (
    csrf_ok,
    not_found,
    page,
    signed_in,
    start_session,
    to_login,
)


def routes(app: FastAPI, books) -> None:
    @app.get("/invite")
    def invite_form(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        if not access.can_invite(user):
            return not_found(request, user)
        return _invite_page(request, user)

    @app.post("/invite")
    async def invite_make(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        form = await request.form()
        roles = _roles(form.getlist("role"))
        role = " ".join(roles)[:MAX_ROLES_TEXT]
        if not access.can_invite(user):
            return not_found(request, user)
        if not csrf_ok(request, form):
            return _invite_page(request, user, status=400, role=role,
                                error="The form was out of date. Please try again.")
        token = access.invite(books, roles, by=user) if 0 < len(roles) <= MAX_ROLES else None
        if token is None:
            # The same words whether a role is malformed, someone else's or unknown.
            return _invite_page(request, user, status=400, role=role,
                                error="You cannot invite someone with that role. Check "
                                "each is one of your own people, their pools or your own "
                                "organisation.")
        link = str(request.url_for("invite_accept_form", token=token))
        return _invite_page(request, user, link=link, role=role, roles=roles)

    @app.post("/invite/withdraw")
    async def invite_withdraw(request: Request):
        """Withdraw one of the signed-in user's own invitations, by its number."""
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        form = await request.form()
        if not access.can_invite(user):
            return not_found(request, user)
        if not csrf_ok(request, form):
            return _invite_page(request, user, status=400,
                                error="The form was out of date. Please try again.")
        number = str(form.get("number", ""))
        try:
            gone = access.withdraw_invitation(books, int(number), by=user)
        except (ValueError, UsageError):
            return _invite_page(request, user, status=400,
                                error="That invitation cannot be withdrawn: it may have "
                                "been used, withdrawn already or run out.")
        return _invite_page(request, user, withdrawn=gone)

    def _invite_page(request: Request, user, status: int = 200, link=None, role: str = "",
                     roles: list[str] | None = None, error: str | None = None,
                     withdrawn=None):
        """The invitation page: the form, a new link or an error, and the user's own
        invitations not yet used, each with a button to withdraw it."""
        return page(request, "invite.html.j2", status=status, user=user, link=link,
                    role=role, roles=roles or [], error=error, withdrawn=withdrawn,
                    mine=access.open_invitations(books, made_by=user))

    @app.get("/invite/{token}", name="invite_accept_form")
    def invite_accept_form(request: Request, token: str):
        if access.invitation(books, token) is None:
            return not_found(request, signed_in(request, books))
        return page(request, "invite_accept.html.j2", token=token, error=None, username="")

    @app.post("/invite/{token}")
    async def invite_accept(request: Request, token: str):
        form = await request.form()
        username = str(form.get("username", "")).strip()[:100]
        password = str(form.get("password", ""))
        again = str(form.get("password_again", ""))
        if not csrf_ok(request, form):
            return page(request, "invite_accept.html.j2", status=400, token=token,
                        username=username, error="The form was out of date. Please try again.")
        if password != again:
            return page(request, "invite_accept.html.j2", status=400, token=token,
                        username=username, error="The two passwords are not the same.")
        address = request.client.host if request.client else "unknown"  # web/addresses.py
        try:  # Argon2 in the hashing pool, never on the event loop (web/limits.py)
            uid = await off_loop(access.accept_invitation, books, token, username, password,
                                 address)
        except access.TooManyAttempts:
            return page(request, "invite_accept.html.j2", status=429, token=token,
                        username=username, error="Too many attempts. Please wait 15 "
                        "minutes and try again.")
        except UsageError as err:
            return page(request, "invite_accept.html.j2", status=400, token=token,
                        username=username, error=_sentence(str(err)))
        start_session(request, uid)
        return RedirectResponse("/", status_code=303)


MAX_ROLES = 20  # roles in one invitation: a person and their pools, or a few colleagues
MAX_ROLES_TEXT = 2000  # characters of the role field kept to show back


def _roles(values: list) -> list[str]:
    """The roles asked for: the field's words (spaces or commas between them), each once,
    in the order given."""
    words = " ".join(str(v) for v in values)[:MAX_ROLES_TEXT].replace(",", " ").split()
    return list(dict.fromkeys(words))


def _sentence(text: str) -> str:
    text = text.rstrip(".")
    return text[:1].upper() + text[1:] + "."
