"""Units, exact parsing and formatting, rounding and splitting (CONTRACT section 1).

Everything here is integer arithmetic: GBP in pence, HRS in minutes. Decimal is used only
to read the text a person typed, never to compute a result that is then stored.
"""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
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


def _to_decimal(value: object, what: str) -> Decimal:
    """Read a number or numeric string exactly. Floats (YAML `12.5`) go through their
    shortest repr, which is the text the person wrote."""
    if isinstance(value, bool):
        raise LedgerError("invalid", f"{what}: expected a number, got {value!r}")
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, float):
        dec = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            dec = Decimal(value.strip())
        except InvalidOperation:
            raise LedgerError("invalid", f"{what}: {value!r} is not a number") from None
    else:
        raise LedgerError("invalid", f"{what}: expected a number, got {value!r}")
    if not dec.is_finite():
        raise LedgerError("invalid", f"{what}: {value!r} is not a finite number")
    if dec and not -30 < dec.adjusted() < 30:  # before any exact arithmetic on it
        raise LedgerError("invalid", f"{what}: {value!r} is out of range")
    return dec


def parse_pence(value: object, what: str = "amount") -> int:
    """GBP text or number to integer pence; more than 2 decimal places is `invalid`."""
    dec = _to_decimal(value, what)
    scaled = dec * PENCE_PER_POUND
    if scaled != scaled.to_integral_value():
        raise LedgerError("invalid", f"{what}: {value!r} has more than 2 decimal places")
    return _bounded(int(scaled), value, what)


def _bounded(minor: int, value: object, what: str) -> int:
    if abs(minor) > MAX_MINOR:
        raise LedgerError("invalid", f"{what}: {value!r} is too large")
    return minor


def parse_minutes(value: object, what: str = "hours") -> int:
    """Decimal hours to integer minutes; a fraction of a minute is `invalid`."""
    dec = _to_decimal(value, what)
    minutes = Fraction(dec) * MINUTES_PER_HOUR
    if minutes.denominator != 1:
        raise LedgerError(
            "invalid", f"{what}: {value!r} hours is not a whole number of minutes"
        )
    return _bounded(int(minutes), value, what)


def parse_amount(value: object, unit: Unit, what: str = "amount") -> int:
    return parse_pence(value, what) if unit is Unit.GBP else parse_minutes(value, what)


def parse_rate(value: object, what: str = "rate") -> Fraction:
    """A rate or percentage kept exact (e.g. "12.5" percent); rounded only at posting."""
    return Fraction(_to_decimal(value, what))


def round_half_away(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (CONTRACT section 1)."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


def pence_for_minutes(minutes: int, rate_pence_per_hour: int) -> int:
    """Money worth `minutes` of support at an hourly rate, rounded once to the penny."""
    return round_half_away(Fraction(minutes * rate_pence_per_hour, MINUTES_PER_HOUR))


def percent_of(pence: int, percent: Fraction) -> int:
    return round_half_away(pence * percent / 100)


def format_pence(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), PENCE_PER_POUND)
    return f"{sign}{whole}.{part:02d}"


def format_minutes(minutes: int) -> str:
    """Decimal hours, exact where minutes allow, else rounded to 2 places (halves away)."""
    hundredths = round_half_away(Fraction(minutes * 100, MINUTES_PER_HOUR))
    sign = "-" if hundredths < 0 else ""
    whole, part = divmod(abs(hundredths), 100)
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
