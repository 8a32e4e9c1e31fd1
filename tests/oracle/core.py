"""Numbers, names and months for the oracle model, from docs/scenarios.md#numbers alone
(nothing here comes from `ledger`)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction

GBP, HRS = "GBP", "HRS"


class Refused(Exception):
    def __init__(self, code: str, why: str = "") -> None:
        super().__init__(f"{code}: {why}")
        self.code = code


class NotModelled(Exception):
    """A case the model leaves out (listed in the report)."""


def refuse(code: str, why: str = "") -> None:
    raise Refused(code, why)


# ------------------------------------------------------------------ tiny integer helpers

def round_half_away(x: Fraction) -> int:
    """Nearest integer, halves away from zero (docs/scenarios.md#numbers)."""
    sign = -1 if x < 0 else 1
    x = abs(x)
    return sign * ((2 * x.numerator + x.denominator) // (2 * x.denominator))


MONEY_RE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
DEC_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
HMM_RE = re.compile(r"([0-9]+):([0-5][0-9])")


def pence(value: object, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse("invalid", f"money {value!r}")
    text = str(value)
    if not MONEY_RE.fullmatch(text):
        refuse("invalid", f"money {value!r}")
    whole, _, frac = text.partition(".")
    out = int(whole) * 100 + int((frac + "00")[:2])
    if out < 0 or (out == 0 and not allow_zero):
        refuse("invalid", "money must be above zero")
    return out


def decimal(value: object, allow_zero: bool = False) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse("invalid", f"number {value!r}")
    text = str(value)
    if not DEC_RE.fullmatch(text):
        refuse("invalid", f"number {value!r}")
    out = Fraction(text)
    if out == 0 and not allow_zero:
        refuse("invalid", "must be above zero")
    return out


def minutes(value: object, allow_zero: bool = False) -> int:
    if isinstance(value, str) and HMM_RE.fullmatch(value):
        h, m = HMM_RE.fullmatch(value).groups()
        out = Fraction(int(h) * 60 + int(m))
    else:
        out = decimal(value, allow_zero) * 60
    if out.denominator != 1:
        refuse("invalid", "hours must make whole minutes")
    if out == 0 and not allow_zero:
        refuse("invalid", "hours must be above zero")
    return int(out)


def month_index(text: object) -> int:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        refuse("invalid", f"month {text!r}")
    y, m = int(text[:4]), int(text[5:])
    if not 1 <= m <= 12:
        refuse("invalid", f"month {text!r}")
    return y * 12 + m - 1


def month_of(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: dt.date, k: int) -> dt.date:
    idx = month_of(day) + k
    y, m = divmod(idx, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(day.day, last))


def split_largest_remainder(amount: int, weights: list[Fraction]) -> list[int]:
    """Parts adding up exactly; spare pennies to the largest remainders, ties to the
    earliest in the list (docs/scenarios.md#numbers, pools.md rule 13)."""
    scale = 1
    for w in weights:
        scale = scale * w.denominator // _gcd(scale, w.denominator)
    ints = [int(w * scale) for w in weights]
    total = sum(ints)
    parts = [amount * w // total for w in ints]
    rems = [amount * w % total for w in ints]
    left = amount - sum(parts)
    for i in sorted(range(len(ints)), key=lambda i: (-rems[i], i))[:left]:
        parts[i] += 1
    return parts


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def external(name: object, prefix_allowed: bool = False) -> str:
    """docs/scenarios.md#parties: a payee or payer is a name without a colon. For direct
    payments and ISFs (docs/rules-dp-isf.md) `payee: external:X` also means external:X;
    pools and bursaries keep the plain rule (QUESTIONS.md)."""
    if not isinstance(name, str) or not name:
        refuse("invalid", "payee")
    if prefix_allowed and name.startswith("external:"):
        name = name[len("external:"):]
    if ":" in name or not name:
        refuse("invalid", "a colon in an external name")
    return f"external:{name}"


def free_id(value: object) -> str:
    if not isinstance(value, str) or not value or ":" in value:
        refuse("invalid", f"id {value!r}")
    return value


def month_first(month: int) -> dt.date:
    y, m = divmod(month, 12)
    return dt.date(y, m + 1, 1)


def month_last(month: int) -> dt.date:
    y, m = divmod(month, 12)
    return dt.date(y, m + 1, calendar.monthrange(y, m + 1)[1])


def month_text(month: int) -> str:
    y, m = divmod(month, 12)
    return f"{y}-{m + 1:02d}"


@dataclass
class J:
    date: dt.date
    event: str
    type: str
    postings: list[tuple[str, str, int]]


def belongs_to(path: str, holder: str) -> bool:
    """docs/statements.md: holder:H:*, isf:H:*, pool:*:H, fund:*:award:H."""
    parts = path.split(":")
    if parts[0] in ("holder", "isf") and len(parts) == 3:
        return parts[1] == holder
    if parts[0] == "pool" and len(parts) == 3:
        return parts[2] == holder
    if parts[0] == "fund" and len(parts) == 4 and parts[2] == "award":
        return parts[3] == holder
    return False
