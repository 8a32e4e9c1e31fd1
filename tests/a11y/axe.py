"""Accessibility checks for every HTML page the project makes (docs/accessibility-checks.md).

Playwright drives Debian's Chromium (never a downloaded browser), axe-core from npm is
injected into the page and run for WCAG 2.x levels A and AA, and the violations come back
as plain dicts. A reflow check loads the page 320 CSS px wide (WCAG 1.4.10) and says
whether it scrolls sideways.

Use it through a session-scoped pytest fixture built on `axe_session()`:

    def test_statement_is_accessible(axe):
        violations = axe.check_html(render_html(...))
        assert not violations, format_violations(violations)

Under CI=true a missing Chromium or axe-core is a failure, never a skip (as for PostgreSQL
in tests/dbutil.py); locally such tests skip with the reason and the command that fixes it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
NPM_COMMAND = "npm ci --prefix tests/a11y"
CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"

# WCAG 2.0, 2.1 and 2.2 at levels A and AA (2.2 added no level-A rule that axe checks).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# The closed network refuses Chromium's own connections; these flags stop it making them.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

REFLOW_WIDTH = 320  # CSS px: 1280 px at 400% zoom (WCAG 1.4.10 Reflow)
HEIGHT = 900

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  return result.violations;
}"""

_WIDTHS = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
})"""


class AxeUnavailable(RuntimeError):
    """Chromium, Playwright or axe-core is not installed."""


def axe_source() -> str:
    """axe-core's script, as installed by npm into tests/a11y/node_modules."""
    try:
        return AXE_JS.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AxeUnavailable(
            f"axe-core is not installed ({AXE_JS} is missing): run `{NPM_COMMAND}`"
        ) from None


