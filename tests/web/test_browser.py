"""`ledger serve` end to end in a real browser: uvicorn on 127.0.0.1 over a SQLite file,
Debian's headless Chromium driven by Playwright (tests/a11y/axe.py launches it), every
role signing in through the real form, reading its own pages and being refused the rest,
a pool member on a phone, the whole sign-in flow with JavaScript off, and axe-core's WCAG
A/AA rules on every kind of page.

Playwright's sync API runs once per process, so these tests share the session's Chromium
(the `axe` fixture in tests/conftest.py): locally they skip when Chromium, Playwright or
axe-core is missing, and under CI=true they fail instead (tests/a11y/axe.py).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

# _RUN_AXE: the very script tests/a11y/axe.py runs (axe.run for the WCAG tags).
from tests.a11y.axe import (
    _RUN_AXE,
    WCAG_TAGS,
    axe_source,
    format_violations,
    require_axe,
    simplify,
)
from tests.web.conftest import MONTH, PASSWORD, USERS, build_ledger
from tests.web.test_scope import ALLOWED, REFUSED

# One worker runs every browser module, in order (README's `--dist loadgroup`): each
# module's server is built once, and pages that follow one another stay together.
pytestmark = pytest.mark.xdist_group("browser")

TIMEOUT_MS = 20_000
HOME = "Your statements"
NOT_FOUND = "Page not found"


@contextlib.contextmanager
def serving(app, name: str = "uvicorn") -> Iterator[str]:
    """`app` under uvicorn in a thread, on a free port, until the block ends; its base
    URL once it answers /login."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.web.books.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free port; its base URL."""
    from ledger.web.app import create_app

    require_axe()  # nothing to start if the browser cannot run (under CI=true: fail)
    folder = tmp_path_factory.mktemp("web-browser")
    url = f"sqlite:///{folder / 'ledger.db'}"
    build_ledger(url, folder)
    with serving(create_app(url)) as base:
        yield base


@pytest.fixture(scope="module")
def browser(axe):
    """The session's Chromium, launched as tests/a11y/axe.py launches it."""
    axe.start()
    return axe._browser


