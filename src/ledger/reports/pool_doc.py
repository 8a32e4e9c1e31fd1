"""A pooling group's statement as a `Document` for people to read (docs/pools.md,
"The pool statement for readers").

Built from the dict `pool_statement(...)` returns and nothing else, so every figure said
here is a figure in the JSON. Amounts are never signed: a negative balance is said in
words ("short"), a correction as "added" or "taken off". Members appear by the labels the
statement gives them (a name only with consent); a member's own copy says which label is
theirs and marks it "(you)" wherever it appears.

Easy-read lines (`Section.easy`, `Document.easy_summary`) are at most
`EASY_READ_MAX_WORDS` words each: free text (payees, payers, descriptions, long names) is
dropped from a line, or the name shortened, rather than let a line grow past the limit.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from ledger.domain.pools import member_labels
from ledger.reports.document import (
    EASY_READ_MAX_WORDS,
    Document,
    Section,
    Table,
    end_phrase,
    long_date,
    money,
    word_count,
)

NAMES_NOTE = ("Members who have not agreed to show their name appear by a pseudonym or as "
              "\"Member\" and a number, the numbers following the order they joined.")
PENNY_NOTE = ("When a cost does not divide exactly into pennies, each spare penny goes to "
              "whoever was owed the largest part of a penny; if that is equal, to whoever "
              "joined the pool first.")
SIGNS_NOTE = ("No amount in this statement has a minus sign: money short, added or taken "
              "off is said in words.")
EASY_LABEL_WORDS = 6  # a longer name is shortened in easy-read lines only


def label_for(pool_state: dict, parties: dict[str, dict], holder: str) -> str:
    """The label holder `holder` has in the pool's statements (`member_labels`, the one
    rule): their name (with consent), pseudonym or "Member N". Pass the same party
    records as the statement was built from (those in force on its last day), so the
    label matches the statement's. A ValueError if they were never a member."""
    labels = member_labels(pool_state, parties)
    if holder not in labels:
        raise ValueError(f"{holder} has never been a member of pool {pool_state.get('pool')}")
    return labels[holder]


# ---------------------------------------------------------------- words


def _period(statement: dict) -> str:
    """'1 May to 31 May 2026', or both years when the period crosses one."""
    start = dt.date.fromisoformat(statement["from"])
    end = dt.date.fromisoformat(statement["to"])
    if start.year == end.year:
        return f"{start.day} {start:%B} to {long_date(end)}"
    return f"{long_date(start)} to {long_date(end)}"


def _balance(pence: int) -> str:
    """A share or a total: £12.00, or '£12.00 short' below zero."""
    return money(pence) if pence >= 0 else f"{money(pence)} short"


def _change(pence: int) -> str:
    """A correction: '£3.00 added', '£3.00 taken off' or £0.00."""
    if pence == 0:
        return money(0)
    return f"{money(pence)} added" if pence > 0 else f"{money(pence)} taken off"


def _holds(pence: int) -> str:
    """For a sentence: 'holds £5.00' or 'is £5.00 short'."""
    return f"holds {money(pence)}" if pence >= 0 else f"is {money(pence)} short"


def _fits(line: str) -> bool:
    return word_count(line) <= EASY_READ_MAX_WORDS


def _fit(*lines: str) -> str:
    """The first line short enough for easy read; the last is the fallback, built by the
    caller from fixed words, amounts and shortened names only."""
    return next((line for line in lines if _fits(line)), lines[-1])


def _short(label: str) -> str:
    """A label for an easy-read line: long names keep their first words."""
    words = label.split()
    if len(words) <= EASY_LABEL_WORDS:
        return label
    return " ".join(words[:EASY_LABEL_WORDS - 1]) + "…"


def _clause(text: str | None) -> str:
    """Free text to go inside a sentence: no full stop of its own."""
    return (text or "").strip().rstrip(".")