def missing() -> str | None:
    """Why the checks cannot run here, or None when everything they need is installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: run `.venv/bin/pip install -e '.[dev]'`"
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM}: run `apt-get install chromium`"
    if not AXE_JS.is_file():
        return f"axe-core is not installed ({AXE_JS} is missing): run `{NPM_COMMAND}`"
    return None


def require_axe() -> None:
    """Skip the calling test when the checks cannot run; fail instead under CI=true."""
    reason = missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the accessibility checks cannot run: {reason}")
        pytest.skip(reason)


def simplify(violation: dict[str, Any]) -> dict[str, Any]:
    """The parts of an axe-core violation worth reading in a test failure."""
    return {
        "id": violation["id"],
        "impact": violation.get("impact"),
        "help": violation.get("help", ""),
        "helpUrl": violation.get("helpUrl", ""),
        "tags": [t for t in violation.get("tags", []) if t.startswith("wcag")],
        "nodes": [
            {
                "target": node.get("target", []),
                "html": node.get("html", ""),
                "summary": node.get("failureSummary", ""),
            }
            for node in violation.get("nodes", [])
        ],
    }


def format_violations(violations: list[dict[str, Any]], *, max_nodes: int = 5) -> str:
    """A readable assertion message: each rule, why it matters, and where it failed."""
    if not violations:
        return "no accessibility violations"
    lines = [f"{len(violations)} accessibility rule(s) violated:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact') or 'unknown impact'}): {v.get('help', '')}")
        if v.get("helpUrl"):
            lines.append(f"    see {v['helpUrl']}")
        nodes = v.get("nodes", [])
        for node in nodes[:max_nodes]:
            target = ", ".join(str(t) for t in node.get("target", []))
            html = " ".join(str(node.get("html", "")).split())
            if len(html) > 160:
                html = html[:157] + "..."
            lines.append(f"    at {target}: {html}")
            summary = node.get("summary") or ""
            for extra in summary.splitlines()[1:3]:  # the first line only repeats the rule
                if extra.strip():
                    lines.append(f"      {extra.strip()}")
        if len(nodes) > max_nodes:
            lines.append(f"    ... and {len(nodes) - max_nodes} more")
    return "\n".join(lines)


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and (
        parts.hostname in ("localhost", "::1") or (parts.hostname or "").startswith("127.")
    )


class Axe:
    """One Chromium for many checks: `with Axe() as axe: axe.check_html(html)`.

    HTML given as a string may load nothing from the network (a statement must stand on its
    own); pages without scripts share one tab per viewport size, as nothing of theirs
    outlives the next set_content. A page with scripts, or a URL, gets a fresh context.
    """

    def __init__(self, *, chromium: str = CHROMIUM, timeout_ms: int = 30_000) -> None:
        self.chromium = chromium
        self.timeout_ms = timeout_ms
        self._source: str | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._pages: dict[tuple[int, float | None], tuple[Any, Any]] = {}

    # -- lifetime

    def start(self) -> Axe:
        if self._browser is not None:
            return self
        self._source = axe_source()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as error:
            raise AxeUnavailable("Playwright is not installed") from error
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.chromium, headless=True, args=CHROMIUM_ARGS,
                timeout=self.timeout_ms,
            )
        except Exception:
            self._playwright.stop()
            self._playwright = None
            raise
        return self

    def close(self) -> None:
        for context, _page in self._pages.values():
            context.close()
        self._pages.clear()
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def __enter__(self) -> Axe:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def browser_version(self) -> str:
        return self._browser.version if self._browser is not None else ""

    # -- pages

    def _new_page(self, width: int, zoom: float | None, *, offline: bool) -> tuple[Any, Any]:
        """A new context and page `width` px wide; browser zoom shrinks the CSS viewport."""
        if self._browser is None:
            self.start()
        scale = float(zoom) if zoom else 1.0
        context = self._browser.new_context(
            viewport={"width": max(1, round(width / scale)), "height": round(HEIGHT / scale)},
            device_scale_factor=scale,
            bypass_csp=True,  # so axe can be injected into pages with a strict CSP
            locale="en-GB",
        )
        context.set_default_timeout(self.timeout_ms)
        if offline:
            context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                          else route.abort())
        return context, context.new_page()

    @contextmanager
    def _html_page(self, html: str, width: int, zoom: float | None) -> Iterator[Any]:
        """A page showing `html`, offline.

        A new browser context costs about a second (a renderer, then 650 kB of axe-core sent
        to it), so pages without scripts reuse one page per viewport: set_content replaces
        the whole document (DOM, styles) but keeps the window, and so axe-core, loaded.
        A page with a script gets a fresh context, as its globals would outlive it.
        """
        if "<script" in html.lower():
            context, page = self._new_page(width, zoom, offline=True)
            try:
                page.set_content(html, wait_until="load")
                yield page
            finally:
                context.close()
            return
        key = (width, zoom)
        if key not in self._pages:
            self._pages[key] = self._new_page(width, zoom, offline=True)
        context, page = self._pages[key]
        try:
            page.set_content(html, wait_until="load")
            yield page
        except BaseException:
            del self._pages[key]  # never reuse a page left in an unknown state
            context.close()
            raise

    def _run_axe(self, page: Any) -> list[dict[str, Any]]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(content=self._source)
        violations = page.evaluate(_RUN_AXE, WCAG_TAGS)
        return [simplify(v) for v in violations]

    def check_html(self, html: str, *, width: int = 1280,
                   zoom: float | None = None) -> list[dict[str, Any]]:
        """axe-core's WCAG A/AA violations for a page given as HTML ([] when none).

        `zoom` is browser zoom: 4 at width 1280 lays the page out 320 CSS px wide.
        """
        with self._html_page(html, width, zoom) as page:
            return self._run_axe(page)

    def check_url(self, url: str, *, width: int = 1280,
                  zoom: float | None = None) -> list[dict[str, Any]]:
        """The same check for a page served at `url` (a test server on this machine),
        in a fresh browser context."""
        context, page = self._new_page(width, zoom, offline=False)
        try:
            page.goto(url, wait_until="load")
            return self._run_axe(page)
        finally:
            context.close()

    def screenshot_html(self, html: str, path: str | os.PathLike[str], *, width: int = 1280,
                        zoom: float | None = None) -> Path:
        """A full-page PNG of the HTML, to look at what a reader sees."""
        with self._html_page(html, width, zoom) as page:
            page.screenshot(path=str(path), full_page=True)
        return Path(path)

    def reflow_ok(self, html: str, *, width: int = REFLOW_WIDTH) -> dict[str, Any]:
        """WCAG 1.4.10: laid out `width` CSS px wide, does the page need sideways scrolling?

        Returns {"ok", "scrollWidth", "innerWidth"}; ok means scrollWidth <= innerWidth + 1.
        (Tables of figures may need two-dimensional scrolling and are excepted by WCAG, but
        then only the table should scroll, inside its own box, never the page.)
        """
        with self._html_page(html, width, None) as page:
            widths = page.evaluate(_WIDTHS)
        return {"ok": widths["scrollWidth"] <= widths["innerWidth"] + 1, **widths}


def axe_session() -> Iterator[Axe]:
    """The body of a session-scoped `axe` fixture: skip (or under CI=true fail) when the
    checks cannot run, else one Chromium for the whole session."""
    require_axe()
    with Axe() as axe:
        yield axe
