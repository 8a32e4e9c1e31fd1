"""A user's mistake is never a crash. Events with wrong, missing, misspelt or oddly typed
fields are refused with a contract error code (and leave no trace), whatever the
instrument; scenario files that are not scenarios are a usage error (exit 2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.domain.base import HANDLERS
from ledger.errors import CODES, UsageError
from ledger.scenarios.schema import load_scenario
from ledger.store.memory import MemoryBackend

PARTIES = [
    {"kind": "council", "id": "C1", "name": "Council"},
    {"kind": "provider", "id": "P1", "name": "Provider"},
    {"kind": "holder", "id": "H1", "name": "Holder", "council": "C1"},
    {"kind": "holder", "id": "H2", "name": "Holder", "council": "C1"},
]
FIELDS = sorted({name for model, _ in HANDLERS.values() for name in model.model_fields}
                - {"date", "type", "id", "expect_error"})
values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.sampled_from(["H1", "H2", "C1", "P1", "L1", "F1", "X", "", "1.5", "-3", "2026-04",
                     "2026-13", "abc", "equal", "ratio", "monthly", "weekly", "percent",
                     "inside", "on_top", "return"]),
    st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)),
    st.lists(st.sampled_from(["H1", "H2", "H9"]), max_size=3),
    st.dictionaries(st.sampled_from(["H1", "H2", "GBP", "HRS", "service", "rate", "from",
                                     "kind", "value", "basis", "max_hours"]),
                    st.one_of(st.integers(-5, 500), st.sampled_from(["1", "x", "2026-04-01"])),
                    max_size=3),
)
amounts = st.sampled_from(["10.00", "0.01", "250", "99999.99", "0", "-5", "1.005", 12,
                           "x", None])
LIKELY = {  # values that usually pass the schema, so the handlers' own rules are reached
    "holder": st.sampled_from(["H1", "H2", "H9", "h1"]),
    "provider": st.sampled_from(["P1", "P9"]),
    "council": st.sampled_from(["C1", "C9"]),
    "pool": st.sampled_from(["L1", "L2"]), "fund": st.sampled_from(["F1", "F2"]),
    "framework": st.sampled_from(["FW"]), "contract": st.sampled_from(["B1"]),
    "payee": st.sampled_from(["PA", "SHOP", "a:b", ""]), "payer": st.just("FAIR"),
    "amount": amounts, "total": amounts, "cap_per_person": amounts, "weekly_amount": amounts,
    "contingency": amounts, "amount_per_month": amounts, "rate": amounts,
    "hours": st.sampled_from(["1", "0.25", "1.33", "-2", "40", 0]),
    "hours_per_month": st.sampled_from(["40", "0", "7.5"]),
    "capacity_hours_per_month": st.sampled_from(["100", "0"]),
    "max_weeks": st.sampled_from([8, 0, -1, "4.5"]),
    "month": st.sampled_from(["2026-04", "2026-05", "2026-13", "2025-12"]),
    "members": st.lists(st.sampled_from(["H1", "H2", "H9"]), max_size=3),
    "holders": st.lists(st.sampled_from(["H1", "H2", "H9"]), max_size=3),
    "event": st.sampled_from(["e0", "e1", "e2", "nope"]),
    "every": st.sampled_from(["weekly", "four_weekly", "monthly", "daily"]),
    "split": st.sampled_from(["equal", "ratio", "odd"]),
    "weights": st.dictionaries(st.sampled_from(["H1", "H2"]), st.integers(-1, 3), max_size=2),
}


def _event_of(event_type: str):
    model, _ = HANDLERS[event_type]
    names = [n for n in model.model_fields if n not in ("date", "type", "id", "expect_error")]
    required = [n for n in names if model.model_fields[n].is_required()]
    optional = [n for n in names if n not in required]
    field = {n: LIKELY.get(n, values) for n in names}
    return st.fixed_dictionaries(
        {"date": st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
         "type": st.just(event_type), **{n: field[n] for n in required}},
        optional={n: field[n] for n in optional},
    )


events = st.one_of(
    st.sampled_from(sorted(HANDLERS)).flatmap(_event_of),
    # Anything at all in any field, to reach the schema's own refusals.
    st.fixed_dictionaries(
        {"date": st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
         "type": st.sampled_from(sorted(HANDLERS))},
    ).flatmap(lambda base: st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
              .map(lambda extra: {**extra, **base})),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=8))
def test_any_malformed_event_is_refused_with_a_code_never_a_crash(batch):
    backend = MemoryBackend()
    backend.add_parties(PARTIES)
    for n, raw in enumerate(batch):
        before = (list(backend.journals), dict(backend.states))
        try:
            apply_event(backend, raw, f"e{n}")
        except EventFailed as err:
            assert str(err).split(":")[0] in CODES, str(err)
            assert (backend.journals, backend.states) == before


@pytest.mark.parametrize("text", [
    "", "just text", "[1, 2]", "format: 2\nname: x", "format: 1", "format: 1\nname: x\n"
    "events: 5", "format: 1\nname: x\nevents: [5]", "format: 1\nname: x\nparties: {holders: "
    "[{id: h1, name: y, council: C}]}", "format: 1\nname: x\nbogus: 1", "{a: [}",
    "format: 1\nname: x\nparties: {holders: [{id: H1, name: y, council: C9}]}",
    "format: 1\nname: x\nevents:\n  - {date: 2026-04-01, type: expect}\n\t- bad",
    "format: 1\nname: x\na: &a [1, 2, 3]\nb: [*a, *a, *a]\n",  # aliases: a "billion laughs"
])
def test_a_file_that_is_not_a_scenario_is_one_usage_error(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_decimal_amounts_with_too_many_places_are_invalid():
    backend = MemoryBackend()
    backend.add_parties(PARTIES)
    with pytest.raises(EventFailed, match="^invalid:"):
        apply_event(backend, {"date": dt.date(2026, 4, 1), "type": "dp_payment",
                              "holder": "H1", "amount": Decimal("1.005")}, "e0")
