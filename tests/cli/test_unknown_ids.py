"""Every read, statement, export and month-end command refuses an id the ledger has never
seen (a council, provider, holder, pool, or the ledger's own name): exit 2 and one line
naming it, never an empty file with exit 0, and no output file (docs/reading.md#ids).
Each command is also run with the right id, so a refusal is the id's doing. On SQLite and
PostgreSQL.

The console entry point `main()` runs in-process, as a user runs it: it is what turns a
refusal into one line on stderr and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ledger.cli import main
from tests.dbutil import empty_database

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
APRIL = ("--from", "2026-04-01", "--to", "2026-04-30")

# (name, the command with {id} where its id goes, the right id, the wrong id's kind, the
# ledger it reads). The ISF pilot is in ledger `main` (council WBC, provider SH, holders
# H1-H5); the pool in ledger `pools` (pool OUTABOUT).
WITH_IDS = [
    ("statement holder", ["statement", "holder", "{id}", "--month", "2026-04"], "H1",
     "holder", "main"),
    ("statement pool", ["statement", "pool", "{id}", "--month", "2026-04"], "OUTABOUT",
     "pool", "pools"),
    ("statement provider", ["statement", "provider", "{id}", "--month", "2026-04"], "SH",
     "provider", "main"),
    ("statement council", ["statement", "council", "{id}", *APRIL], "WBC", "council", "main"),
    ("statement holders --council",
     ["statement", "holders", "--council", "{id}", "--month", "2026-04", "--format", "json",
      "--out", "{out}"], "WBC", "council", "main"),
    ("statement holders --provider",
     ["statement", "holders", "--provider", "{id}", "--month", "2026-04", "--format", "json",
      "--out", "{out}"], "SH", "provider", "main"),
    ("export gl", ["export", "gl", "--council", "{id}", *APRIL], "WBC", "council", "main"),
    ("export payments", ["export", "payments", "--council", "{id}", *APRIL], "WBC",
     "council", "main"),
    ("export dp-monitoring", ["export", "dp-monitoring", "--council", "{id}", "--as-of",
                              "2026-04-30"], "RIC", "council", "pools"),
    ("export isf-returns", ["export", "isf-returns", "--council", "{id}", "--month",
                            "2026-04"], "WBC", "council", "main"),
    ("export contracts", ["export", "contracts", "--council", "{id}", *APRIL], "WBC",
     "council", "main"),
    ("isf advance", ["isf", "advance", "--provider", "{id}", "--month", "2026-04"], "SH",
     "provider", "main"),
    ("isf reconcile", ["isf", "reconcile", "--provider", "{id}", "--month", "2026-04"], "SH",
     "provider", "main"),
]
# Commands that name no party: only the ledger's name can be wrong.
LEDGER_ONLY = [
    ("balance", ["balance"]),
    ("balance --from", ["balance", *APRIL]),
    ("accounts", ["accounts"]),
    ("parties", ["parties"]),
    ("register", ["register", "--account", "council:"]),
    ("print", ["print"]),
    ("stats", ["stats"]),
    ("export beancount", ["export", "beancount"]),
]
# Commands that write their answer to -o FILE.
WRITES_FILE = {"statement holder", "statement pool", "statement provider",
               "statement council", "export gl", "export payments", "export dp-monitoring",
               "export isf-returns", "export contracts", "balance", "balance --from",
               "accounts", "parties", "register", "print", "stats", "export beancount"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request, tmp_path_factory) -> str:
    """One database per engine: the ISF pilot in ledger `main`, a pool in `pools`."""
    with empty_database(request.param, tmp_path_factory.mktemp("ids")) as url:
        for scenario, ledger in (("wokingham-isf-pilot.yaml", "main"),
                                 ("pool-shared-pa.yaml", "pools")):
            code, _, err = _ledger("scenario", "run", str(SCENARIOS / scenario), "--db", url,
                                   "--ledger", ledger)
            assert code == 0, err
        yield url


def _ledger(*args: str) -> tuple[int, str, str]:
    """`ledger ARGS` through the console entry point: (exit status, stdout, stderr)."""
    import contextlib
    import io

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # a statement writes bytes
    err = io.StringIO()
    argv = sys.argv
    sys.argv = ["ledger", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = argv
    out.flush()
    return code, out.buffer.getvalue().decode("utf-8"), err.getvalue()


def _args(template: list[str], ident: str, out: Path) -> list[str]:
    return [a.replace("{id}", ident).replace("{out}", str(out)) for a in template]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(autouse=True)
def _no_default_ledger(monkeypatch):
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEDGER_NAME", raising=False)


@pytest.mark.parametrize("name, template, right, kind, ledger", WITH_IDS,
                         ids=[c[0] for c in WITH_IDS])
@pytest.mark.parametrize("wrong", ["ZZ", "{lower}"], ids=["unknown", "wrong-case"])
def test_an_id_the_ledger_never_saw_is_refused_in_one_line(db, tmp_path, name, template,
                                                           right, kind, ledger, wrong):
    wrong = right.lower() if wrong == "{lower}" else wrong
    output = tmp_path / "out.file"
    args = _args(template, wrong, tmp_path / "folder")
    if name in WRITES_FILE:
        args += ["-o", str(output)]
    code, out, err = _ledger(*args, "--db", db, "--ledger", ledger)
    assert code == 2, (out, err)
    assert _one_line(err) == f"error: {kind} {wrong!r} is not in ledger {ledger!r}"
    assert out == ""
    assert not output.exists() and not (tmp_path / "folder").exists()


@pytest.mark.parametrize("name, template, right, kind, ledger", WITH_IDS,
                         ids=[c[0] for c in WITH_IDS])
def test_the_same_command_with_the_right_id_answers(db, tmp_path, name, template, right,
                                                    kind, ledger):
    code, out, err = _ledger(*_args(template, right, tmp_path / "folder"), "--db", db,
                             "--ledger", ledger)
    assert code == 0, err
    assert out or any((tmp_path / "folder").iterdir())


@pytest.mark.parametrize("name, template",
                         LEDGER_ONLY + [(c[0], c[1]) for c in WITH_IDS],
                         ids=[c[0] for c in LEDGER_ONLY + WITH_IDS])
def test_a_ledger_the_database_does_not_hold_is_refused_in_one_line(db, tmp_path, name,
                                                                    template):
    output = tmp_path / "out.file"
    args = _args(template, "H1", tmp_path / "folder")
    if name in WRITES_FILE:
        args += ["-o", str(output)]
    code, out, err = _ledger(*args, "--db", db, "--ledger", "nope")
    assert code == 2, (out, err)
    line = _one_line(err)
    assert "'nope'" in line and "ledgers: main, pools" in line, line
    assert out == "" and not output.exists() and not (tmp_path / "folder").exists()


@pytest.mark.parametrize("name, template", LEDGER_ONLY, ids=[c[0] for c in LEDGER_ONLY])
def test_the_same_command_on_the_right_ledger_answers(db, name, template):
    code, out, err = _ledger(*template, "--db", db, "--ledger", "main")
    assert code == 0, err
    assert out.strip()


def test_verify_names_a_ledger_the_database_does_not_hold(db):
    code, out, err = _ledger("verify", "--db", db, "--ledger", "nope")
    assert code == 2, (out, err)
    assert "'nope'" in _one_line(err)
    assert _ledger("verify", "--db", db, "--ledger", "main")[0] == 0