def _parts(weight: Decimal) -> str:
    text = format(weight.normalize(), "f")
    return f"{text} part" if weight == 1 else f"{text} parts"


class _Reader:
    """Who the copy is for: `own` is the member's label in a member's copy, else None."""

    def __init__(self, own: str | None) -> None:
        self.own = own

    def name(self, label: str) -> str:
        """A label in the standard words and tables, marked when it is the reader's."""
        return f"{label} (you)" if label == self.own else label

    def is_me(self, label: str) -> bool:
        return self.own is not None and label == self.own


def _own_label(statement: dict, member: str | None, member_label: str | None) -> str | None:
    labels = [row["member"] for row in statement["members"]]
    if member_label is not None:
        if member_label not in labels:
            raise ValueError(f"{member_label!r} is not a member in this pool statement")
        return member_label
    if member is not None:
        row = next((r for r in statement["members"] if r.get("holder") == member), None)
        if row is None:
            raise ValueError(f"{member} is not named in this pool statement; pass "
                             "member_label (see label_for)")
        return row["member"]
    return None


# ---------------------------------------------------------------- the document


def pool_document(statement: dict, member: str | None = None,
                  member_label: str | None = None) -> Document:
    """The pool statement for people to read. With `member` (a holder id, found only when
    the holder consented to their name) or `member_label` (their label, from `label_for`),
    it is that member's own copy: it says how they appear and marks their rows "(you)".
    Raises ValueError if that member is not in the statement."""
    me = _Reader(_own_label(statement, member, member_label))
    title = statement.get("name") or statement["pool"]
    notes = [NAMES_NOTE, SIGNS_NOTE]
    if statement.get("name"):
        notes.append(f"The pool's reference in the ledger is {statement['pool']}.")
    summary, easy_summary = _summary(statement, me)
    return Document(
        kind="pool",
        title=f"Pool statement: {title}",
        subtitle=f"From {long_date(statement['from'])} to {long_date(statement['to'])}",
        summary=summary,
        easy_summary=easy_summary,
        sections=[s for s in (_shares(statement, me), _purchases(statement, me),
                              _common(statement), _membership(statement, me)) if s],
        notes=notes,
    )


def _own_row(statement: dict, me: _Reader) -> dict | None:
    return next((r for r in statement["members"] if me.is_me(r["member"])), None)


def _summary(statement: dict, me: _Reader) -> tuple[list[str], list[str]]:
    totals = statement["totals"]
    lines: list[str] = []
    easy: list[str] = []
    row = _own_row(statement, me)
    if row is not None:
        lines.append(f"You appear in this statement as {row['member']}.")
        easy.append(f"You appear in this statement as {_short(row['member'])}.")
    lines.append(f"The pool {_holds(totals['closing_minor'])} at the end of this period: "
                 f"{_balance(totals['shares_closing_minor'])} in members' shares and "
                 f"{_balance(totals['common_closing_minor'])} held in common.")
    easy.append(f"The pool has {_balance(totals['closing_minor'])}.")
    if totals["common_closing_minor"]:
        easy.append(f"Members' shares have {_balance(totals['shares_closing_minor'])}.")
        easy.append(f"{_balance(totals['common_closing_minor'])} is held for the whole group.")
    if row is not None:
        own = (f"Your share is {_balance(row['closing_minor'])} at the end of this period. "
               f"You put in {money(row['contributed_minor'])} and your part of the shared "
               f"costs was {money(row['charged_minor'])}.")
        if row["received_minor"]:
            own += (f" You received {money(row['received_minor'])} from the money held in "
                    "common.")
        if row["refunded_minor"]:
            own += (f" {money(row['refunded_minor'])} went back to your direct payment "
                    "account.")
        lines.append(own)
        easy += own_share_easy(row, end_phrase(statement["from"], statement["to"]))
    lines.append(f"Members put in {money(totals['contributed_minor'])} in this period.")
    easy.append(f"Members put in {money(totals['contributed_minor'])}.")
    if statement["common"]["in_minor"]:
        lines.append(f"{money(statement['common']['in_minor'])} came in to the money held "
                     "in common.")
    lines.append(f"The group spent {money(totals['charged_minor'])} on shared costs.")
    easy.append(f"The group spent {money(totals['charged_minor'])}.")
    if totals["received_minor"]:
        lines.append(f"{money(totals['received_minor'])} of the money held in common was "
                     "shared out to members.")
    if totals["corrections_minor"] > 0:
        lines.append(f"Corrections added {money(totals['corrections_minor'])} to members' "
                     "shares.")
    elif totals["corrections_minor"] < 0:
        lines.append(f"Corrections took {money(totals['corrections_minor'])} off members' "
                     "shares.")
    if totals["refunded_minor"]:
        lines.append(f"{money(totals['refunded_minor'])} went back to members' direct "
                     "payment accounts.")
        easy.append(f"{money(totals['refunded_minor'])} went back to members.")
    if statement.get("closed"):
        lines.append(f"The pool closed on {long_date(statement['closed'])}.")
        easy.append(f"The pool closed on {long_date(statement['closed'])}.")
    return lines, easy


