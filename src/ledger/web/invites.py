"""Invitations (docs/web.md#invitations): a council or a provider adds a person by making
a one-time link; the person opens it, chooses a username and a password, and is signed
in. A council may invite its own people, their pools and its own staff; a provider its
own staff and the people whose ISF it holds; an auditor anyone (ledger.app.statements
`Scope`, asked through ledger.app.access).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from ledger.app import access
from ledger.errors import UsageError
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
        return page(request, "invite.html.j2", user=user, link=None, error=None, role="")

    @app.post("/invite")
    async def invite_make(request: Request):
        user = signed_in(request, books)
        if user is None:
            return to_login(request)
        form = await request.form()
        role = str(form.get("role", "")).strip()[:130]
        if not access.can_invite(user):
            return not_found(request, user)
        if not csrf_ok(request, form):
            return page(request, "invite.html.j2", status=400, user=user, link=None,
                        role=role, error="The form was out of date. Please try again.")
        token = access.invite(books, [role], by=user)
        if token is None:
            # The same words whether the role is malformed, someone else's or unknown.
            return page(request, "invite.html.j2", status=400, user=user, link=None,
                        role=role, error="You cannot invite someone with that role. "
                        "Check it is one of your own people or your own organisation.")
        link = str(request.url_for("invite_accept_form", token=token))
        return page(request, "invite.html.j2", user=user, link=link, role=role, error=None)

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
        try:
            uid = access.accept_invitation(books, token, username, password)
        except UsageError as err:
            return page(request, "invite_accept.html.j2", status=400, token=token,
                        username=username, error=_sentence(str(err)))
        start_session(request, uid)
        return RedirectResponse("/", status_code=303)


def _sentence(text: str) -> str:
    text = text.rstrip(".")
    return text[:1].upper() + text[1:] + "."
