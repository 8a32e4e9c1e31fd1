"""Cells the council exports add for finance systems (docs/exports.md, column spec version
2, added 2026-12-06): the UK financial year and period of a date, a description built
from ids and journal types only, the parties an account belongs to, exact hours as H:MM,
and debit and credit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from ledger.core.amounts import Unit, format_pence

# The columns each export gains in column spec version 2 (after the version 1 columns and
# any finance codes, so every earlier column keeps its place).
GL_ADDED = ("description", "financial_year", "period", "hours")
GL_DEBIT_CREDIT = ("debit", "credit", "debit_minor", "credit_minor")
PAYMENTS_ADDED = ("provider", "holder")
CONTROL_COLUMNS = ("council", "from", "to", "rows", "payments", "payments_minor",
                   "recoveries", "recoveries_minor", "net", "net_minor")


@lru_cache(maxsize=4096)
def financial_period(day: dt.date) -> tuple[str, int]:
    """The UK financial year (April to March) written `2026-27`, and the period in it:
    April is 1, March is 12. 2027-03-31 -> ('2026-27', 12)."""
    year = day.year if day.month >= 4 else day.year - 1
    return f"{year}-{(year + 1) % 100:02d}", (day.month - 4) % 12 + 1


def hours_text(minutes: int) -> str:
    """Signed minutes as H:MM, exact: 20 -> '0:20', -65 -> '-1:05', 2400 -> '40:00'."""
    whole, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else ''}{whole}:{rest:02d}"


def exact_amount(minor: int, unit: Unit) -> str:
    """Pounds with two decimals, or hours as H:MM: never rounded."""
    return format_pence(minor) if unit is Unit.GBP else hours_text(minor)


def debit_credit(minor: int, unit: Unit) -> list:
    """`debit`, `credit`, `debit_minor`, `credit_minor` of a signed posting: a positive
    posting (money or hours into the account) is a debit, a negative one a credit; the
    other side is empty."""
    if minor >= 0:
        return [exact_amount(minor, unit), "", minor, ""]
    return ["", exact_amount(-minor, unit), "", -minor]


# Which segments of an account's path are a provider's and a holder's id.
_PARTIES = {"isf": (2, 1), "holder": (None, 1), "provider": (1, None)}


@lru_cache(maxsize=4096)
def account_parties(account: str) -> tuple[str, str]:
    """(provider, holder) ids an account belongs to, '' where none: `isf:H1:SH` ->
    ('SH', 'H1'); `holder:H1:dp` -> ('', 'H1'); `provider:SH:income` -> ('SH', '');
    `pool:L1:H2` -> ('', 'H2'); `fund:F:award:H3` -> ('', 'H3'); others ('', '')."""
    parts = account.split(":")
    if parts[0] == "pool" and len(parts) == 3 and parts[2] != "common":
        return "", parts[2]
    if parts[0] == "fund" and len(parts) == 4 and parts[2] == "award":
        return "", parts[3]
    where = _PARTIES.get(parts[0])
    if where is None or len(parts) < 2:
        return "", ""
    provider, holder = where
    return ((parts[provider] if provider is not None and len(parts) > provider else ""),
            (parts[holder] if holder is not None and len(parts) > holder else ""))


def parties_of(accounts: list[str]) -> tuple[str, str]:
    """The providers and the holders of some accounts, each space-separated, sorted and
    once."""
    found = [account_parties(account) for account in accounts]
    return (" ".join(sorted({p for p, _ in found if p})),
            " ".join(sorted({h for _, h in found if h})))


@lru_cache(maxsize=4096)
def description(kind: str, account: str) -> str:
    """What a GL row is, from ids and the journal type only, never a name: the journal
    type, the kind of account and its parties' ids. An account outside the ledger
    (`external:{X}`, whose X may be a person's name) is only `external`."""
    head = account.split(":", 1)[0]
    if head == "council":
        return " ".join([kind, *account.split(":")])
    if head == "external":
        return f"{kind} external"
    provider, holder = account_parties(account)
    words = [kind, head]
    if head in ("pool", "fund"):
        words.append(account.split(":")[1])
    if holder:
        words += ["holder", holder]
    if provider:
        words += ["provider", provider]
    return " ".join(words)


@dataclass
class PaymentTotals:
    """The count of a payments export's rows, and its payments and recoveries in pence
    (both positive): what its TOTAL line or its control file says."""

    rows: int = 0
    payments: int = 0
    recoveries: int = 0

    def add(self, paid: int) -> None:
        self.rows += 1
        if paid > 0:
            self.payments += paid
        else:
            self.recoveries -= paid

    @property
    def net(self) -> int:
        return self.payments - self.recoveries


_RISKY = ("=", "+", "-", "@", "\t", "\r")
_SKIPPED = " '\""  # leading spaces and quotes, looked past by the formula guard


def safe(value: str) -> str:
    """A text cell a spreadsheet will show, never run: one whose first character, after
    any leading spaces and quotes (which a spreadsheet may skip), is `=`, `+`, `-`, `@`,
    a tab or a carriage return gets a leading `'` (docs/exports.md#csv)."""
    return "'" + value if value.lstrip(_SKIPPED).startswith(_RISKY) else value
