"""An invitation with several roles end to end in Chromium (docs/web.md#invitations): a
council invites a person and their pool in one link, the person meets the one refusal a
taken username gets, then makes their sign-in and reads both; every page axe-clean (WCAG
2.x A/AA) on a desktop and on a phone, never scrolling sideways. Uses
tests/web/test_browser.py's server and browser."""

from __future__ import annotations

import pytest

from tests.web.conftest import MONTH, PASSWORD
from tests.web.test_browser import (  # noqa: F401  (the fixtures)
    HOME,
    Audit,
    browser,
    heading,
    new_page,
    scrolls_sideways,
    server,
    sign_in,
)

# One worker runs every browser module, in order (README's `--dist loadgroup`): each
# module's server is built once, and pages that follow one another stay together.
pytestmark = pytest.mark.xdist_group("browser")


def test_a_person_and_their_pool_invited_in_one_link(server, browser):  # noqa: F811
    audit = Audit()
    for n, size in enumerate(({"width": 1280, "height": 900}, {"width": 320, "height": 640})):
        context, page = new_page(browser, viewport=size)
        try:
            sign_in(page, server, "wbc")
            page.goto(f"{server}/invite")
            page.get_by_label("What they may read").fill("holder:W6 pool:MIXED")
            page.get_by_role("button", name="Make an invitation link").click()
            page.wait_for_load_state()
            items = page.locator("main ul.roles li").all_inner_texts()
            assert items == ["holder:W6", "pool:MIXED"], items
            # and the link is listed among the user's own, to withdraw if sent wrongly
            assert "for holder:W6 pool:MIXED" in page.locator("ul.invitations").inner_text()
            audit(page, f"invite link, two roles, {size['width']}px")
            assert not scrolls_sideways(page), size
            link = page.locator(".link-box a").get_attribute("href")
        finally:
            context.close()

        context, page = new_page(browser, viewport=size)
        try:
            page.goto(link)
            page.get_by_label("Username").fill("wes")  # someone has it
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("The same password again").fill(PASSWORD)
            page.get_by_role("button", name="Make my sign-in").click()
            page.wait_for_load_state()
            text = page.inner_text("main")
            assert "That username and password cannot be used" in text
            assert "taken" not in text
            audit(page, f"invite accept, refused, {size['width']}px")
            assert not scrolls_sideways(page), size
            page.get_by_label("Username").fill(f"wes-browser-{n}")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("The same password again").fill(PASSWORD)
            page.get_by_role("button", name="Make my sign-in").click()
            page.wait_for_load_state()
            assert heading(page) == HOME
            for path in ["/statements/holder/W6", "/statements/pool/MIXED"]:
                assert page.goto(f"{server}{path}?month={MONTH}").status == 200, path
        finally:
            context.close()
    audit.check()
    assert len(audit.pages) == 4