# ---------------------------------------------------------------- each member's share

# (column, member key, totals key, how a figure is said)
_SHARE_COLUMNS = [
    ("At the start", "opening_minor", "shares_opening_minor", _balance),
    ("Put in", "contributed_minor", "contributed_minor", money),
    ("From common", "received_minor", "received_minor", money),
    ("Spent", "charged_minor", "charged_minor", money),
    ("Given back", "refunded_minor", "refunded_minor", money),
    ("Corrections", "corrections_minor", "corrections_minor", _change),
    ("At the end", "closing_minor", "shares_closing_minor", _balance),
]
_SOMETIMES = ("received_minor", "corrections_minor")  # columns shown only when used


def share_columns(statement: dict) -> list[tuple[str, str, str]]:
    """(column heading, member key, totals key) of the shares table, in order."""
    return [(title, key, total) for title, key, total, _ in _SHARE_COLUMNS
            if key not in _SOMETIMES or any(m[key] for m in statement["members"])]


def own_share_easy(row: dict, at_end: str) -> list[str]:
    """The reader's share as a sum they can check: the start, what went in and out, the
    end (docs/statements.md#easy-read-sums)."""
    easy = []
    if row["opening_minor"]:
        easy.append(f"Your share had {_balance(row['opening_minor'])} at the start.")
    easy.append(f"You put in {money(row['contributed_minor'])}.")
    if row["received_minor"]:
        easy.append(f"You got {money(row['received_minor'])} from the group's money.")
    easy.append(f"Your part of the costs was {money(row['charged_minor'])}.")
    if row["refunded_minor"]:
        easy.append(f"You got {money(row['refunded_minor'])} back.")
    if row["corrections_minor"]:
        easy.append(f"Corrections {_change(row['corrections_minor'])}.")
    easy.append(f"Your share is {_balance(row['closing_minor'])} {at_end}.")
    return easy


def numbered_members_easy(labels: list[str]) -> list[str]:
    """Say how members are numbered using the numbers this statement shows, never a
    "Member 2" who is not listed."""
    numbered = [label for label in labels if re.fullmatch(r"Member \d+", label)]
    if not numbered:
        return []
    if len(numbered) == 1:
        return [f"{numbered[0]} has a number, not a name.",
                "The number follows the order members joined."]
    who = (f"{', '.join(numbered[:-1])} and {numbered[-1]}" if len(numbered) <= 3
           else "Some members")
    return [f"{who} have numbers, not names.", "The numbers follow the order they joined."]


