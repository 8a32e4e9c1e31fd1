"""Every statement kind from the command line in every format and version
(docs/statements.md#formats), and every HTML version clean under axe-core for WCAG 2.x A
and AA, reflowing at 320 CSS pixels."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# (scenario, statement arguments) for each kind.
KINDS = {
    "holder": ("wokingham-isf-pilot.yaml", ("holder", "H2", "--month", "2026-05")),
    "pool": ("pool-shared-pa.yaml", ("pool", "OUTABOUT", "--month", "2026-04")),
    "pool-member": ("pool-shared-pa.yaml", ("pool", "OUTABOUT", "--month", "2026-04",
                                            "--member", "H3")),
    "provider": ("wokingham-isf-pilot.yaml", ("provider", "SH", "--month", "2026-05")),
    "council": ("wokingham-isf-pilot.yaml", ("council", "WBC", "--from", "2026-04-01",
                                             "--to", "2026-06-30")),
}
VERSIONS = {"standard": (), "large_print": ("--large-print",), "easy_read": ("--easy-read",)}


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory) -> dict[str, str]:
    """One SQLite ledger per scenario (both engines are covered by the statement tests)."""
    found = {}
    for name in {scenario for scenario, _ in KINDS.values()}:
        url = f"sqlite:///{tmp_path_factory.mktemp('s')}/ledger.db"
        done = invoke("scenario", "run", str(SCENARIOS / name), db=url)
        assert done.exit_code == 0, done.output
        found[name] = url
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_in_every_format_and_version(kind, ledgers, tmp_path):
    scenario, args = KINDS[kind]
    db = ledgers[scenario]
    data = json.loads(invoke("statement", *args, "--format", "json", db=db).output)
    assert isinstance(data, dict) and data
    for version, flags in VERSIONS.items():
        text = invoke("statement", *args, *flags, db=db)
        assert text.exit_code == 0, text.output
        assert text.output.strip() and "Traceback" not in text.output
        page = invoke("statement", *args, *flags, "--format", "html", db=db).output
        assert page.startswith("<!DOCTYPE html>") and '<html lang="en-GB">' in page
        assert f'<body class="{version.replace("_", "-")}">' in page
        assert "<title>" in page and "<h1>" in page and "http" not in page  # self-contained
        pdf = tmp_path / f"{kind}-{version}.pdf"
        done = invoke("statement", *args, *flags, "--format", "pdf", "-o", str(pdf), db=db)
        assert done.exit_code == 0, done.output
        assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_html_version_is_clean_under_axe(kind, ledgers, axe):
    from tests.a11y.axe import format_violations

    scenario, args = KINDS[kind]
    for version, flags in VERSIONS.items():
        page = invoke("statement", *args, *flags, "--format", "html",
                      db=ledgers[scenario]).output
        found = axe.check_html(page)
        assert not found, f"{kind} {version}: {format_violations(found)}"
        width = axe.reflow_ok(page)
        assert width["ok"], (kind, version, width)


def test_a_member_copy_says_how_the_member_appears(ledgers):
    db = ledgers["pool-shared-pa.yaml"]
    text = " ".join(invoke("statement", *KINDS["pool-member"][1], db=db).output.split())
    assert "You appear in this statement as Member 3." in text
    assert "Member 3 (you)" in text


@pytest.mark.parametrize("args, why", [
    (("pool", "OUTABOUT", "--month", "2026-04", "--member", "NOBODY"), "not a member"),
    (("provider", "NOBODY", "--month", "2026-05"), "is not in ledger 'main'"),
    (("council", "NOBODY", "--from", "2026-04-01", "--to", "2026-04-30"), "is not in ledger 'main'"),
    (("council", "WBC", "--from", "2026-04-30", "--to", "2026-04-01"), "before"),
])
def test_a_wrong_party_is_one_line_and_exit_2(args, why, ledgers):
    db = ledgers["pool-shared-pa.yaml"] if args[0] == "pool" else \
        ledgers["wokingham-isf-pilot.yaml"]
    done = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                           "statement", *args, "--db", db], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert why in done.stderr


def test_many_statements_at_once_are_each_persons_own(ledgers, tmp_path):
    """`statement holders` writes one file per person, the same bytes as asking for each
    person's statement alone (docs/statements.md#many)."""
    db = ledgers["wokingham-isf-pilot.yaml"]
    for fmt in ("json", "html"):
        out = tmp_path / fmt
        done = invoke("statement", "holders", "--council", "WBC", "--month", "2026-05",
                      "--format", fmt, "--out", str(out), db=db)
        assert done.exit_code == 0, done.output
        files = sorted(out.iterdir())
        assert [f.name for f in files] == [f"H{n}.{fmt}" for n in range(1, 6)]
        for path in files:
            alone = invoke("statement", "holder", path.stem, "--month", "2026-05",
                           "--format", fmt, db=db).output
            assert path.read_text(encoding="utf-8") == alone
    by_provider = tmp_path / "sh"
    assert invoke("statement", "holders", "--provider", "SH", "--month", "2026-05",
                  "--format", "json", "--out", str(by_provider), db=db).exit_code == 0
    assert len(list(by_provider.iterdir())) == 5
    neither = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                              "statement", "holders", "--month", "2026-05", "--out",
                              str(tmp_path / "x"), "--db", db], capture_output=True, text=True)
    assert neither.returncode == 2 and neither.stderr.count("\n") == 1, neither.stderr
    assert not (tmp_path / "x").exists()
