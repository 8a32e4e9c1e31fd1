"""`ledger export dp-monitoring` for people paid by one-off payments, with no schedule
(docs/exports.md#dp-monitoring): their weekly amount is what they were paid in the 52
weeks to `--as-of` (from their first payment, if later), over that period's weeks rounded
up to a whole week; a reversed payment was not paid. They are no longer shown as holding
nothing but surplus. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import textwrap

from click.testing import CliRunner

from ledger.cli import cli

# As of Sunday 2026-06-28 the 52 weeks run from Monday 2025-06-30.
SCENARIO = """\
    format: 1
    name: one-off
    parties:
      councils: [{id: C1, name: Council}]
      holders:
        - {id: ANN, name: Ann, council: C1}
        - {id: BOB, name: Bob, council: C1}
        - {id: CAT, name: Cat, council: C1}
        - {id: DAN, name: Dan, council: C1}
    events:
      # Ann: 25 weeks from her first payment (2026-01-05 to 2026-06-28 is 175 days).
      - {date: 2026-01-05, type: dp_payment, holder: ANN, amount: "520.00"}
      - {date: 2026-03-30, type: dp_payment, holder: ANN, amount: "520.00"}
      # Bob: paid before the 52 weeks too; only the payment inside them counts.
      - {date: 2025-01-06, type: dp_payment, holder: BOB, amount: "1000.00"}
      - {date: 2026-05-04, type: dp_payment, holder: BOB, amount: "260.00"}
      # Cat: 15 days is 3 weeks, rounded up; £100 over 3 weeks is £33.33 and a third.
      - {date: 2026-06-14, type: dp_payment, holder: CAT, amount: "100.00"}
      - {date: 2026-06-14, id: cat-twice, type: dp_payment, holder: CAT, amount: "100.00"}
      - {date: 2026-06-15, type: reverse, event: cat-twice, reason: entered twice}
      # Dan: a schedule in force: his weekly amount is the schedule's, as before.
      - {date: 2026-06-01, id: dan-plan, type: dp_schedule, holder: DAN, amount: "70.00",
         every: weekly, start: 2026-06-01}
      - {date: 2026-06-01, type: run_payments, until: 2026-06-28}
      - {date: 2026-06-02, type: dp_payment, holder: DAN, amount: "500.00"}
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def test_a_person_paid_by_one_off_payments_has_a_weekly_amount(db_url, tmp_path):
    path = tmp_path / "one-off.yaml"
    path.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    done = invoke("scenario", "run", str(path), db=db_url)
    assert done.exit_code == 0, done.output
    done = invoke("export", "dp-monitoring", "--council", "C1", "--as-of", "2026-06-28",
                  "--weeks", "8", db=db_url)
    assert done.exit_code == 0, done.output
    rows = {r["holder"]: r for r in csv.DictReader(io.StringIO(done.output))}
    weekly = {h: int(r["weekly_amount_minor"]) for h, r in rows.items()}
    # Ann £1,040 / 25 = £41.60; Bob £260 / 52 = £5.00; Cat £100 / 3 = £33.33; Dan's
    # schedule pays £70.00 a week (his one-off £500 does not change it).
    assert weekly == {"ANN": 4160, "BOB": 500, "CAT": 3333, "DAN": 7000}
    # What may be kept is the exact weekly amount x 8 weeks, rounded once.
    allowed = {h: int(r["allowed_minor"]) for h, r in rows.items()}
    assert allowed == {"ANN": 33280, "BOB": 4000, "CAT": 26667, "DAN": 56000}
    assert int(rows["ANN"]["surplus_minor"]) == 104000 - 33280
    assert int(rows["CAT"]["surplus_minor"]) == 0  # holds £100, may keep £266.67
    assert rows["ANN"]["weeks_held"] == "25.00"
