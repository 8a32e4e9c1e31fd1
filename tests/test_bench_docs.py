"""Each bench's `--write-doc` writes its section of a doc through bench/doc_section.py:
the new block goes between the section's `<!-- bench:NAME:start -->` and
`<!-- bench:NAME:end -->` markers and every other byte stays; a doc without the section
gets it at the end; markers that do not make one whole section are refused (one line,
exit 2) and the doc is left as it was. Every bench with a section is called here on its
own saved result (bench/results/), so a bench that writes its doc some other way fails."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from doc_section import markers, replace_section, write_section  # noqa: E402

START, END = markers("demo")
BLOCK = f"{START}\n\n| a | b |\n|---|---|\n| 1 \\1 \\g<0> $& | 2 |\n\n{END}"


def _refused(capsys, doc: Path, block: str = BLOCK, name: str = "demo") -> str:
    before = doc.read_bytes()
    with pytest.raises(SystemExit) as exc:
        write_section(doc, name, block)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"bench: {doc}: the bench:{name} section is not written: ")
    assert doc.read_bytes() == before
    return err


def test_the_block_replaces_only_what_stands_between_the_markers(tmp_path):
    doc = tmp_path / "doc.md"
    head = "# Title\r\n\r\nProse with <!-- bench:other:start --> and a regex .*? in it.\r\n\r\n"
    tail = "\r\n\r\nAfter the section: <!-- bench:other:end -->, no newline at the end"
    doc.write_bytes((head + f"{START}\nold figures\n{END}" + tail).encode())
    write_section(doc, "demo", BLOCK)
    assert doc.read_bytes() == (head + BLOCK + tail).encode()
    write_section(doc, "demo", BLOCK)  # written twice: the same bytes
    assert doc.read_bytes() == (head + BLOCK + tail).encode()


def test_a_doc_without_the_section_gets_it_at_the_end(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_bytes("# Title\n\nSome prose, ünïcode.\n\n\n".encode())
    write_section(doc, "demo", BLOCK)
    assert doc.read_bytes() == f"# Title\n\nSome prose, ünïcode.\n\n{BLOCK}\n".encode()

    doc.write_text("# Title\n", encoding="utf-8")
    write_section(doc, "demo", BLOCK, heading="## Demo figures")
    assert doc.read_text(encoding="utf-8") == f"# Title\n\n## Demo figures\n\n{BLOCK}\n"


@pytest.mark.parametrize("text, says", [
    (f"a\n{START}\nold\n", f"{START} has no {END} after it"),
    (f"a\n{END}\nb\n{START}\nold\n", f"{START} has no {END} after it"),
    (f"a\nold\n{END}\n", f"{END} has no {START} before it"),
    (f"{START}\n1\n{END}\n{START}\n2\n{END}\n", f"2 {START} and 2 {END}; keep one of each"),
    (f"{START}\n1\n{START}\n2\n{END}\n", f"2 {START} and 1 {END}; keep one of each"),
])
def test_markers_that_do_not_make_one_section_are_refused(tmp_path, capsys, text, says):
    doc = tmp_path / "doc.md"
    doc.write_text(text, encoding="utf-8")
    assert says in _refused(capsys, doc)


def test_a_doc_that_cannot_be_read_is_refused(tmp_path, capsys):
    missing = tmp_path / "missing.md"
    with pytest.raises(SystemExit) as exc:
        write_section(missing, "demo", BLOCK)
    assert exc.value.code == 2
    assert capsys.readouterr().err == (f"bench: {missing}: the bench:demo section is not "
                                       "written: No such file or directory\n")
    assert not missing.exists()
    latin = tmp_path / "latin.md"
    latin.write_bytes("caf\u00e9\n".encode("latin-1"))
    assert _refused(capsys, latin).endswith(": not UTF-8 text\n")


def test_a_block_without_its_own_markers_is_a_bench_bug():
    with pytest.raises(ValueError, match="must begin with"):
        replace_section("text\n", "demo", "no markers")
    with pytest.raises(ValueError, match="must begin with"):
        replace_section("text\n", "other", BLOCK)


# ------------------------------------------------------------------ every bench


def _results(name: str) -> dict:
    return json.loads((BENCH / "results" / name).read_text(encoding="utf-8"))


# The section's name: the bench module, the module's doc attribute (None: the doc is the
# writer's argument), and how the bench writes its doc from its saved result.
WRITERS = {
    "citus": ("citus_ledgers", "DOC",
              lambda m, d: m.write_doc(_results("citus_ledgers.json"))),
    "compare": ("compare", None,
                lambda m, d: m.write_doc(m.render(_results("compare.json")), d)),
    "exports": ("exports", "DOC", lambda m, d: m.write_doc(_results("exports.json"))),
    "ledgers": ("ledgers", "DOC", lambda m, d: m._write_doc(_results("ledgers.json"))),
    "month-end": ("month_end", "DOC", lambda m, d: m._write_doc(_results("month_end.json"))),
    "run": ("run", "DOC", lambda m, d: m.write_doc(_results("latest.json"))),
    "statement-engines": ("statement_engines", None, lambda m, d: m.write_doc(
        m.render(_results("statement-engines.json")), d)),
    "statements": ("statements", "DOC",
                   lambda m, d: m._write_doc(_results("statements.json"))),
    "suite": ("suite", "DOC", lambda m, d: m.write_doc(_results("suite.json"))),
    "targets": ("targets", "DOC", lambda m, d: m.write_doc(m.table())),
    "verify": ("verify", "DOC", lambda m, d: m._write_doc(_results("verify.json"))),
    "web": ("web_load", "DOC", lambda m, d: m.write_doc(_results("web_load.json"))),
    "sign-ins": ("web_load", "RELIABILITY",
                 lambda m, d: m.write_pressure_doc(_results("web_load_sign_ins.json"))),
}


def test_every_bench_section_is_written_through_write_section():
    found = {}
    for path in sorted(BENCH.glob("*.py")):
        if path.name == "doc_section.py":
            continue
        source = path.read_text(encoding="utf-8")
        for name in re.findall(r"<!-- bench:([\w-]+):start -->", source):
            found[name] = path.name
            assert re.search(r'write_section\([^)]*"' + re.escape(name) + '"', source), \
                f"{path.name} writes its bench:{name} section without write_section"
    assert found.keys() == WRITERS.keys()


@pytest.mark.parametrize("name", WRITERS)
def test_each_bench_replaces_its_section_and_refuses_a_broken_one(name, tmp_path, capsys,
                                                                  monkeypatch):
    import importlib

    module, attr, write = WRITERS[name]
    bench = importlib.import_module(module)
    start, end = markers(name)
    doc = tmp_path / "doc.md"
    if attr:
        monkeypatch.setattr(bench, attr, doc)
    head, tail = "# Doc\n\nProse.\n\n", "\n\n## Next\n\nMore prose.\n"
    doc.write_text(f"{head}{start}\nstale figures\n{end}{tail}", encoding="utf-8")
    write(bench, doc)
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(head + start) and text.endswith(end + tail)
    assert "stale figures" not in text and text.count(start) == text.count(end) == 1

    doc.write_text(f"{head}{start}\nstale figures\n{tail}", encoding="utf-8")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        write(bench, doc)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{start} has no {end} after it" in err
    assert doc.read_text(encoding="utf-8") == f"{head}{start}\nstale figures\n{tail}"
