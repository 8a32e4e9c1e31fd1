"""`ledger user invite` builds its link from where people open the web view (issue 20):
`--base-url` (or $LEDGER_BASE_URL), else `ledger serve`'s own default address, said to be
this machine's only; an address nobody can open is refused and makes no invitation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ledger.cli import cli
from ledger.store import models as m
from ledger.store.schema import make_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def books(db_url) -> str:
    result = CliRunner().invoke(cli, ["scenario", "run",
                                      str(ROOT / "scenarios" / "dp-holder.yaml"),
                                      "--db", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db_url


def invite(url: str, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["user", "invite", "--role", "auditor", "--db", url,
                                    *args], env=env, catch_exceptions=False)


def invitations(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.AuditRecord).where(
                m.AuditRecord.kind == "invite_created")).scalar_one()
    finally:
        engine.dispose()


def opens(url: str, link: str) -> bool:
    """The link's path is an invitation page of this ledger's web view."""
    from fastapi.testclient import TestClient

    from ledger.web.app import create_app

    app = create_app(url)
    try:
        with TestClient(app) as client:
            path = urlsplit(link).path
            return client.get(path[path.index("/invite/"):]).status_code == 200
    finally:
        app.state.web.books.dispose()


def test_the_link_starts_with_the_base_url_given(books):
    result = invite(books, "--base-url", "https://statements.example.org:8443/care/")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://statements.example.org:8443/care/invite/"), link
    assert opens(books, link)


def test_the_base_url_may_come_from_the_environment(books):
    result = invite(books, env={"LEDGER_BASE_URL": "https://ledger.example.net"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("https://ledger.example.net/invite/")


def test_without_a_base_url_the_link_is_for_serves_default_address_and_says_so(books):
    result = invite(books, env={"LEDGER_BASE_URL": None})
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("http://127.0.0.1:8000/invite/"), link
    assert "--base-url" in result.stderr and "this machine only" in result.stderr
    assert opens(books, link)


@pytest.mark.parametrize("bad", ["statements.example.org", "ftp://example.org",
                                 "https://", "https://example.org:99999",
                                 "https://example.org/?next=/"])
def test_an_address_nobody_can_open_is_refused_and_makes_no_invitation(books, bad):
    before = invitations(books)
    result = subprocess.run([str(Path(sys.executable).parent / "ledger"), "user", "invite",
                             "--role", "auditor", "--db", books, "--base-url", bad],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--base-url" in line and "https://" in line
    assert result.stdout == ""
    assert invitations(books) == before