def _shares(statement: dict, me: _Reader) -> Section:
    members = statement["members"]
    say = {key: how for _, key, _, how in _SHARE_COLUMNS}
    columns = share_columns(statement)
    rows = [[me.name(m["member"]), *(say[key](m[key]) for _, key, _ in columns)]
            for m in members]
    totals = statement["totals"]
    table = Table(
        caption=f"Each member's share, {_period(statement)}, in pounds",
        columns=["Member", *(title for title, _, _ in columns)],
        rows=rows,
        total=["All members", *(say[key](totals[total]) for _, key, total in columns)],
    )
    sentences = [
        "Each member's money stays their own. A shared cost comes only out of the shares "
        "of the members who shared it.",
        "In the table, Put in is money the member paid into the pool. Spent is their part "
        "of shared costs. Given back is money that went back to their direct payment "
        "account when they left or the pool closed.",
    ]
    if any(m["received_minor"] for m in members):
        sentences.append("From common is money held in common that the group shared out "
                         "into members' shares.")
    if any(m["corrections_minor"] for m in members):
        sentences.append("Corrections are earlier entries put right, such as a cancelled "
                         "purchase whose parts went back into members' shares.")
    if not members:
        sentences.append("The pool had no members in this period.")
    easy = []
    for m in members:
        if me.is_me(m["member"]):
            easy.append(f"Your share is {_balance(m['closing_minor'])} "
                        f"{end_phrase(statement['from'], statement['to'])}.")
        else:
            easy.append(f"{_short(m['member'])} has {_balance(m['closing_minor'])} in the "
                        "pool.")
    easy += numbered_members_easy([m["member"] for m in members])
    return Section("Each member's share", sentences=sentences, tables=[table], easy=easy,
                   id="shares")


# ---------------------------------------------------------------- what was bought


def split_sentence(purchase: dict, me: _Reader | None = None) -> str:
    """How a cost was split, in words: equal, one member alone, or the agreed parts."""
    me = me or _Reader(None)
    parts = purchase["parts"]
    if len(parts) == 1:
        return f"Paid by {me.name(parts[0]['member'])} alone."
    if purchase["method"] == "ratio" and purchase.get("weights"):
        weights = {label: Decimal(w) for label, w in purchase["weights"].items()}
        said = ", ".join(f"{me.name(label)} pays {_parts(w)}" for label, w in weights.items())
        whole = sum(weights.values(), Decimal(0))
        return f"Split by agreed shares: {said}, out of {_parts(whole)}."
    return f"Split equally between {len(parts)} members."


def _purchase(purchase: dict, number: int, me: _Reader) -> Section:
    amount = money(purchase["amount_minor"])
    payee = _clause(purchase["payee"]) or "someone outside the pool"
    what = _clause(purchase.get("description"))
    date = long_date(purchase["date"])
    heading = f"{date}: {payee}" + (" (cancelled)" if purchase["reversed"] else "")
    sentences = [f"{amount} paid to {payee}" + (f" for {what}." if what else "."),
                 split_sentence(purchase, me)]
    own = next((p for p in purchase["parts"] if me.is_me(p["member"])), None)
    if own is not None:
        sentences.append(f"Your part was {money(own['part_minor'])}.")
    if purchase["reversed"]:
        sentences.append("This purchase was cancelled, and each member's part went back "
                         "into their share.")
    table = Table(
        caption=f"Each member's part of the {amount} paid to {payee} on {date}, in pounds",
        columns=["Member", "Part"],
        rows=[[me.name(p["member"]), money(p["part_minor"])] for p in purchase["parts"]],
        total=["Total", amount],
        easy=True,
    )
    easy = _easy_purchase(purchase, amount, payee, what, me)
    if own is not None:
        easy.append(f"Your part was {money(own['part_minor'])}.")
        weights = purchase.get("weights") or {}
        if purchase["method"] == "ratio" and own["member"] in weights and len(weights) > 1:
            whole = sum((Decimal(w) for w in weights.values()), Decimal(0))
            easy.append(f"You pay {_parts(Decimal(weights[own['member']]))} out of "
                        f"{_parts(whole)}.")
    return Section(heading, sentences=sentences, tables=[table], easy=easy,
                   id=f"purchase-{number}")


