"""docs/scenarios.md#numbers (units, parsing, formatting, rounding, splitting) and the core
journal check that every journal balances in each unit separately."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.amounts import (
    Unit,
    format_amount,
    format_minutes,
    format_pence,
    largest_remainder,
    parse_amount,
    parse_minutes,
    parse_pence,
    parse_rate,
    pence_for_minutes,
    percent_of,
    round_half_away,
)
from ledger.core.journal import Journal, Posting, check_journal, transfer
from ledger.errors import LedgerError

GBP, HRS = Unit.GBP, Unit.HRS


def _code(fn, *args) -> str:
    with pytest.raises(LedgerError) as caught:
        fn(*args)
    return caught.value.code


# ---------------------------------------------------------------- GBP


@pytest.mark.parametrize(
    ("written", "pence"),
    [
        ("1234.50", 123450),
        ("-0.07", -7),
        ("0.07", 7),
        ("780.00", 78000),
        ("19.5", 1950),
        ("12", 1200),
        (" 12.10 ", 1210),
        (12, 1200),
        (0, 0),
        (Decimal("12.10"), 1210),
        (12.5, 1250),  # a YAML number: read from the text the person wrote
        (0.1, 10),
        (19.99, 1999),
    ],
)
def test_gbp_input_accepts_numbers_and_strings_exactly(written, pence):
    assert parse_pence(written) == pence
    assert parse_amount(written, GBP) == pence


@pytest.mark.parametrize("written", ["1.234", "-0.001", "0.005", 1.234, Decimal("10.999")])
def test_gbp_input_with_more_than_two_decimal_places_is_invalid(written):
    assert _code(parse_pence, written) == "invalid"
    assert _code(parse_amount, written, GBP) == "invalid"


@pytest.mark.parametrize("written", ["", "abc", "1,000.00", "£5", "NaN", "Infinity", True,
                                     None, [1], float("inf")])
def test_gbp_input_that_is_not_a_number_is_invalid(written):
    assert _code(parse_pence, written) == "invalid"


@pytest.mark.parametrize(
    ("pence", "written"),
    [(123450, "1234.50"), (-7, "-0.07"), (7, "0.07"), (0, "0.00"), (78000, "780.00"),
     (-78000, "-780.00"), (5, "0.05"), (100, "1.00"), (-123456789, "-1234567.89")],
)
def test_gbp_output_has_exactly_two_decimal_places(pence, written):
    assert format_pence(pence) == written
    assert format_amount(pence, GBP) == written


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_gbp_format_then_parse_round_trips_every_pence_value(pence):
    text = format_pence(pence)
    assert parse_pence(text) == pence
    whole, _, part = text.lstrip("-").partition(".")
    assert len(part) == 2 and whole.isdigit()


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False,
                   allow_infinity=False))
def test_gbp_parse_then_format_round_trips_any_two_place_decimal(value):
    pence = parse_pence(str(value))
    assert Fraction(pence, 100) == Fraction(value)
    assert Decimal(format_pence(pence)) == value


# ---------------------------------------------------------------- HRS


@pytest.mark.parametrize(
    ("written", "minutes"),
    [("12.5", 750), ("0.25", 15), ("-3", -180), ("40", 2400), (40, 2400), (7.5, 450),
     ("0.05", 3), ("1.5", 90), (Decimal("2.75"), 165), ("0", 0), ("-0.25", -15)],
)
def test_hrs_input_is_decimal_hours_stored_as_whole_minutes(written, minutes):
    assert parse_minutes(written) == minutes
    assert parse_amount(written, HRS) == minutes


@pytest.mark.parametrize("written", ["1.33", 1.33, "0.01", "0.1234", "-1.33", "abc", True])
def test_hrs_input_that_is_not_a_whole_number_of_minutes_is_invalid(written):
    # "1.33" hours is 79.8 minutes
    assert _code(parse_minutes, written) == "invalid"
    assert _code(parse_amount, written, HRS) == "invalid"


@pytest.mark.parametrize(
    ("minutes", "written"),
    [(750, "12.5"), (15, "0.25"), (-180, "-3"), (2400, "40"), (90, "1.5"), (0, "0"),
     (20, "0.33"), (40, "0.67"), (-20, "-0.33"), (-40, "-0.67"), (1, "0.02"), (-1, "-0.02"),
     (100, "1.67"), (45, "0.75"), (6, "0.1")],
)
def test_hrs_output_is_decimal_hours_rounded_to_two_places_where_minutes_do_not_divide(
        minutes, written):
    assert format_minutes(minutes) == written
    assert format_amount(minutes, HRS) == written


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_hrs_output_is_within_half_a_hundredth_of_an_hour_and_exact_when_it_can_be(minutes):
    text = format_minutes(minutes)
    exact = Fraction(minutes, 60)
    shown = Fraction(Decimal(text))
    assert abs(shown - exact) <= Fraction(1, 200)
    if (minutes * 100) % 60 == 0:  # minutes that divide evenly are shown exactly
        assert shown == exact
        assert parse_minutes(text) == minutes
    _, _, places = text.partition(".")
    assert len(places) <= 2
    assert not places.endswith("0")


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_hrs_parse_of_exact_decimal_hours_round_trips_minutes(minutes):
    # Decimal hours that are a whole number of minutes are always accepted, exactly.
    exact = Decimal(minutes) / Decimal(60)
    if exact == exact.quantize(Decimal("0.0001")):
        assert parse_minutes(str(exact)) == minutes


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "rounded"),
    [(Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(3, 2), 2), (Fraction(-3, 2), -2),
     (Fraction(1, 2), 1), (Fraction(-1, 2), -1), (Fraction(7, 3), 2), (Fraction(-7, 3), -2),
     (Fraction(8, 3), 3), (Fraction(-8, 3), -3), (Fraction(0), 0), (Fraction(4), 4)],
)
def test_rounding_is_to_nearest_with_halves_away_from_zero(value, rounded):
    assert round_half_away(value) == rounded


@given(st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**12))
def test_rounding_is_within_half_and_symmetric_about_zero(value):
    got = round_half_away(value)
    assert abs(got - value) <= Fraction(1, 2)
    if abs(got - value) == Fraction(1, 2):  # a tie goes away from zero
        assert abs(got) > abs(value)
    assert round_half_away(-value) == -got


@pytest.mark.parametrize(
    ("minutes", "rate", "pence"),
    [
        (2400, 1950, 78000),  # 40 h at £19.50
        (1, 1950, 33),  # 32.5p rounds half away from zero
        (-1, 1950, -33),
        (30, 1, 1),  # half a penny
        (-30, 1, -1),
        (29, 1, 0),
        (20, 1000, 333),  # £3.333... rounds down
        (40, 1000, 667),  # £6.666... rounds up
        (150, 2000, 5000),
    ],
)
def test_money_for_hours_is_exact_then_rounded_once_half_away_from_zero(minutes, rate, pence):
    assert pence_for_minutes(minutes, rate) == pence


@pytest.mark.parametrize(
    ("pence", "percent", "fee"),
    [
        (78000, "12.5", 9750),
        (5, "10", 1),  # 0.5p -> 1p
        (-5, "10", -1),  # -0.5p -> -1p
        (15, "10", 2),  # 1.5p -> 2p
        (-15, "10", -2),
        (10, "2.5", 0),  # 0.25p -> 0
        (30, "2.5", 1),  # 0.75p -> 1
        (12345, "7.5", 926),  # 925.875p
    ],
)
def test_percentage_fee_is_exact_then_rounded_once_half_away_from_zero(pence, percent, fee):
    assert percent_of(pence, parse_rate(percent)) == fee


@given(st.integers(min_value=-(10**7), max_value=10**7),
       st.integers(min_value=0, max_value=10**6))
def test_money_for_hours_is_the_nearest_penny(minutes, rate):
    got = pence_for_minutes(minutes, rate)
    exact = Fraction(minutes * rate, 60)
    assert abs(got - exact) <= Fraction(1, 2)
    assert pence_for_minutes(-minutes, rate) == -got


def test_rate_is_kept_exact_and_rejects_text_that_is_not_a_number():
    assert parse_rate("19.50") == Fraction(39, 2)
    assert parse_rate(12.5) == Fraction(25, 2)
    assert _code(parse_rate, "fast") == "invalid"


# ---------------------------------------------------------------- splitting


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # the tie goes to the party listed first
        (200, [1, 1, 1], [67, 67, 66]),
        (2, [1, 1, 1], [1, 1, 0]),
        (101, [1, 1, 1, 1], [26, 25, 25, 25]),
        (3001, [1, 1], [1501, 1500]),
        (1000, [1, 2], [333, 667]),  # larger remainder wins, not the first listed
        (1000, [2, 1], [667, 333]),
        (10, [3, 0, 7], [3, 0, 7]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (0, [1, 1], [0, 0]),
        (7, [5], [7]),
    ],
)
def test_largest_remainder_split(total, weights, parts):
    assert largest_remainder(total, weights) == parts


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [-1]])
def test_split_without_a_positive_weight_is_invalid(weights):
    assert _code(largest_remainder, 100, weights) == "invalid"


@given(st.integers(min_value=-(10**12), max_value=10**12),
       st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30)
       .filter(lambda ws: sum(ws) > 0))
def test_split_parts_add_up_and_none_is_a_penny_or_more_from_its_exact_share(total, weights):
    parts = largest_remainder(total, weights)
    weight_sum = sum(weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(Fraction(part) - Fraction(total * weight, weight_sum)) < 1
        if weight == 0:
            assert part == 0


@given(st.integers(min_value=-(10**12), max_value=10**12),
       st.integers(min_value=1, max_value=40))
def test_equal_split_gives_the_odd_pennies_to_the_parties_listed_first(total, n):
    parts = largest_remainder(total, [1] * n)
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    magnitudes = [abs(p) for p in parts]
    assert magnitudes == sorted(magnitudes, reverse=True)


@given(st.integers(min_value=0, max_value=10**9),
       st.lists(st.integers(min_value=1, max_value=1000), min_size=2, max_size=10))
def test_split_ties_in_remainder_go_to_the_first_listed(total, weights):
    parts = largest_remainder(total, weights)
    weight_sum = sum(weights)
    remainders = [Fraction(total * w, weight_sum) - (total * w // weight_sum) for w in weights]
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            if remainders[i] == remainders[j]:
                got_i = parts[i] - total * weights[i] // weight_sum
                got_j = parts[j] - total * weights[j] // weight_sum
                assert got_i >= got_j  # the earlier one is never passed over for a later one


# ---------------------------------------------------------------- journals

D = dt.date(2026, 4, 1)


def _journal(*postings: Posting) -> Journal:
    return Journal("k1", "test", D, tuple(postings), "e1")


def test_balanced_journal_in_both_units_is_accepted():
    check_journal(_journal(
        *transfer("council:WBC:funding", "isf:H1:SH", GBP, 78000),
        *transfer("council:WBC:hours", "isf:H1:SH", HRS, 2400),
    ))


def test_journal_that_does_not_sum_to_zero_is_unbalanced():
    journal = _journal(Posting("council:WBC:funding", GBP, -100),
                       Posting("holder:H1:dp", GBP, 99))
    assert _code(check_journal, journal) == "unbalanced"


def test_journal_balanced_in_gbp_but_not_in_hrs_is_unbalanced():
    journal = _journal(
        *transfer("council:WBC:funding", "isf:H1:SH", GBP, 78000),
        Posting("council:WBC:hours", HRS, -2400),
        Posting("isf:H1:SH", HRS, 2399),
    )
    with pytest.raises(LedgerError) as caught:
        check_journal(journal)
    assert caught.value.code == "unbalanced"
    assert "HRS" in str(caught.value)


def test_journal_must_balance_per_unit_not_across_units():
    # +100 pence and -100 minutes add up to zero only if units are mixed: refused.
    journal = _journal(Posting("isf:H1:SH", GBP, 100), Posting("isf:H1:SH", HRS, -100))
    assert _code(check_journal, journal) == "unbalanced"


def test_journal_with_no_postings_or_a_zero_posting_is_invalid():
    assert _code(check_journal, _journal()) == "invalid"
    zero = _journal(Posting("council:WBC:funding", GBP, 0), Posting("holder:H1:dp", GBP, 0))
    assert _code(check_journal, zero) == "invalid"


@pytest.mark.parametrize("text", ["1e20", "10000000000000.01", "1e99999999", "1e-99999999"])
def test_amounts_beyond_the_limit_are_invalid_not_slow_or_overflowing(text):
    for parse in (parse_pence, parse_minutes):
        with pytest.raises(LedgerError) as err:
            parse(text)
        assert err.value.code == "invalid"


# ---------------------------------------------------------------- as written
# docs/rules-trust.md#reading: ASCII digits, one optional point, nothing else.


@pytest.mark.parametrize("written", [
    "١٠٠", "१००", "１００", "100.000", Decimal("100.000"), Decimal("12.340"), "1e2", "1E2",
    "1.5e1", "1_000", "1 000", "£5", "5£", "GBP5", "$5", "0x10", "+-5", "5-", "..5", "",
    " ", ".", "-", "\n12", "12\n", "\t12", "12\x00", "NaN", "inf", Decimal("NaN"),
    Decimal("Infinity"), Decimal("1E+999999999"), float("nan"), 1e20, "7:30",
])
def test_gbp_input_other_than_plain_ascii_decimal_text_is_invalid(written):
    assert _code(parse_pence, written) == "invalid"


@pytest.mark.parametrize(("written", "pence"), [
    ("+12", 1200), ("12.", 1200), (".5", 50), ("0100", 10000), (Decimal("12.1"), 1210),
    (Decimal("100.00"), 10000), ("  7.07 ", 707), (Decimal("1E+2"), 10000),
])
def test_gbp_input_in_plain_decimal_text_is_read_exactly(written, pence):
    assert parse_pence(written) == pence


@pytest.mark.parametrize(("written", "minutes"), [
    ("7:30", 450), ("0:20", 20), ("0:00", 0), ("10:05", 605), ("-1:30", -90),
    ("007:59", 479), ("7.5", 450), (" 7:30 ", 450),
])
def test_hrs_input_may_be_written_h_mm(written, minutes):
    assert parse_minutes(written) == minutes
    assert parse_amount(written, HRS) == minutes


@pytest.mark.parametrize("written", [
    "7:60", "7:5", "7:300", ":30", "7:", "7:30:00", "1:2:3", "7.5:00", "٧:٣٠", "7：30",
    "7 :30", "1e1", "7,5", "0x1", "1_0",
])
def test_hrs_input_that_is_neither_decimal_hours_nor_h_mm_is_invalid(written):
    assert _code(parse_minutes, written) == "invalid"


@pytest.mark.parametrize("written", ["١٢.٥", "1e1", "12.5e0", "1_2", "12,5", "½", "⁵", "12%",
                                     Decimal("NaN"), "0." + "0" * 100 + "1"])
def test_rates_percents_and_weeks_refuse_what_amounts_refuse(written):
    assert _code(parse_rate, written) == "invalid"


def test_every_digit_python_reads_as_a_number_is_refused_unless_it_is_ascii():
    import unicodedata

    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) == "Nd" and not "0" <= char <= "9":
            assert _code(parse_pence, char) == "invalid", hex(code)
            assert _code(parse_rate, char) == "invalid", hex(code)


def test_a_journal_key_longer_than_its_column_is_invalid_not_a_database_error():
    ok = Journal("k" * 300, "test", D, tuple(transfer("a:b", "c:d", GBP, 1)), "e1")
    check_journal(ok)
    long = Journal("k" * 301, "test", D, tuple(transfer("a:b", "c:d", GBP, 1)), "e1")
    assert _code(check_journal, long) == "invalid"


@pytest.mark.parametrize("path", ["external:a\x00b", "external:a\nb", "external:a\u202eb",
                                  "external:" + "x" * 200])
def test_an_account_with_a_control_character_or_too_long_is_invalid(path):
    from ledger.core.journal import check_account

    assert _code(check_account, path) == "invalid"


@pytest.mark.parametrize("value", ["H1\n", "H1\r", "\nH1", "H 1", "h1", "H1\x00"])
def test_a_party_id_with_a_line_break_or_anything_else_is_invalid(value):
    from ledger.core.journal import check_party_id

    assert _code(check_party_id, value) == "invalid"


def test_an_account_is_refused_every_time_and_a_good_one_never_lets_a_bad_one_through():
    # check_account remembers the paths it accepted (a replay names the same accounts
    # thousands of times); what it refused it must refuse again, every time.
    from ledger.core.journal import check_account

    assert check_account("external:Corner Shop") == "external:Corner Shop"
    assert check_account("external:Corner Shop") == "external:Corner Shop"
    for _ in range(2):
        assert _code(check_account, "external:Corner Shop\n") == "invalid"
        assert _code(check_account, "external:Corner Shop:") == "invalid"


def test_a_journal_changed_with_replace_has_the_hash_of_what_it_now_posts():
    # The payload hash is kept once worked out; a journal made from another with
    # dataclasses.replace must not inherit the other's hash.
    import dataclasses

    from ledger.core.journal import payload_hash_of

    one = Journal("k", "test", D, tuple(transfer("a:b", "c:d", GBP, 1)), "e1")
    first = one.payload_hash()
    assert one.payload_hash() == first == payload_hash_of(
        "test", D.isoformat(), None, None, [["a:b", "GBP", -1], ["c:d", "GBP", 1]])
    two = dataclasses.replace(one, postings=tuple(transfer("a:b", "c:d", GBP, 2)))
    assert two.payload_hash() != first
    assert two.payload_hash() == payload_hash_of(
        "test", D.isoformat(), None, None, [["a:b", "GBP", -2], ["c:d", "GBP", 2]])
    assert dataclasses.replace(one, event_key="e2").payload_hash() == first