def new_page(browser, **options):
    """A fresh context (cookies of its own) and page. CSP is bypassed so axe-core can be
    injected into pages whose policy forbids every script."""
    context = browser.new_context(locale="en-GB", bypass_csp=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def run_axe(page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source())
    return [simplify(v) for v in page.evaluate(_RUN_AXE, WCAG_TAGS)]


class Audit:
    """axe-core on each page visited; every violation reported at the end, with its page."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.pages: list[str] = []

    def __call__(self, page, name: str) -> None:
        self.pages.append(name)
        violations = run_axe(page)
        if violations:
            self.found.append(f"{name} ({page.url}):\n{format_violations(violations)}")

    def check(self) -> None:
        assert not self.found, "\n\n".join(self.found)


def heading(page) -> str:
    return page.get_by_role("heading", level=1).first.inner_text()


def sign_in(page, base: str, username: str, password: str = PASSWORD):
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def scrolls_sideways(page) -> dict:
    widths = page.evaluate("() => ({scrollWidth: document.documentElement.scrollWidth,"
                           " innerWidth: window.innerWidth})")
    return widths if widths["scrollWidth"] > widths["innerWidth"] else {}


# ---------------------------------------------------------------- each role


@pytest.mark.parametrize("user", sorted(USERS))
def test_each_role_signs_in_reads_its_own_and_is_refused_the_rest(server, browser, user):
    audit = Audit()
    context, page = new_page(browser)
    try:
        sign_in(page, server, user)
        assert page.url == f"{server}/"
        assert heading(page) == HOME
        assert f"Signed in as {user}." in page.inner_text("nav")
        audit(page, f"home for {user}")

        for who, path, expected in ALLOWED:
            if who != user:
                continue
            response = page.goto(f"{server}{path}?month={MONTH}")
            assert response.status == 200, path
            text = page.inner_text("main")
            assert expected[0] in text, (path, expected[0])
            assert expected[-1] in text, (path, expected[-1])
            assert heading(page) != NOT_FOUND

        # Each other thing (every way of asking: test_scope.py), and a missing one.
        for path in [*REFUSED.get(user, []), "/statements/holder/NOBODY"]:
            response = page.goto(f"{server}{path}?month={MONTH}")
            assert response.status == 404, path
            assert heading(page) == NOT_FOUND, path
            assert "£" not in page.inner_text("body")

        # Home links lead to pages that open.
        page.goto(f"{server}/")
        first = page.locator("ul.links a").first
        first.click()
        page.wait_for_load_state()
        assert heading(page) not in (NOT_FOUND, HOME)

        sign_out(page)
        assert heading(page) == "Sign in"
        page.goto(f"{server}/")
        assert heading(page) == "Sign in"
    finally:
        context.close()
    audit.check()


# ---------------------------------------------------------------- axe on every page


def test_every_kind_of_page_passes_axe(server, browser):
    audit = Audit()
    context, page = new_page(browser)
    try:
        page.goto(f"{server}/login")
        audit(page, "sign in")
        sign_in(page, server, "audit", password="not the password")
        assert "do not match" in page.inner_text("main")
        audit(page, "sign in, with an error")

        sign_in(page, server, "audit")
        assert heading(page) == HOME
        # A holder (an ISF overspent, hours borrowed), a pool (the shared copy; a member's
        # own copy: test_a_pool_member_on_a_phone), a provider's month end, a council.
        for path in ["/statements/holder/H2", "/statements/pool/MIXED",
                     "/provider/SH/month-end", "/council/WBC"]:
            for version in ("standard", "large_print", "easy_read"):
                response = page.goto(f"{server}{path}?month={MONTH}&version={version}")
                assert response.status == 200
                audit(page, f"{path} {version}")
        page.goto(f"{server}/statements/holder/NOBODY?month={MONTH}")
        assert heading(page) == NOT_FOUND
        audit(page, "not found")
        page.goto(f"{server}/invite")
        audit(page, "invite form")
        page.get_by_label("What they may read").fill("not a role")
        page.get_by_role("button", name="Make an invitation link").click()
        page.wait_for_load_state()
        assert "You cannot invite" in page.inner_text("main")
        audit(page, "invite form, with an error")
        page.get_by_label("What they may read").fill("holder:H1")
        page.get_by_role("button", name="Make an invitation link").click()
        page.wait_for_load_state()
        audit(page, "invite link result")
        link = page.locator(".link-box a").get_attribute("href")
        assert link and "/invite/" in link
    finally:
        context.close()

    # The person invited opens the link in a browser of their own.
    context, page = new_page(browser)
    try:
        page.goto(link)
        assert heading(page) == "Make your sign-in"
        audit(page, "invite accept form")
        page.get_by_label("Username").fill("ann-again")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("The same password again").fill(PASSWORD + " typo")
        page.get_by_role("button", name="Make my sign-in").click()
        page.wait_for_load_state()
        assert "not the same" in page.inner_text("main")
        audit(page, "invite accept form, with an error")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("The same password again").fill(PASSWORD)
        page.get_by_role("button", name="Make my sign-in").click()
        page.wait_for_load_state()
        assert heading(page) == HOME
        assert "Statement: Ann Example" in page.inner_text("main")
    finally:
        context.close()
    audit.check()
    assert len(audit.pages) == 20


# ---------------------------------------------------------------- a phone


def test_a_pool_member_on_a_phone(server, browser):
    audit = Audit()
    context, page = new_page(browser, viewport={"width": 375, "height": 667},
                             device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page.goto(f"{server}/login")
        assert not scrolls_sideways(page)
        sign_in(page, server, "wes")
        assert heading(page) == HOME
        assert not scrolls_sideways(page)
        page.get_by_role("link", name=re.compile("^Pool: ")).click()
        page.wait_for_load_state()
        assert page.url == f"{server}/statements/pool/MIXED"
        page.goto(f"{server}/statements/pool/MIXED?month={MONTH}")
        text = page.inner_text("main")
        assert "You appear in this statement as Wes Woodley" in text
        assert "£123.00" in text and "Kingfisher" in text
        assert "Rafe Richmond" not in text and "Rita Hamm" not in text
        for version in ("standard", "large_print", "easy_read"):
            page.goto(f"{server}/statements/pool/MIXED?month={MONTH}&version={version}")
            wide = scrolls_sideways(page)
            assert not wide, f"{version}: the page scrolls sideways on a phone: {wide}"
            audit(page, f"pool on a phone, {version}")
        page.goto(f"{server}/statements/pool/RICONLY?month={MONTH}")
        assert heading(page) == NOT_FOUND
        assert not scrolls_sideways(page)
    finally:
        context.close()
    audit.check()


# ---------------------------------------------------------------- no JavaScript


def test_everything_works_without_javascript(server, browser):
    context, page = new_page(browser, java_script_enabled=False)
    try:
        page.set_content("<title>before</title><script>document.title = 'ran'</script>")
        assert page.title() == "before"  # scripts really are off in this context

        # Asked for a statement, sent to sign in, and back to the statement after.
        wanted = f"/statements/holder/H1?month={MONTH}"
        page.goto(server + wanted)
        assert heading(page) == "Sign in"
        page.get_by_label("Username").fill("ann")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert page.url == server + wanted
        assert heading(page) == "Statement for Ann Example"
        assert "£97.49" in page.inner_text("main")

        # Another version through its link, another month through the form.
        page.get_by_role("link", name="Large print").click()
        page.wait_for_load_state()
        assert "version=large_print" in page.url
        assert page.locator("body").get_attribute("class") == "large-print"
        page.get_by_label("Month", exact=True).fill("2026-04")
        page.get_by_role("button", name="Show this month").click()
        page.wait_for_load_state()
        assert "month=2026-04" in page.url and "version=large_print" in page.url
        assert "April 2026" in page.inner_text("main")

        # A download link is a plain link.
        href = page.get_by_role("link", name=re.compile("as a PDF")).get_attribute("href")
        assert href and "format=pdf" in href

        # Someone else's statement: not found.
        page.goto(f"{server}/statements/holder/H2?month={MONTH}")
        assert heading(page) == NOT_FOUND

        # Signing out is a form too.
        page.goto(f"{server}/")
        sign_out(page)
        assert heading(page) == "Sign in"
        page.goto(server + wanted)
        assert heading(page) == "Sign in"
        assert "/login?next=" in page.url
    finally:
        context.close()