def _easy_purchase(purchase: dict, amount: str, payee: str, what: str, me: _Reader
                   ) -> list[str]:
    full = f"The group paid {amount} to {payee}" + (f" for {what}." if what else ".")
    if _fits(full):
        lines = [full]
    else:
        to_payee = f"The group paid {amount} to {payee}."
        lines = ([to_payee] if _fits(to_payee) else
                 [f"The group paid {amount}.", "The full statement says who was paid."])
        if what:
            lines.append(_fit(f"It was for {what}.",
                              "The full statement says what it was for."))
    parts = purchase["parts"]
    if len(parts) == 1:
        label = parts[0]["member"]
        lines.append("Only you paid for it." if me.is_me(label)
                     else _fit(f"Only {_short(label)} paid for it.",
                               "Only one member paid for it."))
    elif purchase["method"] == "ratio" and purchase.get("weights"):
        lines.append("It was split by shares the members agreed.")
    else:
        lines.append(f"It was split equally between {len(parts)} members.")
    if purchase["reversed"]:
        lines += ["This was cancelled.", "Each member got their part back."]
    return lines


def _purchases(statement: dict, me: _Reader) -> Section:
    purchases = statement["purchases"]
    total = statement["totals"]["charged_minor"]
    if not purchases:
        return Section("What was bought",
                       sentences=["Nothing was bought from the pool in this period."],
                       easy=["The group bought nothing from the pool."], id="purchases")
    count = "1 shared cost was" if len(purchases) == 1 else f"{len(purchases)} shared costs were"
    return Section(
        "What was bought",
        sentences=[f"{count} paid from the pool in this period, {money(total)} in all. "
                   "Each is below: who was paid, what for, and each member's part.",
                   PENNY_NOTE],
        easy=[f"The group spent {money(total)}.",
              "Each thing the group paid for is below."],
        subsections=[_purchase(p, n, me) for n, p in enumerate(purchases, start=1)],
        id="purchases",
    )


# ---------------------------------------------------------------- money held in common


def _common_item(item: dict) -> tuple[str, list[str]]:
    """One movement of common money: a sentence, and its easy-read lines."""
    date = long_date(item["date"])
    amount = money(item["amount_minor"])
    what = _clause(item.get("description"))
    payer = _clause(item.get("payer"))
    if item["type"] == "pool_income" and item["amount_minor"] > 0:
        by = f" by {payer}" if payer else ""
        sentence = f"{date}: {amount} paid in{by}" + (f" for {what}." if what else ".")
        full = f"{amount} came from {payer}" if payer else f"{amount} came in"
        easy = [full + (f" for {what}." if what else ".")]
        if not _fits(easy[0]):
            easy = [_fit(full + ".", f"{amount} came in for the whole group.")]
            if what:
                easy.append(_fit(f"It was for {what}.",
                                 "The full statement says what it was for."))
        return sentence, easy
    if item["type"] == "pool_distribution" and item["amount_minor"] < 0:
        sentence = f"{date}: {amount} shared out into members' shares" + (
            f": {what}." if what else ".")
        return sentence, [f"{amount} was shared out to members."]
    if item["type"] == "reversal":
        if item["amount_minor"] > 0:
            return (f"{date}: {amount} came back into common, putting right an earlier "
                    "entry.", [f"{amount} came back, to put a mistake right."])
        return (f"{date}: {amount} taken out of common, putting right an earlier entry.",
                [f"{amount} was taken out, to put a mistake right."])
    if item["amount_minor"] > 0:
        return f"{date}: {amount} came into common.", [f"{amount} came in."]
    return f"{date}: {amount} went out of common.", [f"{amount} went out."]


