"""The hash chain (docs/rules-trust.md#verify), defined once for the writer and `verify`.

Two links, one inside the other:
- each journal's link hash follows from the one before it and covers its key, its
  payload hash (type, date, holder, reversal link, postings) and its event key;
- each record (an applied event, a party declaration, a direct post) is chained to the
  record before it, and its hash covers every stored field of the record (including the
  event as written), every journal it posted (link hash and memo) and every party record
  it wrote, and, for a record made under rules version 2 or later, that version
  (docs/rules-trust.md#rules-versions). A record of version 1 is hashed exactly as before
  versions were stored, so the hashes a database already holds stay what they were.
  A record that opened accounts (the first to post to an account or give it a floor)
  covers every property of each (its path and its holder), from schema revision 0006 on
  (docs/rules-trust.md#accounts); a record that opened none, or was made before, is
  hashed as before. The chain's head is the newest record's hash.
A migration keeps its own copy of these formulas, as migrations never import live code.
"""

from __future__ import annotations

import json

from ledger.core.journal import sha256_text

GENESIS_HASH = "0" * 64
# json.dumps(value, ensure_ascii=False[, separators=(",", ":")]) exactly, without building
# an encoder on every call (json.dumps reuses one only for its default arguments).
_dumps = json.JSONEncoder(ensure_ascii=False).encode
_dumps_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NONE = sha256_text(_dumps([]))  # what an empty list of journals or parties hashes to


def journal_link(prev_hash: str, key: str, payload_hash: str, event_key: str) -> str:
    return sha256_text(f"{prev_hash}|{key}|{payload_hash}|{event_key}")


def canonical(value: object) -> str:
    """The one text form of a JSON-able value: what is stored and what is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def record_hash(prev_hash: str, seq: int, key: str, type_: str, date_iso: str,
                payload_hash: str, payload: str | None, outcome: str, source: str | None,
                journals: list[list[str]], parties: list[list], rules_version: int,
                accounts: list[list] | None = None) -> str:
    """`journals`: [link hash, memo text] of each journal the record posted, in order;
    `parties`: [kind, id, valid_from or None, data text] of each party record it wrote;
    `rules_version`: the rules it was recorded under (covered from version 2 on);
    `accounts`: [path, holder or None] of each account it opened, in path order
    (`account_properties`; covered when there is any)."""
    fields: list[object] = [
        prev_hash, seq, key, type_, date_iso, payload_hash, payload, outcome, source,
        sha256_text(_dumps(journals)) if journals else _NONE,
        sha256_text(_dumps(parties)) if parties else _NONE]
    if rules_version != 1:
        fields.append(rules_version)
    if accounts:
        fields.append({"accounts": sha256_text(_dumps(accounts))})
    return sha256_text(_dumps_compact(fields))


def account_properties(path: str, holder: str | None) -> list:
    """What a record's hash covers of an account it opened: every property the account
    has (its ledger is the record's own). Sort a record's accounts by path."""
    return [path, holder]


__all__ = ["GENESIS_HASH", "account_properties", "canonical", "journal_link", "record_hash"]
