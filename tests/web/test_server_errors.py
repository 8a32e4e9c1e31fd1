"""When the server fails (its database gone or refusing), a reader gets a plain page that
says so and offers a way back: status 500, the same security headers as every page, and
nothing of the error (docs/web.md#logs). Never a bare "Internal Server Error" or a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import MONTH, Site, build_ledger


@pytest.fixture
def site(tmp_path) -> Site:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    build_ledger(url, tmp_path)
    made = Site(url)
    yield made
    made.close()


def test_a_database_that_has_gone_gives_a_plain_page_and_no_detail(site, tmp_path):
    client = site.sign_in("ann")
    assert client.get(f"/statements/holder/H1?month={MONTH}").status_code == 200
    folder = tmp_path / "moved"
    folder.mkdir()
    for made in tmp_path.glob("ledger.db*"):  # the file, its WAL and shared memory
        made.rename(folder / made.name)
    site.app.state.web.books.dispose()  # no connection left open on the old file
    response = client.get(f"/statements/holder/H1?month={MONTH}")
    assert response.status_code == 500
    assert "This page could not be shown just now" in response.text
    assert "Nothing has been changed" in response.text
    assert '<a href="/">your statements</a>' in response.text
    for leak in ("Traceback", "sqlite", "SQL", "ledger.db", "Error"):
        assert leak not in response.text, leak
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    assert Path(folder / "ledger.db").exists()


def test_the_page_passes_axe_and_reflows_on_a_phone(site, tmp_path, axe):
    client = site.sign_in("ann")
    for made in tmp_path.glob("ledger.db*"):
        made.unlink()
    site.app.state.web.books.dispose()
    html = client.get("/").text
    assert "This page could not be shown just now" in html
    assert axe.check_html(html) == []
    assert axe.reflow_ok(html)["ok"]
