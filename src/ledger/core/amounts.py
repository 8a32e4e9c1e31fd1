"""Units, exact parsing and formatting, rounding and splitting (docs/scenarios.md#numbers).

Everything here is integer arithmetic: GBP in pence, HRS in minutes. Decimal is used only
to read the text a person typed, never to compute a result that is then stored.
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from fractions import Fraction

from ledger.errors import LedgerError


class Unit(enum.StrEnum):
    GBP = "GBP"  # integer pence
    HRS = "HRS"  # integer minutes


MINUTES_PER_HOUR = 60
PENCE_PER_POUND = 100
# Put a limit on everything: no single amount beyond 10^15 minor units (ten trillion
# pounds), so sums stay far inside a 64-bit integer column on every engine.
MAX_MINOR = 10**15


# What a number may look like when written (docs/rules-trust.md#reading): ASCII digits,
# an optional sign and at most one decimal point. No exponent (`1e3`), no underscores,
# no spaces inside, no currency sign and no other script's digits (`Decimal` would read
# "١٠٠" as 100, so the text is checked before it ever reaches `Decimal`).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Hours written as H:MM ("7:30", "0:20"): minutes are two digits, 00 to 59.
_HOURS_MINUTES = re.compile(r"([+-]?)([0-9]+):([0-5][0-9])")
MAX_DIGITS = 30  # digits before the point, and after it: checked before any arithmetic


def _number_text(value: object, what: str) -> str:
    """The text of a number as written: a str as typed (spaces around it ignored), a
    YAML decimal (a `Decimal`) as read, an int, or a float through its shortest repr."""
    if isinstance(value, bool):
        raise LedgerError("invalid", f"{what}: expected a number, got {value!r}")
    if isinstance(value, int):
        if abs(value) >= 10**MAX_DIGITS:  # before str(), which refuses a huge int
            raise LedgerError("invalid", f"{what}: the number is out of range")
        return str(value)
    if isinstance(value, Decimal):
        if value.is_finite() and abs(value.as_tuple().exponent) > MAX_DIGITS:  # type: ignore[arg-type]
            raise LedgerError("invalid", f"{what}: {_short(value)} is out of range")
        text = format(value, "f")  # positional, keeping the places written: 100.000
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip(" ")
    else:
        raise LedgerError("invalid", f"{what}: expected a number, got {_short(value)}")
    if not _NUMBER.fullmatch(text):
        raise LedgerError("invalid", f"{what}: {_short(value)} is not a number (write ASCII "
                                     "digits and at most one decimal point)")
    return text


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:30] + "..."


def _to_decimal(value: object, what: str) -> Decimal:
    """Read a number or numeric string exactly (see `_number_text` for what it accepts)."""
    text = _number_text(value, what)
    whole, _, part = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_DIGITS or len(part) > MAX_DIGITS:
        raise LedgerError("invalid", f"{what}: {_short(value)} is out of range")
    return Decimal(text)


def _decimal_places(text: str) -> int:
    return len(text.partition(".")[2])


def parse_pence(value: object, what: str = "amount") -> int:
    """GBP text or number to integer pence; more than 2 decimal places *as written*
    (`"100.000"` too) is `invalid`."""
    text = _number_text(value, what)
    if _decimal_places(text) > 2:
        raise LedgerError("invalid", f"{what}: {_short(value)} has more than 2 decimal places")
    whole, part = _digits(text, text, what)
    # Exact in integers: pounds and at most two places of pence, as written.
    pence = int(whole or "0") * PENCE_PER_POUND + int(part.ljust(2, "0"))
    return _bounded(-pence if text[0] == "-" else pence, value, what)


def _digits(text: str, value: object, what: str) -> tuple[str, str]:
    """The digits before and after the point of a number's text (`_number_text`), at
    most MAX_DIGITS each, checked before any arithmetic (as `_to_decimal` does)."""
    whole, _, part = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_DIGITS or len(part) > MAX_DIGITS:
        raise LedgerError("invalid", f"{what}: {_short(value)} is out of range")
    return whole, part


def _bounded(minor: int, value: object, what: str) -> int:
    if abs(minor) > MAX_MINOR:
        raise LedgerError("invalid", f"{what}: {_short(value)} is too large")
    return minor


def parse_minutes(value: object, what: str = "hours") -> int:
    """Decimal hours (`"7.5"`) or `H:MM` (`"7:30"`) to integer minutes; a fraction of a
    minute is `invalid`."""
    if isinstance(value, str):
        written = _HOURS_MINUTES.fullmatch(value.strip(" "))
        if written:
            sign, hours, minutes = written.groups()
            if len(hours.lstrip("0")) > MAX_DIGITS:
                raise LedgerError("invalid", f"{what}: {_short(value)} is out of range")
            total = int(hours) * MINUTES_PER_HOUR + int(minutes)
            return _bounded(-total if sign == "-" else total, value, what)
        if ":" in value:
            raise LedgerError("invalid", f"{what}: {_short(value)} is not hours (write "
                                         "decimal hours, 7.5, or H:MM, 7:30)")
    text = _number_text(value, what)
    whole, part = _digits(text, value, what)
    # Exact in integers: the hours as written, times 60, must be a whole number.
    scale = 10 ** len(part)
    minutes, rest = divmod((int(whole or "0") * scale + int(part or "0")) * MINUTES_PER_HOUR,
                           scale)
    if rest:
        raise LedgerError(
            "invalid", f"{what}: {_short(value)} hours is not a whole number of minutes"
        )
    return _bounded(-minutes if text[0] == "-" else minutes, value, what)


def parse_amount(value: object, unit: Unit, what: str = "amount") -> int:
    return parse_pence(value, what) if unit is Unit.GBP else parse_minutes(value, what)


def parse_rate(value: object, what: str = "rate") -> Fraction:
    """A rate or percentage kept exact (e.g. "12.5" percent); rounded only at posting."""
    return Fraction(_to_decimal(value, what))


def round_half_away(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (docs/scenarios.md#numbers)."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


def pence_for_minutes(minutes: int, rate_pence_per_hour: int) -> int:
    """Money worth `minutes` of support at an hourly rate, rounded once to the penny."""
    # round_half_away(Fraction(minutes * rate, 60)), in integers.
    whole, rest = divmod(abs(minutes * rate_pence_per_hour), MINUTES_PER_HOUR)
    whole += 2 * rest >= MINUTES_PER_HOUR
    return -whole if minutes * rate_pence_per_hour < 0 else whole


def percent_of(pence: int, percent: Fraction) -> int:
    return round_half_away(pence * percent / 100)


def format_pence(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), PENCE_PER_POUND)
    return f"{sign}{whole}.{part:02d}"


def format_minutes(minutes: int) -> str:
    """Decimal hours, exact where minutes allow, else rounded to 2 places (halves away).

    In integers only (an export formats a million of these): hundredths of an hour are
    minutes x 100 / 60 = minutes x 5 / 3, rounded half away from zero."""
    whole, rest = divmod(abs(minutes) * 5, 3)
    hundredths = whole + (2 * rest >= 3)
    sign = "-" if minutes < 0 and hundredths else ""
    whole, part = divmod(hundredths, 100)
    text = f"{whole}.{part:02d}".rstrip("0").rstrip(".")
    return f"{sign}{text}" if text != "0" else "0"


def format_amount(minor: int, unit: Unit) -> str:
    return format_pence(minor) if unit is Unit.GBP else format_minutes(minor)


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split `total` minor units in proportion to `weights`; parts add up to `total`
    exactly, each within one unit of its exact share, ties to the earliest listed."""
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise LedgerError("invalid", "a split needs at least one positive weight")
    weight_sum = sum(weights)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    floors = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    short = magnitude - sum(floors)
    # Largest remainder first; Python's sort is stable, so ties keep list order.
    order = sorted(range(len(weights)), key=lambda i: -remainders[i])
    for i in order[:short]:
        floors[i] += 1
    return [sign * part for part in floors]
