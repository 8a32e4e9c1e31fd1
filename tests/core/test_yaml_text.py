"""The shared YAML reader (src/ledger/core/yaml_text.py): every value is the text written
in the file, and every refusal is one line `FILE:LINE:COLUMN: why`."""

from __future__ import annotations

import re

import pytest

from ledger.core.yaml_text import Map, Seq, Text, read_yaml_text
from ledger.errors import UsageError

# Plain values that YAML 1.1 (PyYAML's safe_load) or YAML 1.2 core would read as something
# else: octal or decimal numbers, yes/no, sexagesimal, floats, nulls, dates, infinity.
TRICKY = ["012345", "0100", "no", "yes", "off", "On", "1:30", "1e3", "~", "null", "NULL",
          "true", "False", "0x10", "0o17", "1_000", ".inf", ".nan", "2026-04-01", "12.50",
          "-3", "+1", "7"]


def _read(tmp_path, text: str | bytes, **kw):
    path = tmp_path / "f.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return read_yaml_text(path, **kw)


def _refused(tmp_path, text: str | bytes, **kw) -> tuple[int, int, str]:
    """(line, column, why) of the one-line refusal; fails unless it names this file."""
    with pytest.raises(UsageError) as caught:
        _read(tmp_path, text, **kw)
    message = str(caught.value)
    assert "\n" not in message
    found = re.fullmatch(rf"{re.escape(str(tmp_path / 'f.yaml'))}:(\d+):(\d+): (.+)", message)
    assert found, message
    return int(found[1]), int(found[2]), found[3]


@pytest.mark.parametrize("written", TRICKY)
def test_a_plain_value_is_the_text_written(tmp_path, written):
    data = _read(tmp_path, f"code: {written}\nlist: [{written}]\n")
    assert data == {"code": written, "list": [written]}
    assert type(data["code"]) is Text and isinstance(data["code"], str)


def test_quoted_and_empty_values_are_text_too(tmp_path):
    data = _read(tmp_path, "a: '012345'\nb: \"no\"\nc:\nd: ''\n012: x\n")
    assert data == {"a": "012345", "b": "no", "c": "", "d": "", "012": "x"}


def test_every_value_knows_its_line_and_column_counted_in_characters(tmp_path):
    data = _read(tmp_path, "\ufeffnamé: x\r\nlist:\r\n  - {ké: v, code: 0100}\r\n")
    assert isinstance(data, Map) and (data.line, data.column) == (1, 1)
    assert (data["namé"].line, data["namé"].column) == (1, 7)  # the BOM is not a column
    entry = data["list"][0]
    assert isinstance(data["list"], Seq) and (data["list"].line, data["list"].column) == (3, 3)
    assert (entry.line, entry.column) == (3, 5)
    assert (entry["code"].line, entry["code"].column) == (3, 19)
    assert (entry.key("code").line, entry.key("code").column) == (3, 13)


def test_a_file_with_no_document_is_none(tmp_path):
    assert _read(tmp_path, "") is None
    assert _read(tmp_path, "# only a comment\n\n") is None


@pytest.mark.parametrize("text, line, column, first", [
    ("a: 1\nb: 2\na: 3\n", 3, 1, 1),
    ("outer:\n  x: 1\n  'x': 2\n", 3, 3, 2),  # quoted or not, the same key
    ("- {code: 1, code: 1}\n", 1, 13, 1),  # even with the same value
])
def test_a_key_written_twice_is_refused_where_it_is_repeated(tmp_path, text, line, column,
                                                              first):
    found = _refused(tmp_path, text)
    assert found[:2] == (line, column)
    assert "written twice" in found[2] and f"first on line {first}" in found[2]


@pytest.mark.parametrize("text, line, column, word", [
    ("a: &x 1\nb: 2\n", 1, 4, "anchors"),
    ("a: 1\nb: *x\n", 2, 4, "aliases"),
    ("a: !!int 0100\n", 1, 4, "tags"),
    ("a: !code [1]\n", 1, 4, "tags"),
    ("? [a, b]\n: 1\n", 1, 3, "a key must be plain text"),
    ("- 1\n---\n- 2\n", 2, 1, "one"),
])
def test_what_a_plain_file_never_needs_is_refused_with_its_place(tmp_path, text, line,
                                                                   column, word):
    found = _refused(tmp_path, text)
    assert found[:2] == (line, column) and word in found[2]


def test_an_alias_bomb_is_refused_before_it_grows(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20))
    assert _refused(tmp_path, bomb)[:2] == (1, 4)


@pytest.mark.parametrize("text, line, column", [
    ("a: [1, 2\nb: 3\n", 2, 2),
    ("a: b\n  c: d\n", 2, 4),
    ("a: \"open\n", 2, 1),
    ("a: ok\nb: x\x07y\n", 2, 5),  # a control character
    ("a:\n\t- b\n", 2, 1),  # a tab indent
])
def test_a_malformed_file_is_one_line_with_line_and_column(tmp_path, text, line, column):
    found = _refused(tmp_path, text)
    assert found[:2] == (line, column) and found[2].startswith("not valid YAML: ")


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path):
    found = _refused(tmp_path, "a: ok\nb: Café\n".encode("cp1252"))
    assert found[:2] == (2, 7) and "UTF-8" in found[2]


def test_size_and_depth_have_limits(tmp_path):
    assert "larger than" in _refused(tmp_path, "a: " + "x" * 3000 + "\n", max_bytes=2048)[2]
    assert "nested more than" in _refused(tmp_path, "[" * 30 + "]" * 30 + "\n")[2]
    assert _read(tmp_path, "[" * 19 + "]" * 19 + "\n") is not None


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"nothere\.yaml:1:1: cannot read it"):
        read_yaml_text(tmp_path / "nothere.yaml")
