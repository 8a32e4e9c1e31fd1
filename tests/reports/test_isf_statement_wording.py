"""What a person's ISF statement says where figures could be misread (issue 20):
an inside fee, the reason hours expired, and pennies between hours' worth and money."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from ledger.cli import cli

HEAD = """\
format: 1
name: wording
parties:
  councils:  [{id: WBC, name: Wokingham Borough Council}]
  providers: [{id: SH, name: Support Horizons CIC}]
  holders:   [{id: H1, name: Ann Example, council: WBC}]
events:
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _ledger(tmp_path, db: str, events: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(events), "  "))
    done = invoke("scenario", "run", str(path), db=db)
    assert done.exit_code == 0, done.output


def _words(db: str, *extra: str, month: str = "2026-06") -> str:
    done = invoke("statement", "holder", "H1", "--month", month, *extra, db=db)
    assert done.exit_code == 0, done.output
    return " ".join(done.output.split())


INSIDE_FEE = """\
- {date: 2026-06-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 60,
   rate: "21.50", carry: {expire_after_months: 1, max_hours: 10},
   fee: {kind: percent, value: 8, basis: inside}}
- {date: 2026-06-01, type: isf_advance, holder: H1, provider: SH, month: 2026-06}
- {date: 2026-06-10, type: isf_delivery, holder: H1, provider: SH, hours: 30}
- {date: 2026-06-20, type: isf_delivery, holder: H1, provider: SH, hours: "25.2"}
- {date: 2026-06-30, type: isf_reconcile, holder: H1, provider: SH, month: 2026-06}
"""


def test_an_inside_fee_is_said_as_budget_fee_and_the_hours_it_leaves(tmp_path, db_url):
    # 60 h x £21.50 = £1,290.00; 8% of it is £103.20; £1,186.80 buys 3312 whole minutes
    # at 2150p an hour (118680 x 60 / 2150 = 3312.0): 55 hours 12 minutes, all used.
    _ledger(tmp_path, db_url, INSIDE_FEE)
    words = _words(db_url)
    assert "short" not in words and "more than the money" not in words
    assert "The fund holds £0.00 at the end." in words
    assert ("Your budget for June 2026 was £1,290.00 (60 hours at £21.50 an hour)."
            in words)
    assert "Support Horizons CIC's fee of 8%, £103.20, comes out of it." in words
    assert ("The £1,186.80 left buys 55 hours 12 minutes of support at £21.50 an hour."
            in words)
    easy = _words(db_url, "--easy-read")
    assert "You get 60 hours" not in easy
    for line in ("Your budget was £1,290.00.", "The fee was £103.20.",
                 "£1,186.80 is left for your support.", "That buys 55 hours 12 minutes."):
        assert line in easy
    data = json.loads(invoke("statement", "holder", "H1", "--month", "2026-06",
                             "--format", "json", db=db_url).output)
    (advance,) = data["isf_months"][0]["advances"]
    assert advance == {"month": "2026-06", "budget_minor": 129000, "fee_minor": 10320,
                       "fee_basis": "inside", "fee_kind": "percent", "fee_value": "8",
                       "minutes": 3312}


def test_an_on_top_fee_keeps_the_agreed_hours_wording(tmp_path, db_url):
    _ledger(tmp_path, db_url, INSIDE_FEE.replace("basis: inside", "basis: on_top")
            .replace('hours: "25.2"', "hours: 30"))
    words = _words(db_url)
    assert "You agreed 60 hours of support a month, at £21.50 an hour." in words
    assert "comes out of it" not in words
    assert "You get 60 hours of support a month." in _words(db_url, "--easy-read")


def _expiring(carry: str, used: str = "2", july: bool = False) -> str:
    events = f"""\
- {{date: 2026-06-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
   rate: "20.00", carry: {carry}}}
- {{date: 2026-06-01, type: isf_advance, holder: H1, provider: SH, month: 2026-06}}
- {{date: 2026-06-10, type: isf_delivery, holder: H1, provider: SH, hours: {used}}}
- {{date: 2026-06-30, type: isf_reconcile, holder: H1, provider: SH, month: 2026-06}}
"""
    if july:
        events += """\
- {date: 2026-07-01, type: isf_advance, holder: H1, provider: SH, month: 2026-07}
- {date: 2026-07-31, type: isf_reconcile, holder: H1, provider: SH, month: 2026-07}
"""
    return events


