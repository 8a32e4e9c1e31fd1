"""The invitation page lists the signed-in user's own invitations not yet used, and
withdraws one (docs/web.md#invitations): a link sent to the wrong person stops working
at once. Only one's own; a stale or forged form changes nothing."""

from __future__ import annotations

import re

from ledger.app import access
from tests.web.conftest import csrf_of
from tests.web.test_security import add_user, count, invite_path, make_invite


def _rows(html: str) -> list[str]:
    return re.findall(r'name="number" value="(\d+)"', html)


def _withdraw(client, number: str, token: str | None = None):
    token = token if token is not None else csrf_of(client.get("/invite").text)
    return client.post("/invite/withdraw", data={"number": number, "csrf_token": token})


def test_a_member_of_staff_withdraws_a_link_they_sent_to_the_wrong_person(site, axe):
    add_user(site, "wbc-sender", ["council:WBC"])
    add_user(site, "wbc-colleague", ["council:WBC"])
    sender, colleague = site.sign_in("wbc-sender"), site.sign_in("wbc-colleague")
    wrong = invite_path(make_invite(sender, "holder:W6"))
    kept = invite_path(make_invite(sender, "holder:H2"))
    theirs = invite_path(make_invite(colleague, "holder:H3"))
    page = sender.get("/invite").text
    mine = _rows(page)
    assert len(mine) == 2 and "holder:W6" in page and "holder:H2" in page
    assert "holder:H3" not in page  # a colleague's links are theirs to withdraw
    assert axe.check_html(page) == []
    assert axe.reflow_ok(page)["ok"]  # a phone 320 CSS px wide: no sideways scrolling

    before = count(site, "invite_withdrawn")
    done = _withdraw(sender, mine[0])
    assert done.status_code == 200
    assert f"Invitation {mine[0]} (holder:W6)" in done.text and "no longer works" in done.text
    assert _rows(done.text) == [mine[1]]
    assert count(site, "invite_withdrawn") == before + 1
    assert site.client().get(wrong).status_code == 404  # the link's page: not found
    assert site.client().get(kept).status_code == 200
    assert axe.check_html(done.text) == []

    # Not one's own, not a number, or already withdrawn: refused, nothing written.
    colleagues = _rows(colleague.get("/invite").text)
    for number in (colleagues[0], "twelve", mine[0]):
        refused = _withdraw(sender, number)
        assert refused.status_code == 400, number
        assert "cannot be withdrawn" in refused.text
    assert site.client().get(theirs).status_code == 200
    # a form without the page's token changes nothing
    assert _withdraw(sender, mine[1], token="forged").status_code == 400
    assert site.client().get(kept).status_code == 200
    assert count(site, "invite_withdrawn") == before + 1


def test_a_holder_has_no_invitation_page_to_withdraw_from(site):
    client = site.sign_in("ann")
    assert client.post("/invite/withdraw", data={"number": "1"}).status_code == 404
    assert access.open_invitations(site.app.state.web.books,
                                   made_by=access.sign_in_named(
                                       site.app.state.web.books, "ann")) == []
