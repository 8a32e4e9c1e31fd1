"""Invitations (docs/web.md#invitations): a council or a provider adds a person by making
a one-time link; the person opens it, chooses a username and a password, and is signed
in. A council may invite its own people, their pools and its own staff; a provider its
own staff and the people whose ISF it holds; an auditor anyone (ledger.web.scope).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from ledger.errors import UsageError


def invite_routes(app: FastAPI, web) -> None:
    from ledger.store.repo import DbStore
    from ledger.web import scope, users
    from ledger.web.app import _csrf_ok, _not_found, _now, _page, _signed_in, _to_login

    @app.get("/invite")
    def invite_form(request: Request):
        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        if not scope.can_invite(user):
            return _not_found(request, user)
        return _page(request, "invite.html.j2", user=user, link=None, error=None, role="")

    @app.post("/invite")
    async def invite_make(request: Request):
        user = _signed_in(request, web)
        if user is None:
            return _to_login(request)
        form = await request.form()
        role = str(form.get("role", "")).strip()[:130]
        if not scope.can_invite(user):
            return _not_found(request, user)
        if not _csrf_ok(request, form):
            return _page(request, "invite.html.j2", status=400, user=user, link=None,
                         role=role, error="The form was out of date. Please try again.")
        with web.engine.begin() as conn:
            store = DbStore(conn, web.ledger)
            try:
                users.check_role(role)
            except UsageError:
                allowed = False
            else:
                allowed = scope.Reader(store, user, _now().date()).may_invite(role)
            if not allowed:
                # The same words whether the role is malformed, someone else's or unknown.
                return _page(request, "invite.html.j2", status=400, user=user, link=None,
                             role=role, error="You cannot invite someone with that role. "
                             "Check it is one of your own people or your own organisation.")
            token = users.create_invite(conn, web.lid, [role], user.id, _now())
        link = str(request.url_for("invite_accept_form", token=token))
        return _page(request, "invite.html.j2", user=user, link=link, role=role, error=None)

    @app.get("/invite/{token}", name="invite_accept_form")
    def invite_accept_form(request: Request, token: str):
        with web.engine.connect() as conn:
            roles = users.open_invite(conn, web.lid, token, _now())
        if roles is None:
            return _not_found(request, _signed_in(request, web))
        return _page(request, "invite_accept.html.j2", token=token, error=None, username="")

    @app.post("/invite/{token}")
    async def invite_accept(request: Request, token: str):
        form = await request.form()
        username = str(form.get("username", "")).strip()[:100]
        password = str(form.get("password", ""))
        again = str(form.get("password_again", ""))
        if not _csrf_ok(request, form):
            return _page(request, "invite_accept.html.j2", status=400, token=token,
                         username=username, error="The form was out of date. Please try again.")
        if password != again:
            return _page(request, "invite_accept.html.j2", status=400, token=token,
                         username=username, error="The two passwords are not the same.")
        try:
            with web.engine.begin() as conn:
                uid = users.use_invite(conn, web.lid, token, username, password, _now())
        except UsageError as err:
            return _page(request, "invite_accept.html.j2", status=400, token=token,
                         username=username, error=_sentence(str(err)))
        request.session.clear()
        request.session.update(uid=uid, since=int(_now().timestamp()))
        return RedirectResponse("/", status_code=303)


def _sentence(text: str) -> str:
    text = text.rstrip(".")
    return text[:1].upper() + text[1:] + "."
