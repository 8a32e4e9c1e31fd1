"""The kinds of an Individual Service Fund's movements, written once
(docs/statements-provider-council.md#isf-kinds).

Every view of an ISF's month or period sorts the postings on `isf:{H}:{P}` into the same
totals: the provider's month report and the council's `isf-returns` export
(`isf_month.report`), a person's own statement (`holder_figures.isf_months`) and the
council's finance statement (`council_statement`). A posting counts under its journal
type's kind, as its size, when the type names a figure in that unit and the posting goes
the way that type usually moves (into the fund for `in`, out of it for the rest). Any
other posting (a reversal, a pool payment, a closing, a type of no kind, or one going
the unusual way) counts under `other`, with its sign, so that in every view

    hours: opening + in - delivered - expired + other = closing
    money: opening + in - delivered - fees - purchases - returned + other = closing

A closure return (`closure_return`: what a fund gives back when it closes) is `other`
in every view, as the month report has always put it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IsfKind:
    name: str  # the figure's key in a person's statement, and its word
    hours_key: str | None  # the month report's hours column (None: no hours move so)
    money_key: str | None  # the month report's money column (None: no money moves so)
    inflow: bool  # its usual direction is into the fund
    label: str  # how a document names it


IN = IsfKind("in", "hours_allocated_minutes", "money_in_minor", True, "paid in")
DELIVERED = IsfKind("delivered", "hours_delivered_minutes", "money_delivered_minor", False,
                    "support delivered")
EXPIRED = IsfKind("expired", "hours_expired_minutes", None, False, "expired")
FEES = IsfKind("fees", None, "money_fees_minor", False, "the provider's fees")
PURCHASES = IsfKind("purchases", None, "money_purchases_minor", False,
                    "purchases from others")
RETURNED = IsfKind("returned", None, "money_returned_minor", False,
                   "returned to the council")
OTHER = IsfKind("other", "hours_other_minutes", "money_other_minor", True,
                "corrections, pool payments or the fund's closing")
KINDS = (IN, DELIVERED, EXPIRED, FEES, PURCHASES, RETURNED, OTHER)

# Journal type -> its kind. A type not listed is `other`.
BY_JOURNAL_TYPE = {
    "isf_advance": IN,
    "isf_delivery": DELIVERED,
    "isf_hours_expiry": EXPIRED,
    "isf_fee": FEES,
    "isf_purchase": PURCHASES,
    "isf_underspend_return": RETURNED,
    "closure_return": OTHER,
}


def kind_of(journal_type: str, hours: bool, amount: int) -> IsfKind:
    """The kind a posting of `amount` (signed, on the ISF's account) counts under."""
    kind = BY_JOURNAL_TYPE.get(journal_type, OTHER)
    key = kind.hours_key if hours else kind.money_key
    if key is None or (amount < 0 if kind.inflow else amount > 0):
        return OTHER
    return kind


def counted(kind: IsfKind, amount: int) -> int:
    """What a posting adds to its kind's figure: its size, or for `other` its sign too."""
    return amount if kind is OTHER else abs(amount)


def key_of(journal_type: str, hours: bool, amount: int) -> tuple[str, int]:
    """(month report key, what it adds) for one posting, or a group of postings of one
    sign, of `journal_type` on the ISF's account."""
    kind = kind_of(journal_type, hours, amount)
    key = kind.hours_key if hours else kind.money_key
    assert key is not None  # kind_of gives only a kind with a key in this unit
    return key, counted(kind, amount)


HOURS_NAMES = tuple(k.name for k in KINDS if k.hours_key)
MONEY_NAMES = tuple(k.name for k in KINDS if k.money_key)

__all__ = ["BY_JOURNAL_TYPE", "HOURS_NAMES", "KINDS", "MONEY_NAMES", "OTHER", "IsfKind",
           "counted", "key_of", "kind_of"]
