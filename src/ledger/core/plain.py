"""Copying instrument state: plain JSON-like data."""

from __future__ import annotations


def copy_plain(value):
    """A deep copy of JSON-like data (dicts, lists and tuples of plain values), several
    times faster than copy.deepcopy. Instrument state is always such data (it is stored as
    JSON); anything else inside it (a date, a Decimal) is immutable and shared."""
    kind = type(value)
    if kind is dict:
        return {k: copy_plain(v) for k, v in value.items()}
    if kind is list:
        return [copy_plain(v) for v in value]
    if kind is tuple:
        return tuple(copy_plain(v) for v in value)
    if kind is set:
        return {copy_plain(v) for v in value}
    return value
