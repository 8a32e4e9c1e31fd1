"""Finance codes for the council exports: the `--mapping FILE` of `ledger export`
(docs/exports.md#mapping), read with every value as text exactly as written."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from ledger.core.text import text_problem
from ledger.core.yaml_text import Map, Seq, Text, Value, read_yaml_text, refuse

__all__ = ["CODE_COLUMNS", "Mapping", "read_mapping"]

CODE_COLUMNS = ("cost_centre", "nominal", "supplier")


class Mapping:
    """Finance codes for accounts (docs/exports.md#mapping): each entry a glob `match` on
    the account path, optionally only for some journal `types`, and any of `cost_centre`,
    `nominal` and `supplier`. The first entry that matches gives a row its codes."""

    def __init__(self, entries: list[dict]) -> None:
        self.entries = entries

    def codes(self, account: str, kind: str) -> dict | None:
        for entry in self.entries:
            if fnmatchcase(account, entry["match"]) and (
                    not entry.get("types") or kind in entry["types"]):
                return entry
        return None


def read_mapping(path: Path) -> Mapping:
    """A mapping file (docs/exports.md#mapping): `accounts:`, a list of entries. Every
    value is text exactly as written (`012345`, `0100` and `no` are codes, never numbers
    or yes/no), and no field is a number, so nothing is converted. Anything else is one
    line of error, `FILE:LINE:COLUMN: why`."""
    data = read_yaml_text(path)
    if not isinstance(data, Map) or "accounts" not in data:
        raise refuse(path, data, "a mapping is `accounts:` with a list of entries")
    for key in data:
        if key != "accounts":
            raise refuse(path, key, f"unknown field {key[:40]!r}: a mapping has only "
                         "`accounts`")
    entries = data["accounts"]
    if not isinstance(entries, Seq) or not entries:
        raise refuse(path, entries, "`accounts` needs a list of entries, each "
                     "`- {match: ACCOUNT-PATTERN, cost_centre: CODE, ...}`")
    return Mapping([_entry(path, entry) for entry in entries])


_ENTRY_FIELDS = ("match", "types", *CODE_COLUMNS)


def _entry(path: Path, entry: Value) -> dict:
    """One entry of a mapping file, its values as plain text (types a list of them)."""
    if not isinstance(entry, Map):
        raise refuse(path, entry, "an entry is a mapping: "
                     "`{match: ACCOUNT-PATTERN, cost_centre: CODE, ...}`")
    checked: dict = {}
    for key, value in entry.items():
        if key not in _ENTRY_FIELDS:
            raise refuse(path, key, f"unknown field {key[:40]!r} (an entry has "
                         f"{', '.join(_ENTRY_FIELDS)})")
        if key == "types":
            checked[key] = _journal_types(path, value)
        else:
            checked[key] = _entry_text(path, key, value)
    if "match" not in checked:
        raise refuse(path, entry, "the entry needs `match: ACCOUNT-PATTERN`")
    if not any(c in checked for c in CODE_COLUMNS):
        raise refuse(path, entry, "the entry gives no code: add cost_centre, nominal "
                     "or supplier")
    return checked


def _entry_text(path: Path, key: str, value: Value) -> str:
    if not isinstance(value, Text):
        raise refuse(path, value, f"`{key}` is one piece of text, not a list or mapping")
    if not value:
        raise refuse(path, value, f"`{key}` is empty: write it, or leave the field out")
    problem = text_problem(value)
    if problem:
        raise refuse(path, value, f"`{key}` {problem}")
    return str(value)


def _journal_types(path: Path, value: Value) -> list[str]:
    if not isinstance(value, Seq):
        raise refuse(path, value, "`types` is a list of journal types: `[dp_payment]`")
    if not value:
        raise refuse(path, value, "`types: []` names no journal type; leave `types` out "
                     "to match every type")
    return [_entry_text(path, "types", item) for item in value]
