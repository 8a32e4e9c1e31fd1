"""The pool statement for people to read (src/ledger/reports/pool_doc.py; docs/pools.md,
"The pool statement for readers"): every figure is the JSON's, every easy-read line is
short, a member can find themselves, and nobody is named without consent."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, transfer
from ledger.reports.document import (
    EASY_READ_MAX_WORDS,
    Document,
    Section,
    Table,
    money,
    render_easy_text,
    render_text,
    word_count,
)
from ledger.reports.html import VARIANTS, render_html
from ledger.reports.pool_doc import NAMES_NOTE, label_for, pool_document, share_columns
from ledger.reports.pool_statement import pool_statement
from ledger.reports.statements import pool_statement_from_store
from ledger.scenarios.schema import ScenarioFile
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore

GBP = Unit.GBP
MAY_1, MAY_31 = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
HOLDERS = {
    "H1": {"name": "Asha Example", "show_name": False, "pseudonym": None},
    "H2": {"name": "Ben Example", "show_name": False, "pseudonym": "Kingfisher"},
    "H3": {"name": "Cal Example", "show_name": True, "pseudonym": "Robin"},
    "H4": {"name": "Dee Example", "show_name": False, "pseudonym": None},
}


class Pool:
    """A memory backend with funded holders and a pool P, driven event by event."""

    def __init__(self, parties: dict[str, dict] | None = None, dp_pence: int = 500_000
                 ) -> None:
        self.parties = parties or HOLDERS
        self.backend = MemoryBackend()
        self.backend.add_parties([{"kind": "council", "id": "C1", "name": "Council"}])
        self.backend.add_parties([{"kind": "holder", "id": h, "council": "C1", **p}
                                  for h, p in self.parties.items()])
        day = dt.date(2026, 4, 1)
        for holder in self.parties:
            journal = Journal(key=f"fund-{holder}", type="test_funding", date=day,
                              postings=tuple(transfer("council:C1:funding",
                                                      f"holder:{holder}:dp", GBP, dp_pence)))
            self.backend.apply(Change(EventRecord(journal.key, "test_funding", day, "x"),
                                      journals=[journal]))
        self.count = 0

    def __call__(self, date: str, type_: str, **fields) -> str:
        key = f"k{self.count}"
        self.count += 1
        if type_.startswith("pool_"):
            fields = {"pool": "P", **fields}
        apply_event(self.backend, {"date": date, "type": type_, **fields}, key)
        return key

    @property
    def state(self) -> dict:
        return self.backend.states[("pool", "P")]

    def statement(self, date_from: dt.date = MAY_1, date_to: dt.date = MAY_31) -> dict:
        journals = [j for j in self.backend.journals if j.date <= date_to
                    and any(p.account.startswith("pool:P:") for p in j.postings)]
        return pool_statement(self.state, journals, self.parties, "P", date_from, date_to)


@pytest.fixture
def pool() -> Pool:
    p = Pool()
    p("2026-04-20", "pool_open", members=["H1", "H2", "H3"], name="Swim and Social")
    p("2026-04-20", "pool_contribute", holder="H1", amount="100")
    p("2026-05-02", "pool_contribute", holder="H1", amount="200")
    p("2026-05-02", "pool_contribute", holder="H2", amount="60")
    p("2026-05-02", "pool_contribute", holder="H3", amount="60")
    p("2026-05-05", "pool_spend", payee="Swim Club", amount="10.00", description="swimming")
    p("2026-05-06", "pool_spend", payee="Cafe", amount="9.00", split="ratio",
      weights={"H1": 2, "H3": 1}, members=["H1", "H3"], description="lunch")
    p("2026-05-07", "pool_income", payer="Craft fair", amount="20.00",
      description="cards the group made and sold")
    p("2026-05-08", "pool_join", holder="H4")
    p("2026-05-08", "pool_contribute", holder="H4", amount="40")
    return p


# ---------------------------------------------------------------- walking a document


def sections(document: Document) -> list[Section]:
    found: list[Section] = []

    def walk(section: Section) -> None:
        found.append(section)
        for sub in section.subsections:
            walk(sub)

    for section in document.sections:
        walk(section)
    return found


def easy_lines(document: Document) -> list[str]:
    return [*document.easy_summary, *(line for s in sections(document) for line in s.easy)]


def section(document: Document, heading: str) -> Section:
    return next(s for s in sections(document) if s.heading == heading)


def purchase_tables(document: Document) -> list[Table]:
    return [t for s in section(document, "What was bought").subsections for t in s.tables]


def check_document(statement: dict, document: Document) -> None:
    """What must hold for any pool statement: short easy-read lines, the shares table's
    total row and each purchase's parts exactly the JSON's, and no signed figure."""
    for line in easy_lines(document):
        assert word_count(line) <= EASY_READ_MAX_WORDS, line
    shares = section(document, "Each member's share").tables[0]
    columns = share_columns(statement)
    assert shares.columns == ["Member", *(title for title, _, _ in columns)]
    assert shares.total is not None
    for cell, (_, _, total) in zip(shares.total[1:], columns, strict=True):
        assert cell.split()[0] == money(statement["totals"][total])
    for row, member in zip(shares.rows, statement["members"], strict=True):
        for cell, (_, key, _) in zip(row[1:], columns, strict=True):
            assert cell.split()[0] == money(member[key])
    tables = purchase_tables(document)
    assert len(tables) == len(statement["purchases"])
    for table, purchase in zip(tables, statement["purchases"], strict=True):
        assert sum(p["part_minor"] for p in purchase["parts"]) == purchase["amount_minor"]
        assert [row[1] for row in table.rows] == [money(p["part_minor"])
                                                  for p in purchase["parts"]]
        assert table.total == ["Total", money(purchase["amount_minor"])]
    text = render_text(document) + render_easy_text(document)
    assert not re.search(r"[-−]£", text)
    assert NAMES_NOTE in document.notes


# ---------------------------------------------------------------- the words


def test_title_and_subtitle_use_the_display_name_and_the_period(pool):
    statement = pool.statement()
    assert statement["name"] == "Swim and Social"
    document = pool_document(statement)
    assert document.kind == "pool"
    assert document.title == "Pool statement: Swim and Social"
    assert document.subtitle == "From 1 May 2026 to 31 May 2026"
    assert "The pool's reference in the ledger is P." in document.notes


def test_without_a_display_name_the_title_uses_the_pool_id():
    p = Pool()
    p("2026-05-01", "pool_open", members=["H1"])
    statement = p.statement()
    assert statement["name"] is None and "name" in statement
    assert pool_document(statement).title == "Pool statement: P"


def test_summary_says_the_key_numbers_first_in_words(pool):
    statement = pool.statement()
    totals = statement["totals"]
    document = pool_document(statement)
    assert document.summary[0] == (
        f"The pool holds {money(totals['closing_minor'])} at the end of this period: "
        f"{money(totals['shares_closing_minor'])} in members' shares and £20.00 held in "
        "common.")
    assert f"Members put in {money(totals['contributed_minor'])} in this period." \
        in document.summary
    assert "The group spent £19.00 on shared costs." in document.summary
    assert document.easy_summary[0] == f"The pool has {money(totals['closing_minor'])}."
    check_document(statement, document)


def test_every_easy_read_line_is_short(pool):
    for member in (None, "Member 1", "Kingfisher", "Member 4"):
        document = pool_document(pool.statement(), member_label=member)
        lines = easy_lines(document)
        assert lines and all(word_count(line) <= EASY_READ_MAX_WORDS for line in lines)


def test_easy_read_stays_short_with_long_names_payees_and_descriptions():
    long = "Name " * 30
    parties = {"H1": {"name": long.strip(), "show_name": True},
               "H2": {"name": "B", "pseudonym": ("Bird " * 20).strip()}}
    p = Pool(parties)
    p("2026-05-01", "pool_open", members=["H1", "H2"], name="A " * 49 + "Z")
    p("2026-05-01", "pool_contribute", holder="H1", amount="100")
    p("2026-05-01", "pool_contribute", holder="H2", amount="100")
    p("2026-05-02", "pool_spend", payee=("Very long payee " * 10).strip(), amount="5",
      description=("what it was for " * 12).strip())
    p("2026-05-03", "pool_income", payer=("Long payer " * 15).strip(), amount="5",
      description=("long reason " * 16).strip())
    p("2026-05-04", "pool_leave", holder="H2")
    statement = p.statement()
    for member in (None, *(m["member"] for m in statement["members"])):
        check_document(statement, pool_document(statement, member_label=member))


def test_a_purchase_says_payee_what_for_and_how_it_was_split(pool):
    document = pool_document(pool.statement())
    swim, cafe = section(document, "What was bought").subsections
    assert swim.heading == "5 May 2026: Swim Club"
    assert swim.sentences[:2] == ["£10.00 paid to Swim Club for swimming.",
                                  "Split equally between 3 members."]
    assert "The group paid £10.00 to Swim Club for swimming." in swim.easy
    assert swim.tables[0].rows == [["Member 1", "£3.34"], ["Kingfisher", "£3.33"],
                                   ["Cal Example", "£3.33"]]
    assert swim.tables[0].easy and swim.tables[0].columns == ["Member", "Part"]
    assert cafe.sentences[0] == "£9.00 paid to Cafe for lunch."


def test_weights_are_said_in_words_for_a_ratio_split(pool):
    cafe = section(pool_document(pool.statement()), "6 May 2026: Cafe")
    assert cafe.sentences[1] == ("Split by agreed shares: Member 1 pays 2 parts, "
                                 "Cal Example pays 1 part, out of 3 parts.")
    mine = section(pool_document(pool.statement(), member_label="Member 1"),
                   "6 May 2026: Cafe")
    assert mine.sentences[1].startswith("Split by agreed shares: Member 1 (you) pays 2 parts")
    assert "You pay 2 parts out of 3 parts." in mine.easy
    assert "Your part was £6.00." in mine.easy


def test_decimal_weights_are_said_as_written():
    p = Pool()
    p("2026-05-01", "pool_open", members=["H1", "H2"])
    for holder in ("H1", "H2"):
        p("2026-05-01", "pool_contribute", holder=holder, amount="100")
    p("2026-05-02", "pool_spend", payee="PA", amount="65", split="ratio",
      weights={"H1": "3.5", "H2": 3})
    sentence = pool_document(p.statement()).sections[1].subsections[0].sentences[1]
    assert sentence == ("Split by agreed shares: Member 1 pays 3.5 parts, Kingfisher pays "
                        "3 parts, out of 6.5 parts.")


def test_income_is_listed_with_who_paid_it_and_what_for(pool):
    common = section(pool_document(pool.statement()), "Money held in common")
    assert "7 May 2026: £20.00 paid in by Craft fair for cards the group made and sold." \
        in common.sentences
    assert "£20.00 came from Craft fair for cards the group made and sold." in common.easy
    table = common.tables[0]
    assert table.caption == "Money held in common, 1 May to 31 May 2026, in pounds"
    assert table.total == ["At the end", "£20.00"]


def test_shares_table_has_a_caption_and_a_total_row_equal_to_the_json(pool):
    statement = pool.statement()
    table = section(pool_document(statement), "Each member's share").tables[0]
    assert table.caption == "Each member's share, 1 May to 31 May 2026, in pounds"
    assert table.columns == ["Member", "At the start", "Put in", "Spent", "Given back",
                             "At the end"]
    totals = statement["totals"]
    assert table.total == ["All members", money(totals["shares_opening_minor"]),
                           money(totals["contributed_minor"]), money(totals["charged_minor"]),
                           money(totals["refunded_minor"]),
                           money(totals["shares_closing_minor"])]
    check_document(statement, pool_document(statement))


def test_from_common_and_corrections_columns_appear_only_when_used(pool):
    spent = pool("2026-05-10", "pool_spend", payee="Theatre", amount="3")
    pool("2026-05-11", "reverse", event=spent, reason="show cancelled")
    pool("2026-05-12", "pool_distribute", amount="8.00", description="craft fair takings")
    statement = pool.statement()
    document = pool_document(statement)
    table = section(document, "Each member's share").tables[0]
    assert table.columns == ["Member", "At the start", "Put in", "From common", "Spent",
                             "Given back", "Corrections", "At the end"]
    assert table.rows[0][6] == "£0.75 added"  # Member 1's part of the cancelled £3.00
    theatre = section(document, "10 May 2026: Theatre (cancelled)")
    assert "This purchase was cancelled, and each member's part went back into their " \
        "share." in theatre.sentences
    assert "Corrections added £3.00 to members' shares." in document.summary
    check_document(statement, document)


def test_joining_and_leaving_in_date_order(pool):
    pool("2026-05-20", "pool_leave", holder="H2")
    document = pool_document(pool.statement())
    assert section(document, "Joining and leaving").sentences == [
        "Member 4 joined the pool on 8 May 2026.",
        "Kingfisher left the pool on 20 May 2026 and got £56.67 back into their direct "
        "payment account.",
    ]
    april = pool_document(pool.statement(dt.date(2026, 4, 1), dt.date(2026, 4, 30)))
    assert section(april, "Joining and leaving").sentences == [
        "The pool opened on 20 April 2026.",
        "The members when it opened were Member 1, Kingfisher and Cal Example."]


def test_a_closed_pool_says_what_is_left_in_common(pool):
    pool("2026-05-31", "pool_close")
    statement = pool.statement()
    document = pool_document(statement)
    words = section(document, "Joining and leaving").sentences
    assert words[-2:] == ["Member 4 got £40.00 back into their direct payment account when "
                          "the pool closed on 31 May 2026.",
                          "£20.00 is left in common for the group to decide about."]
    assert "The pool closed on 31 May 2026." in document.summary
    check_document(statement, document)


# ---------------------------------------------------------------- a member's own copy


def test_a_members_copy_says_how_they_appear_and_marks_their_row(pool):
    statement = pool.statement()
    label = label_for(pool.state, HOLDERS, "H4")
    assert label == "Member 4"
    document = pool_document(statement, member_label=label)
    assert document.summary[0] == "You appear in this statement as Member 4."
    assert document.easy_summary[0] == "You appear in this statement as Member 4."
    headers = [row[0] for row in section(document, "Each member's share").tables[0].rows]
    assert headers == ["Member 1", "Kingfisher", "Cal Example", "Member 4 (you)"]
    assert "Your share is £40.00 at the end of May 2026." in document.easy_summary
    assert "You put in £40.00." in document.easy_summary
    assert NAMES_NOTE in document.notes
    assert "(you)" not in render_text(pool_document(statement))


def test_a_members_copy_marks_them_in_each_purchase(pool):
    document = pool_document(pool.statement(), member_label="Cal Example")
    swim = section(document, "5 May 2026: Swim Club")
    assert swim.tables[0].rows[2] == ["Cal Example (you)", "£3.33"]
    assert "Your part was £3.33." in swim.sentences and "Your part was £3.33." in swim.easy


def test_a_member_who_consented_can_be_found_by_holder_id(pool):
    statement = pool.statement()
    assert pool_document(statement, member="H3").summary[0] == \
        "You appear in this statement as Cal Example."
    with pytest.raises(ValueError, match="label_for"):
        pool_document(statement, member="H1")  # no consent: the statement has no id for H1
    with pytest.raises(ValueError):
        pool_document(statement, member_label="Member 9")
    with pytest.raises(ValueError):
        label_for(pool.state, HOLDERS, "H9")


def test_the_shared_copy_names_nobody_who_did_not_consent(pool):
    document = pool_document(pool.statement())
    everything = render_text(document) + render_easy_text(document) + "".join(
        render_html(document, variant) for variant in VARIANTS)
    for hidden in ("Asha", "Ben Example", "Dee", "H1", "H2", "H4"):
        assert hidden not in everything
    assert "Cal Example" in everything and "Kingfisher" in everything


# ---------------------------------------------------------------- HTML


@pytest.mark.parametrize("variant", VARIANTS)
def test_renders_as_html_in_every_variant(pool, variant):
    html = render_html(pool_document(pool.statement(), member_label="Cal Example"), variant)
    assert "<caption>" in html and '<th scope="col">' in html
    assert "<h1>Pool statement: Swim and Social</h1>" in html
    if variant == "easy_read":
        assert "The group paid £10.00 to Swim Club for swimming." in html
        assert "<th scope=\"row\">Cal Example (you)</th>" in html  # an easy parts table


# ---------------------------------------------------------------- the display name


def test_the_display_name_is_optional_and_checked():
    p = Pool()
    p("2026-05-01", "pool_open", members=["H1"], name="Swim and Social")
    assert p.state["name"] == "Swim and Social"
    for bad in ("x" * 101, "", " padded", "two\nlines", 7):
        with pytest.raises(EventFailed, match="^invalid:"):
            p("2026-05-01", "pool_open", pool="Q", members=["H1"], name=bad)
    p("2026-05-01", "pool_open", pool="Q", members=["H1"], name="x" * 100)
    p("2026-05-01", "pool_open", pool="R", members=["H1"])
    assert p.backend.states[("pool", "R")]["name"] is None


SCENARIO = {
    "format": 1,
    "name": "pool-doc",
    "parties": {
        "councils": [{"id": "C1", "name": "Northshire Council"}],
        "holders": [{"id": "H1", "name": "Ann Example", "council": "C1"},
                    {"id": "H2", "name": "Bo Example", "council": "C1", "show_name": True},
                    {"id": "H3", "name": "Cy Example", "council": "C1", "pseudonym": "Wren"}],
    },
    "events": [
        *({"date": dt.date(2026, 5, 1), "type": "dp_payment", "holder": h, "amount": "300"}
          for h in ("H1", "H2", "H3")),
        {"date": dt.date(2026, 5, 1), "type": "pool_open", "pool": "SWIM",
         "members": ["H1", "H2", "H3"], "name": "Swim and Social"},
        *({"date": dt.date(2026, 5, 1), "type": "pool_contribute", "pool": "SWIM",
           "holder": h, "amount": "100"} for h in ("H1", "H2", "H3")),
        {"date": dt.date(2026, 5, 9), "type": "pool_spend", "pool": "SWIM",
         "payee": "Swim Club", "amount": "90", "description": "swimming"},
        {"date": dt.date(2026, 5, 16), "type": "pool_spend", "pool": "SWIM",
         "payee": "PA Jo", "amount": "50", "split": "ratio",
         "weights": {"H1": 2, "H2": 2, "H3": 1}, "description": "support at the pool"},
    ],
}


def test_from_the_database_the_name_reaches_the_title_and_the_json(engine):
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), ScenarioFile.model_validate(SCENARIO))
        assert result.failure is None
    with engine.connect() as conn:
        store = DbStore(conn)
        statement = pool_statement_from_store(store, "SWIM", MAY_1, MAY_31)
        label = label_for(store.get_state("pool", "SWIM"),
                          store.parties("holder", as_of=MAY_31), "H1")
    assert statement["name"] == "Swim and Social"
    assert label == "Member 1"
    document = pool_document(statement, member_label=label)
    assert document.title == "Pool statement: Swim and Social"
    assert document.summary[0] == "You appear in this statement as Member 1."
    assert "The group paid £90.00 to Swim Club for swimming." in easy_lines(document)
    assert "You pay 2 parts out of 5 parts." in easy_lines(document)
    assert "Ann" not in render_text(document)
    check_document(statement, document)


# ---------------------------------------------------------------- properties

NAMES = st.text(st.sampled_from("abc XY"), min_size=1, max_size=60).map(str.strip).filter(
    bool)
PARTIES = st.fixed_dictionaries({
    h: st.fixed_dictionaries({"name": NAMES, "show_name": st.booleans(),
                              "pseudonym": st.none() | NAMES})
    for h in ("H1", "H2", "H3", "H4")})
WHO = st.sampled_from(["H1", "H2", "H3", "H4"])
TEXT = st.none() | st.text(st.sampled_from("ab ,."), max_size=120).map(str.strip).filter(bool)
SPEND = st.builds(
    lambda m, a, d: ("pool_spend", {"amount": a, "description": d,
                                    **({"members": m} if m else {})}),
    st.none() | st.lists(WHO, unique=True, min_size=1), st.integers(1, 9_999), TEXT)
RATIO = st.builds(
    lambda w, a: ("pool_spend", {"members": list(w), "amount": a, "split": "ratio",
                                 "weights": w}),
    st.dictionaries(st.sampled_from(["H1", "H2", "H3"]), st.sampled_from([1, 2, 3, "0.5", "2.5"]),
                    min_size=1),
    st.integers(1, 9_999))
OPS = st.lists(st.one_of(
    SPEND, SPEND, RATIO,
    st.builds(lambda h, a: ("pool_contribute", {"holder": h, "amount": a}), WHO,
              st.integers(1, 20_000)),
    st.builds(lambda a, d: ("pool_income", {"payer": "Fair", "amount": a, "description": d}),
              st.integers(1, 5_000), TEXT),
    st.builds(lambda a: ("pool_distribute", {"amount": a}), st.integers(1, 3_000)),
    st.builds(lambda h: ("pool_join", {"holder": h}), WHO),
    st.builds(lambda h: ("pool_leave", {"holder": h}), WHO),
    st.builds(lambda n: ("reverse", {"back": n}), st.integers(1, 3)),
), max_size=20)


def _play(pool: Pool, ops: list, days: list[int]) -> None:
    keys: list[str] = []
    for (type_, fields), day in zip(ops, days, strict=False):
        fields = dict(fields)
        if "amount" in fields:
            fields["amount"] = f"{fields['amount'] / 100:.2f}"
        if type_ == "pool_spend":
            fields["payee"] = "Shop"
            if fields.get("description") is None:
                fields.pop("description", None)
        if type_ == "pool_income" and fields.get("description") is None:
            fields.pop("description")
        if type_ == "reverse":
            if len(keys) < fields["back"]:
                continue
            fields = {"event": keys[-fields["back"]], "reason": "mistake"}
        try:
            keys.append(pool(f"2026-05-{day:02d}", type_, **fields))
        except EventFailed as err:
            assert re.match(r"^(invalid|insufficient_funds):", str(err)), err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parties=PARTIES, ops=OPS,
       days=st.lists(st.integers(2, 30), min_size=20, max_size=20).map(sorted),
       cut=st.integers(2, 30), name=st.none() | NAMES, close=st.booleans())
def test_any_pool_statement_adds_up_and_makes_a_document(parties, ops, days, cut, name,
                                                          close):
    pool = Pool(parties, dp_pence=50_000)
    opening = {"members": ["H1", "H2", "H3"], **({"name": name} if name else {})}
    pool("2026-05-01", "pool_open", **opening)
    for holder in opening["members"]:
        pool("2026-05-01", "pool_contribute", holder=holder, amount="100")
    _play(pool, [*ops, *([("pool_close", {})] if close else [])], [*days[:len(ops)], 31])
    for date_from in (MAY_1, dt.date(2026, 5, cut)):
        statement = pool.statement(date_from)
        totals = statement["totals"]
        for m in statement["members"]:
            money_in = m["contributed_minor"] + m["received_minor"] + max(
                m["corrections_minor"], 0)
            money_out = m["charged_minor"] + m["refunded_minor"] + max(
                -m["corrections_minor"], 0)
            assert m["opening_minor"] + money_in - money_out == m["closing_minor"]
        shares = sum(m["closing_minor"] for m in statement["members"])
        assert totals["shares_closing_minor"] == shares
        assert totals["closing_minor"] == statement["total_minor"] \
            == shares + statement["common"]["closing_minor"]
        assert totals["shares_opening_minor"] == sum(m["opening_minor"]
                                                     for m in statement["members"])
        assert totals["charged_minor"] == sum(p["amount_minor"]
                                              for p in statement["purchases"])
        assert statement["name"] == (name or None)
        for member in (None, *(m["member"] for m in statement["members"])):
            document = pool_document(statement, member_label=member)
            check_document(statement, document)
        render_html(document, "easy_read")
