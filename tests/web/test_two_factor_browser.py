"""Two-factor sign-in end to end in Chromium (as tests/web/test_browser.py runs it:
uvicorn in a thread, Debian's Chromium through Playwright, axe-core's WCAG A/AA rules on
every page): a council officer whose role requires it sets it up on first sign-in, reads
the key from the page, confirms a code made by pyotp, keeps the recovery codes, then
signs in with a code and with a recovery code; a holder turns it on and off from its own
page; on a phone the pages never scroll sideways. Locally these skip without Chromium;
under CI=true they fail instead."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest

from tests.web.conftest import MONTH, PASSWORD, build_ledger
from tests.web.test_browser import (  # noqa: F401  (browser: the fixture)
    Audit,
    browser,
    heading,
    new_page,
    scrolls_sideways,
    serving,
    sign_in,
    sign_out,
)

# One worker runs every browser module, in order (README's `--dist loadgroup`): each
# module's server is built once, and pages that follow one another stay together.
pytestmark = pytest.mark.xdist_group("browser")

HOME = "Your statements"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The app, requiring two-factor of councils, providers and auditors, under uvicorn in
    a thread on a free port; its base URL."""
    from ledger.web.app import create_app
    from tests.a11y.axe import require_axe

    require_axe()
    folder = tmp_path_factory.mktemp("web-two-factor")
    url = f"sqlite:///{folder / 'ledger.db'}"
    build_ledger(url, folder)
    app = create_app(url, require_two_factor=("council", "provider", "auditor"))
    with serving(app, "uvicorn-2fa") as base:
        yield base


def key_on(page) -> str:
    return page.locator("#key").inner_text().replace(" ", "")


def enter_code(page, value: str, button: str = "Sign in") -> None:
    page.get_by_label("Code from your app").fill(value)
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_required_role_sets_it_up_then_signs_in_with_a_code_or_a_recovery_code(
        server, browser):  # noqa: F811  (the fixture)
    audit = Audit()
    context, page = new_page(browser)
    try:
        wanted = f"/council/WBC?month={MONTH}"
        page.goto(server + wanted)
        page.get_by_label("Username").fill("wbc")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert heading(page) == "Set up two-factor sign-in"
        assert "Your role needs two-factor sign-in" in page.inner_text("main")
        qr = page.get_by_role("img", name="QR code of your two-factor key")
        assert qr.is_visible() and qr.evaluate("img => img.naturalWidth") > 100
        audit(page, "set up, on first sign-in")
        key = key_on(page)
        totp = pyotp.TOTP(key)
        enter_code(page, wrong(totp.now()), "Turn on two-factor sign-in")
        alert = page.get_by_role("alert")
        assert "not right" in alert.inner_text()
        assert page.get_by_label("Code from your app").get_attribute("aria-invalid") == "true"
        audit(page, "set up, with an error")
        enter_code(page, totp.now(), "Turn on two-factor sign-in")
        assert heading(page) == "Your recovery codes"
        codes = page.locator("ol.codes code").all_inner_texts()
        assert len(codes) == 10
        audit(page, "recovery codes")
        page.get_by_role("link", name="Continue").click()
        page.wait_for_load_state()
        assert page.url == server + wanted
        page.goto(f"{server}/account/two-factor")
        assert "cannot be turned off" in page.inner_text("main")
        audit(page, "two-factor page, on and required")
        sign_out(page)

        # Password, then a code (the next one: the one that set it up is spent).
        sign_in(page, server, "wbc")
        assert heading(page) == "Enter your code"
        audit(page, "code step")
        enter_code(page, wrong(totp.at(time.time() + 30)))
        assert "not right" in page.get_by_role("alert").inner_text()
        audit(page, "code step, with an error")
        enter_code(page, totp.at(time.time() + 30))
        assert heading(page) == HOME
        sign_out(page)

        # Password, then a recovery code.
        sign_in(page, server, "wbc")
        page.get_by_label("Recovery code").fill(codes[0])
        page.get_by_role("button", name="Sign in with a recovery code").click()
        page.wait_for_load_state()
        assert heading(page) == HOME
    finally:
        context.close()
    audit.check()


def test_a_holder_turns_it_on_and_off_on_a_phone(server, browser):  # noqa: F811
    audit = Audit()
    context, page = new_page(browser, viewport={"width": 375, "height": 667},
                             device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        sign_in(page, server, "ann")  # not required of a holder: straight in
        assert heading(page) == HOME
        page.get_by_role("link", name="Two-factor sign-in").click()  # from the home page
        page.wait_for_load_state()
        assert "Two-factor sign-in is off" in page.inner_text("main")
        audit(page, "two-factor page, off")
        page.get_by_role("link", name="Set up two-factor sign-in").click()
        page.wait_for_load_state()
        assert not scrolls_sideways(page)
        audit(page, "set up, from the two-factor page")
        totp = pyotp.TOTP(key_on(page))
        enter_code(page, totp.now(), "Turn on two-factor sign-in")
        assert heading(page) == "Your recovery codes"
        assert not scrolls_sideways(page)
        page.goto(f"{server}/account/two-factor")
        assert "10 recovery codes left" in page.inner_text("main")
        audit(page, "two-factor page, on")
        enter_code(page, totp.at(time.time() + 30), "Turn off two-factor sign-in")
        assert "now off" in page.get_by_role("status").inner_text()
        audit(page, "two-factor page, just turned off")
        sign_out(page)
        sign_in(page, server, "ann")
        assert heading(page) == HOME
    finally:
        context.close()
    audit.check()
