"""The accessibility checker itself: it finds the violations it should, passes a clean
page, and tells a page that reflows at 320 CSS px from one that scrolls sideways."""

from __future__ import annotations

import json
import sys

import pytest

from tests.a11y.axe import (
    AXE_JS,
    IN_CI,
    WCAG_TAGS,
    AxeUnavailable,
    axe_source,
    format_violations,
    missing,
)

BAD = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>Bad page</title></head>
<body>
  <main>
    <h1>Statement</h1>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
    <p style="color:#aaa;background:#fff">Balance carried forward</p>
    <form><input type="text" name="amount"></form>
  </main>
</body>
</html>"""

GOOD = """<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Statement for Ann Example</title></head>
<body>
  <main>
    <h1>Statement for Ann Example</h1>
    <p>Your direct payment account, April 2026.</p>
    <table>
      <caption>Money in and out</caption>
      <thead><tr><th scope="col">Date</th><th scope="col">What</th>
        <th scope="col">Amount</th></tr></thead>
      <tbody>
        <tr><th scope="row">1 April 2026</th><td>Payment from the council</td>
          <td>£500.00</td></tr>
        <tr><th scope="row">9 April 2026</th><td>Paid to PA-JO</td><td>£120.50</td></tr>
      </tbody>
    </table>
  </main>
</body>
</html>"""

WIDE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Wide</title></head>
<body><main><h1>Wide</h1><div style="width:1200px">A fixed-width box of text.</div></main>
</body></html>"""

FLUID = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Fluid</title>
<style>body{margin:1rem;font-family:sans-serif} main{max-width:40rem}</style></head>
<body><main><h1>Fluid</h1><p>A paragraph of text that wraps to whatever width the reader's
window has, so at 320 CSS pixels it is simply taller and never wider.</p></main>
</body></html>"""


def rule_ids(violations) -> set[str]:
    return {v["id"] for v in violations}


def test_the_checker_can_run_here_or_says_why():
    reason = missing()
    if reason and not IN_CI:
        pytest.skip(reason)
    assert reason is None, reason
    # The installed axe-core is the one package.json pins (a stale node_modules is caught).
    pinned = json.loads((AXE_JS.parents[2] / "package.json").read_text())
    assert axe_source().startswith(f"/*! axe v{pinned['dependencies']['axe-core']}")


def test_known_bad_page_fails_with_the_expected_rules(axe):
    violations = axe.check_html(BAD)
    found = rule_ids(violations)
    assert {"html-has-lang", "image-alt", "label", "color-contrast"} <= found, \
        format_violations(violations)
    contrast = next(v for v in violations if v["id"] == "color-contrast")
    assert any("Balance carried forward" in n["html"] for n in contrast["nodes"])
    message = format_violations(violations)
    assert "image-alt" in message and "<img" in message


def test_known_good_page_has_no_violations(axe):
    violations = axe.check_html(GOOD)
    assert violations == [], format_violations(violations)


def test_good_page_stays_clean_at_400_percent_zoom(axe):
    violations = axe.check_html(GOOD, zoom=4)
    assert violations == [], format_violations(violations)


def test_only_wcag_a_and_aa_rules_are_run(axe):
    # A page with no landmark breaks axe's best-practice "region" rule, which is not WCAG:
    # it must not be reported.
    page = ('<!doctype html><html lang="en"><head><title>T</title></head>'
            "<body><h1>T</h1><p>Text outside any landmark.</p></body></html>")
    violations = axe.check_html(page)
    assert violations == [], format_violations(violations)
    assert {"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"} == set(WCAG_TAGS)


def test_a_page_needing_sideways_scrolling_fails_reflow(axe):
    result = axe.reflow_ok(WIDE)
    assert result["ok"] is False, result
    assert result["innerWidth"] == 320
    assert result["scrollWidth"] >= 1200


def test_a_fluid_page_reflows(axe):
    result = axe.reflow_ok(FLUID)
    assert result == {"ok": True, "scrollWidth": 320, "innerWidth": 320}


def test_html_checks_load_nothing_from_the_network(axe):
    # An outside image is refused at once (never fetched), so the check stays hermetic and
    # quick; axe then still reports the missing alt text.
    page = GOOD.replace("</h1>", '</h1><img src="https://example.com/logo.png">')
    assert rule_ids(axe.check_html(page)) == {"image-alt"}


def test_checks_in_a_row_do_not_leak_into_each_other(axe):
    first = rule_ids(axe.check_html(BAD))
    assert axe.check_html(GOOD) == []
    assert rule_ids(axe.check_html(BAD)) == first
    # A page with a script gets a browser context of its own, so its globals die with it.
    scripted = GOOD.replace("</main>", "</main><script>window.leftOver = 1;</script>")
    assert axe.check_html(scripted) == []
    _context, shared_tab = axe._pages[(1280, None)]
    assert shared_tab.evaluate("typeof window.leftOver") == "undefined"
    assert axe.check_html(GOOD.replace(
        "</h1>", '</h1><p id="x">x</p>')) == []


def test_check_url_reads_a_served_page(axe, tmp_path):
    import http.server
    import threading
    from functools import partial

    (tmp_path / "index.html").write_text(BAD, encoding="utf-8")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        assert {"html-has-lang", "image-alt"} <= rule_ids(axe.check_url(url))
    finally:
        server.shutdown()
        server.server_close()


def test_screenshot_is_a_png(axe, tmp_path):
    path = axe.screenshot_html(GOOD, tmp_path / "good.png", width=640)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_axe_core_names_the_npm_command(monkeypatch, tmp_path):
    import tests.a11y.axe as module

    monkeypatch.setattr(module, "AXE_JS", tmp_path / "axe.min.js")
    monkeypatch.setattr(module, "CHROMIUM", sys.executable)  # any program: Chromium is found
    with pytest.raises(AxeUnavailable, match="npm ci --prefix tests/a11y"):
        module.axe_source()
    assert "npm ci --prefix tests/a11y" in (module.missing() or "")


def test_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch):
    import tests.a11y.axe as module

    monkeypatch.setattr(module, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(module, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        module.require_axe()
    monkeypatch.setattr(module, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        module.require_axe()