def _common(statement: dict) -> Section | None:
    common = statement["common"]
    if not any(common[k] for k in ("opening_minor", "in_minor", "out_minor")):
        return None
    table = Table(
        caption=f"Money held in common, {_period(statement)}, in pounds",
        columns=["Money held in common", "Amount"],
        rows=[["At the start", _balance(common["opening_minor"])],
              ["Came in", money(common["in_minor"])],
              ["Went out", money(common["out_minor"])]],
        total=["At the end", _balance(common["closing_minor"])],
    )
    sentences = ["Money held in common belongs to the group as a whole, not to one member."]
    easy = [f"The group has {_balance(common['closing_minor'])} held in common.",
            "This money belongs to the whole group."]
    for item in common["items"]:
        sentence, lines = _common_item(item)
        sentences.append(sentence)
        easy += lines
    return Section("Money held in common", sentences=sentences, tables=[table], easy=easy,
                   id="common")


# ---------------------------------------------------------------- joining and leaving


def _membership(statement: dict, me: _Reader) -> Section:
    """Who joined and left, and the pool opening or closing, in date order."""
    start, end = statement["from"], statement["to"]
    happened: list[tuple[str, int, list[str], list[str]]] = []  # date, order, words, easy
    opened = statement.get("opened")
    if opened and start <= opened <= end:
        first = [me.name(m["member"]) for m in statement["members"] if m["joined"] == opened]
        words = [f"The pool opened on {long_date(opened)}."]
        if len(first) == 1:
            words.append(f"The member when it opened was {first[0]}.")
        elif first:
            words.append(f"The members when it opened were {', '.join(first[:-1])} and "
                         f"{first[-1]}.")
        happened.append((opened, 0, words, [f"The pool started on {long_date(opened)}."]))
    for m in statement["members"]:
        name, mine = me.name(m["member"]), me.is_me(m["member"])
        who = "You" if mine else _short(m["member"])
        their = "your" if mine else "their"
        joined = m["joined"]
        if joined and start <= joined <= end and joined > (opened or ""):
            happened.append((joined, 1, [f"{name} joined the pool on {long_date(joined)}."],
                             [f"{who} joined the pool on {long_date(joined)}."]))
        leave_dates = set()
        for refund in m["refunds"]:
            amount, day = money(refund["amount_minor"]), long_date(refund["date"])
            got = f"{who} got {amount} back in {their} direct payment."
            if refund["reason"] == "leave":
                leave_dates.add(refund["date"])
                happened.append((refund["date"], 2, [
                    f"{name} left the pool on {day} and got {amount} back into their "
                    "direct payment account."], [f"{who} left the pool on {day}.", got]))
            else:
                happened.append((refund["date"], 4, [
                    f"{name} got {amount} back into their direct payment account when the "
                    f"pool closed on {day}."], [got]))
        left = m["left"]
        if left and start <= left <= end and left not in leave_dates:
            happened.append((left, 2, [f"{name} left the pool on {long_date(left)}. Their "
                                       "share was empty, so no money went back."],
                             [f"{who} left the pool on {long_date(left)}."]))
    closed = statement.get("closed")
    if closed:
        happened.append((closed, 3, [f"The pool closed on {long_date(closed)}."],
                         [f"The pool closed on {long_date(closed)}.",
                          "Each member got their share back."]))
        common = statement["totals"]["common_closing_minor"]
        if common:
            happened.append((closed, 5, [f"{_balance(common)} is left in common for the "
                                         "group to decide about."],
                             [f"{_balance(common)} is still held for the whole group."]))
    happened.sort(key=lambda h: (h[0], h[1]))  # stable: members in join order
    sentences = [words for h in happened for words in h[2]]
    easy = [line for h in happened for line in h[3]]
    if not happened:
        sentences.append("No one joined or left the pool in this period.")
        easy.append("No one joined or left.")
    return Section("Joining and leaving", sentences=sentences, easy=easy, id="membership")
