"""Easy read says each money figure as a line of a sum the reader can check
(docs/statements.md#easy-read-sums): the start, what went in and out, the end, and the
end named by its date, never "now"."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ledger.reports.holder_doc import holder_document
from ledger.reports.pool_doc import numbered_members_easy

POUNDS = re.compile(r"£([\d,]+)\.(\d\d)")
# How each easy-read line of an ISF's money counts in its sum (+1, -1), or the end (0).
ISF_LINES = [
    (re.compile(r"^You had £\S+ at the start\.$"), 1),
    (re.compile(r"^The fund was £\S+ short at the start\.$"), -1),
    (re.compile(r"^£\S+ was paid in\.$"), 1),
    (re.compile(r"^Your support cost £\S+\.$"), -1),
    (re.compile(r"^The fee was £\S+\.$"), -1),
    (re.compile(r"^Other things you chose cost £\S+\.$"), -1),
    (re.compile(r"^£\S+ went back to the council\.$"), -1),
    (re.compile(r"^Corrections added £\S+\.$"), 1),
    (re.compile(r"^Corrections took away £\S+\.$"), -1),
]
END = [(re.compile(r"^There is £\S+ left at the end of June 2026\.$"), 1),
       (re.compile(r"^The fund is £\S+ short at the end of June 2026\.$"), -1)]


def _pence(line: str) -> int:
    (match,) = POUNDS.findall(line)
    return int(match[0].replace(",", "")) * 100 + int(match[1])


def _statement(money: dict) -> dict:
    return {
        "holder": "H1", "name": "Ann", "from": "2026-06-01", "to": "2026-06-30",
        "accounts": [], "lines": [], "provider_names": {"SH": "Support Horizons"},
        "isf_months": [{
            "account": "isf:H1:SH", "provider": "SH", "hours_per_month_minutes": 600,
            "rate_pence_per_hour": 2000, "expire_after_months": 1, "max_carry_minutes": 0,
            "closed": None, "advances": [], "expired_lots": [],
            "hours_minutes": {"opening": 0, "in": 600, "delivered": 600, "expired": 0,
                              "other": 0, "closing": 0},
            "money_minor": money, "carry_over_minutes": 0, "carry_over_worth_minor": 0,
            "borrowed_minutes": 0, "next_month": "2026-07"}],
    }


amount = st.integers(0, 500_000)


@given(opening=st.integers(-200_000, 200_000), paid_in=amount, delivered=amount,
       fees=amount, purchases=amount, returned=amount, other=st.integers(-50_000, 50_000))
def test_every_easy_read_isf_sum_adds_up_as_printed(opening, paid_in, delivered, fees,
                                                   purchases, returned, other):
    closing = opening + paid_in - delivered - fees - purchases - returned + other
    money = {"opening": opening, "in": paid_in, "delivered": delivered, "fees": fees,
             "purchases": purchases, "returned": returned, "other": other,
             "closing": closing}
    doc = holder_document(_statement(money))
    (section,) = doc.sections
    total, end = 0, None
    for line in section.easy:
        if "£" not in line or "hour" in line:
            continue
        sign = next((s for pattern, s in ISF_LINES if pattern.match(line)), None)
        if sign is not None:
            total += sign * _pence(line)
            continue
        end_sign = next((s for pattern, s in END if pattern.match(line)), None)
        assert end_sign is not None, f"a money line outside the sum: {line!r}"
        end = end_sign * _pence(line)
    assert end == total == closing
    assert not any("now" in line.split() for line in section.easy)


def test_a_direct_payment_account_says_its_start_and_its_end_by_date():
    statement = _statement({})
    statement["isf_months"] = []
    statement["accounts"] = [{"account": "holder:H1:dp", "unit": "GBP",
                              "opening_minor": 7475, "in_minor": 71500,
                              "out_minor": 69000, "closing_minor": 9975}]
    easy = holder_document(statement).sections[0].easy
    assert easy[:4] == ["You had £74.75 at the start.", "£715.00 was paid in.",
                        "£690.00 was paid out.", "You have £99.75 at the end of June 2026."]


def test_members_are_numbered_only_as_the_statement_lists_them():
    assert numbered_members_easy(["Sunflower", "Member 3", "Ann"]) == [
        "Member 3 has a number, not a name.", "The number follows the order members joined."]
    assert numbered_members_easy(["Sunflower", "Ann"]) == []
    lines = numbered_members_easy(["Member 1", "Member 4"])
    assert lines[0] == "Member 1 and Member 4 have numbers, not names."
    assert not any("Member 2" in line for line in lines)


def test_the_easy_read_explains_the_words_it_uses_and_only_those():
    from ledger.reports.document import EASY_READ_MAX_WORDS, render_easy_text, render_text
    from ledger.reports.html import render_html

    statement = _statement({})
    statement["isf_months"] = []
    statement["accounts"] = [{"account": "holder:H1:dp", "unit": "GBP", "opening_minor": 0,
                              "in_minor": 1000, "out_minor": 900, "closing_minor": 100}]
    statement["lines"] = [{"date": "2026-06-03", "account": "holder:H1:dp", "unit": "GBP",
                           "type": "dp_spend", "description": "Paid to PA-JO",
                           "amount_minor": -900}]
    doc = holder_document(statement)
    easy = render_easy_text(doc)
    box = easy.split("Words we use\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split(":")[0] for line in box] == ["Direct payment", "PA"]
    assert all(len(line.split()) <= EASY_READ_MAX_WORDS for line in box)
    html = render_html(doc, "easy_read")
    assert "<dt>Direct payment</dt>" in html and "<dt>PA</dt>" in html
    assert "<dt>Pool</dt>" not in html and "<dt>ISF</dt>" not in html
    assert "Words we use" not in render_text(doc)
    assert "Words we use" not in render_html(doc, "standard")


def test_an_isf_is_named_so_the_box_can_explain_it():
    money = {"opening": 0, "in": 1000, "delivered": 1000, "fees": 0, "purchases": 0,
             "returned": 0, "other": 0, "closing": 0}
    doc = holder_document(_statement(money))
    assert "This money is called an ISF." in doc.sections[0].easy
    assert [word for word, _ in doc.words_we_use()] == ["ISF"]


POOL_LINES = [
    (re.compile(r"^Your share had £\S+ at the start\.$"), 1),
    (re.compile(r"^Your share had £\S+ short at the start\.$"), -1),
    (re.compile(r"^You put in £\S+\.$"), 1),
    (re.compile(r"^You got £\S+ from the group's money\.$"), 1),
    (re.compile(r"^Your part of the costs was £\S+\.$"), -1),
    (re.compile(r"^You got £\S+ back\.$"), -1),
    (re.compile(r"^Corrections £\S+ added\.$"), 1),
    (re.compile(r"^Corrections £\S+ taken off\.$"), -1),
]
POOL_END = [(re.compile(r"^Your share is £\S+ at the end of June 2026\.$"), 1),
            (re.compile(r"^Your share is £\S+ short at the end of June 2026\.$"), -1)]


@given(opening=st.integers(-100_000, 100_000), contributed=amount, received=amount,
       charged=amount, refunded=amount, corrections=st.integers(-50_000, 50_000))
def test_every_easy_read_pool_share_sum_adds_up_as_printed(opening, contributed, received,
                                                          charged, refunded, corrections):
    from ledger.reports.pool_doc import own_share_easy

    closing = opening + contributed + received - charged - refunded + corrections
    row = {"opening_minor": opening, "contributed_minor": contributed,
           "received_minor": received, "charged_minor": charged,
           "refunded_minor": refunded, "corrections_minor": corrections,
           "closing_minor": closing}
    total, end = 0, None
    for line in own_share_easy(row, "at the end of June 2026"):
        sign = next((s for pattern, s in POOL_LINES if pattern.match(line)), None)
        if sign is not None:
            total += sign * _pence(line)
            continue
        end_sign = next((s for pattern, s in POOL_END if pattern.match(line)), None)
        assert end_sign is not None, f"a money line outside the sum: {line!r}"
        end = end_sign * _pence(line)
    assert end == total == closing
