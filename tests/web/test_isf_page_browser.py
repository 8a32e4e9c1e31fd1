"""A provider's ISF statement on the web (docs/web.md#roles, docs/statements.md#isf), end
to end in Chromium: the provider signs in, follows the home page's link to the ISF it
holds, reads every version, on a desktop and a phone, axe-clean (WCAG 2.x A/AA) and
never scrolling sideways, and is refused the person's own statement with the one "not
found" page. Uses tests/web/test_browser.py's server and browser."""

from __future__ import annotations

import pytest

from tests.web.conftest import MONTH
from tests.web.test_browser import (  # noqa: F401  (the fixtures)
    NOT_FOUND,
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


def test_a_provider_reads_its_isf_statement_in_a_browser(server, browser):  # noqa: F811
    audit = Audit()
    for size in ({"width": 1280, "height": 900}, {"width": 320, "height": 640}):
        context, page = new_page(browser, viewport=size)
        try:
            sign_in(page, server, "sh")
            page.get_by_role("link", name="ISF: Bob Example (Support Horizons CIC)").click()
            page.wait_for_load_state()
            assert heading(page) == "Individual Service Fund for Bob Example"
            assert "/statements/isf/H2" in page.url
            for version in ("standard", "large_print", "easy_read"):
                response = page.goto(f"{server}/statements/isf/H2:SH?month={MONTH}"
                                     f"&version={version}")
                assert response.status == 200
                text = page.inner_text("main")
                assert "Support Horizons CIC" in text
                assert "direct payment" not in text.lower()
                audit(page, f"isf {version} {size['width']}px")
                assert not scrolls_sideways(page), (version, size)
            response = page.goto(f"{server}/statements/holder/H2?month={MONTH}")
            assert response.status == 404 and heading(page) == NOT_FOUND
        finally:
            context.close()
    audit.check()
    assert len(audit.pages) == 6