@pytest.mark.parametrize("carry", ["{expire_after_months: 0}",
                                   "{expire_after_months: 1, max_hours: 0}"])
def test_hours_lost_because_nothing_carries_over_are_not_called_too_old(
        tmp_path, db_url, carry):
    # 10 hours granted, 2 used: the other 8 expire at June's end, whichever rule says so.
    _ledger(tmp_path, db_url, _expiring(carry))
    words = _words(db_url)
    assert "too old" not in words and " old" not in words
    assert ("8 hours expired and went back to the council: 8 hours because this ISF "
            "carries nothing over to the next month." in words)
    easy = _words(db_url, "--easy-read")
    assert "8 hours ran out. This fund does not keep hours for next month." in easy


def test_hours_over_the_carry_cap_say_the_cap(tmp_path, db_url):
    _ledger(tmp_path, db_url, _expiring("{expire_after_months: 1, max_hours: 5}"))
    words = _words(db_url)
    assert "too old" not in words and " old" not in words
    assert ("3 hours because they were more than the 5 hours this ISF may carry over."
            in words)
    assert "You can keep at most 5 hours for next month." in _words(db_url, "--easy-read")


def test_only_hours_that_aged_out_are_too_old(tmp_path, db_url):
    # June leaves 8 hours (under the cap of 20); July's reconciliation ends them by age.
    _ledger(tmp_path, db_url, _expiring("{expire_after_months: 1, max_hours: 20}",
                                        july=True))
    words = _words(db_url, month="2026-07")
    assert "8 hours because they were more than 1 month old." in words
    assert "They were too old to use." in _words(db_url, "--easy-read", month="2026-07")


def test_pennies_between_the_hours_worth_and_the_money_are_explained(tmp_path, db_url):
    # 10 h at £21.50 = £215.00. Two visits of 15 minutes are £5.375 each, rounded to
    # £5.38 on their own: the fund holds £204.24, while the 9 h 30 min left are worth
    # 570 x 2150 / 60 = £204.25, rounded once.
    _ledger(tmp_path, db_url, """\
- {date: 2026-06-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
   rate: "21.50", carry: {expire_after_months: 1, max_hours: 20}}
- {date: 2026-06-01, type: isf_advance, holder: H1, provider: SH, month: 2026-06}
- {date: 2026-06-10, type: isf_delivery, holder: H1, provider: SH, hours: "0.25"}
- {date: 2026-06-11, type: isf_delivery, holder: H1, provider: SH, hours: "0.25"}
""")
    words = _words(db_url)
    assert "worth £204.25" in words and "The fund holds £204.24 at the end." in words
    assert ("The 1p difference between what the hours left are worth and what the fund "
            "holds is rounding: each visit is valued and rounded to the penny on its own."
            in words)


def test_no_rounding_sentence_when_the_figures_agree(tmp_path, db_url):
    _ledger(tmp_path, db_url, _expiring("{expire_after_months: 1, max_hours: 20}"))
    words = _words(db_url)
    assert "worth £160.00" in words and "The fund holds £160.00 at the end." in words
    assert "rounding" not in words


def test_each_shared_cost_says_who_was_paid_and_what_for(db_url):
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "pool-shared-pa.yaml"
    assert invoke("scenario", "run", str(scenario), db=db_url).exit_code == 0
    data = json.loads(invoke("statement", "holder", "H1", "--month", "2026-04", "--format",
                             "json", db=db_url).output)
    spends = [line["description"] for line in data["lines"] if line["type"] == "pool_spend"]
    assert spends[0] == ("Your part of a shared cost: PA Jo Example, for shared PA, "
                         "week 1 (12 hours)")
    assert not any("pool OUTABOUT" in text for text in spends)
