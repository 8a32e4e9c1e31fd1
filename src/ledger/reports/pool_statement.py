"""A pooling group's shared statement: who put in what, what was bought, how each cost was
split, and each member's remaining share (docs/pools.md).

Pure functions over a pool's state and its journals: no I/O, so the database and the
in-memory backend give the same statement. Every amount is integer pence (`*_minor`).
Members appear by pseudonym unless they consented to their name being shown
(docs/pools.md, "The pool statement"; docs/sources.md#s003, case study II: sharing
discussions "were not disclosed to the local authority"); holder ids appear only with that
consent too. The labels are `ledger.domain.pools.member_labels`, the one rule for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.core.journal import Journal

_MEMBER_TOTALS = ("opening_minor", "contributed_minor", "received_minor", "charged_minor",
                  "refunded_minor", "corrections_minor", "closing_minor")


def _membership(pool_state: dict, holder: str) -> tuple[str | None, str | None]:
    periods = [p for p in pool_state.get("history", []) if p["holder"] == holder]
    if not periods:
        return None, None
    return periods[0]["joined"], periods[-1]["left"]


def _new_member(holder: str, label: str, pool_state: dict, parties: dict) -> dict:
    joined, left = _membership(pool_state, holder)
    row: dict = {"member": label, "joined": joined, "left": left}
    if (parties.get(holder) or {}).get("show_name"):
        row["holder"] = holder
    row.update({key: 0 for key in _MEMBER_TOTALS})
    row.update(contributions=[], receipts=[], charges=[], refunds=[], corrections=[])
    return row


def _owner(account: str, pool: str) -> str | None:
    """'common', a holder id, or None for an account outside this pool."""
    parts = account.split(":")
    if len(parts) == 3 and parts[0] == "pool" and parts[1] == pool:
        return parts[2]
    return None


def _payee(journal: Journal) -> str:
    if journal.memo.get("payee"):
        return str(journal.memo["payee"])
    for posting in journal.postings:
        if posting.account.startswith("external:"):
            return posting.account.removeprefix("external:")
    return ""


def _purchase(journal: Journal, pool: str, labels: dict[str, str]) -> dict:
    """One shared cost and how it was split (parts from the postings, which are the
    truth; the memo adds members whose part rounded to nothing)."""
    order = journal.memo.get("members") or list(journal.memo.get("split", {}))
    parts = {h: 0 for h in order}
    for posting in journal.postings:
        holder = _owner(posting.account, pool)
        if holder is not None and holder != "common":
            parts[holder] = parts.get(holder, 0) - posting.amount_minor
    given = journal.memo.get("weights") or {}
    weights = {h: given[h] for h in [*order, *given] if h in given}
    return {
        "key": journal.key,
        "date": journal.date.isoformat(),
        "payee": _payee(journal),
        "description": journal.memo.get("description"),
        "amount_minor": sum(parts.values()),
        "method": journal.memo.get("method", "equal"),
        "weights": {labels.get(h, h): w for h, w in weights.items()} if weights else None,
        "parts": [{"member": labels.get(h, h), "part_minor": p} for h, p in parts.items()],
        "reversed": False,
    }


def _member_line(row: dict, journal: Journal, amount_minor: int, purchase: dict | None
                 ) -> None:
    """Put one posting to a member's share into the right column of their row."""
    date = journal.date.isoformat()
    if journal.type == "pool_contribution" and amount_minor > 0:
        row["contributed_minor"] += amount_minor
        source = journal.memo.get("source", "dp")
        row["contributions"].append({"date": date, "amount_minor": amount_minor,
                                     "source": source, "provider": journal.memo.get("provider")})
    elif journal.type == "pool_distribution" and amount_minor > 0:
        row["received_minor"] += amount_minor
        row["receipts"].append({"date": date, "amount_minor": amount_minor,
                                "description": journal.memo.get("description"),
                                "method": journal.memo.get("method")})
    elif journal.type == "pool_spend" and amount_minor < 0 and purchase is not None:
        row["charged_minor"] -= amount_minor
        row["charges"].append({**purchase, "part_minor": -amount_minor})
    elif journal.type == "pool_refund" and amount_minor < 0:
        row["refunded_minor"] -= amount_minor
        row["refunds"].append({"date": date, "amount_minor": -amount_minor,
                               "reason": journal.memo.get("reason", "leave")})
    else:  # a reversal, or anything else that moved the share
        row["corrections_minor"] += amount_minor
        row["corrections"].append({"date": date, "amount_minor": amount_minor,
                                   "type": journal.type,
                                   "corrects": journal.memo.get("reverses_type"),
                                   "reason": journal.memo.get("reason")})


def _common_line(common: dict, journal: Journal, amount_minor: int) -> None:
    if amount_minor > 0:
        common["in_minor"] += amount_minor
    else:
        common["out_minor"] -= amount_minor
    common["items"].append({"date": journal.date.isoformat(), "amount_minor": amount_minor,
                            "type": journal.type, "payer": journal.memo.get("payer"),
                            "description": journal.memo.get("description")})


def pool_statement(pool_state: dict, journals: list[Journal], parties: dict[str, dict],
                   pool: str, date_from: dt.date, date_to: dt.date) -> dict:
    """The group's statement for `date_from`..`date_to` inclusive. `journals` is every
    journal touching pool:{pool}:* dated on or before `date_to` (later ones are ignored)."""
    # By date; on the same date, in the order given (the order they were posted).
    ordered = sorted((j for j in journals if j.date <= date_to), key=lambda j: j.date)
    seen = {_owner(p.account, pool) for j in ordered for p in j.postings} - {None, "common"}
    from ledger.domain.pools import member_labels  # the rules package: pools only

    labels = member_labels(pool_state, parties, seen)  # type: ignore[arg-type]
    rows = {h: _new_member(h, label, pool_state, parties) for h, label in labels.items()}
    common: dict[str, Any] = {"opening_minor": 0, "in_minor": 0, "out_minor": 0, "closing_minor": 0,
              "items": []}
    purchases: list[dict] = []
    reversed_keys = {j.reverses_key for j in ordered if j.reverses_key}
    for journal in ordered:
        in_period = journal.date >= date_from
        purchase = None
        if in_period and journal.type == "pool_spend":
            purchase = _purchase(journal, pool, labels)
            purchase["reversed"] = journal.key in reversed_keys
            purchases.append(purchase)
        for posting in journal.postings:
            owner = _owner(posting.account, pool)
            if owner is None:
                continue
            target = common if owner == "common" else rows[owner]
            if not in_period:
                target["opening_minor"] += posting.amount_minor
            elif owner == "common":
                _common_line(common, journal, posting.amount_minor)
            else:
                _member_line(target, journal, posting.amount_minor, purchase)
    return _finish(pool_state, pool, date_from, date_to, rows, common, purchases, ordered)


def _finish(pool_state: dict, pool: str, date_from: dt.date, date_to: dt.date,
            rows: dict[str, dict], common: dict, purchases: list[dict],
            ordered: list[Journal]) -> dict:
    for row in rows.values():
        row["closing_minor"] = (row["opening_minor"] + row["contributed_minor"]
                                + row["received_minor"] - row["charged_minor"] - row["refunded_minor"]
                                + row["corrections_minor"])
    common["closing_minor"] = common["opening_minor"] + common["in_minor"] - common["out_minor"]
    members = [row for row in rows.values() if _shown(row, date_from, date_to)]
    shares_closing = sum(row["closing_minor"] for row in rows.values())
    total_closing = sum(p.amount_minor for j in ordered for p in j.postings
                        if _owner(p.account, pool) is not None)
    # Each side is computed on its own: the pool's money is exactly its shares plus common.
    assert total_closing == shares_closing + common["closing_minor"], pool
    closed = pool_state.get("closed")
    return {
        "pool": pool,
        "name": pool_state.get("name"),  # the display name given at pool_open, or None
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "opened": pool_state.get("opened"),
        "closed": closed if closed and closed <= date_to.isoformat() else None,
        "members": members,
        "common": common,
        "purchases": purchases,
        "totals": {
            "opening_minor": sum(r["opening_minor"] for r in rows.values())
            + common["opening_minor"],
            "contributed_minor": sum(r["contributed_minor"] for r in rows.values()),
            "received_minor": sum(r["received_minor"] for r in rows.values()),
            "charged_minor": sum(r["charged_minor"] for r in rows.values()),
            "refunded_minor": sum(r["refunded_minor"] for r in rows.values()),
            "corrections_minor": sum(r["corrections_minor"] for r in rows.values()),
            "shares_opening_minor": sum(r["opening_minor"] for r in rows.values()),
            "shares_closing_minor": shares_closing,
            "common_closing_minor": common["closing_minor"],
            "closing_minor": total_closing,
        },
        "total_minor": total_closing,
    }


def _shown(row: dict, date_from: dt.date, date_to: dt.date) -> bool:
    """Members in the pool during the period, or whose share moved or held money."""
    active = ((row["left"] is None or row["left"] >= date_from.isoformat())
              and (row["joined"] is None or row["joined"] <= date_to.isoformat()))
    moved = any(row[key] for key in _MEMBER_TOTALS)
    return active or moved


# ---------------------------------------------------------------- plain text


def money(pence: int) -> str:
    """£1,234.50; a minus sign in front of the pound sign when negative."""
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{rest:02d}"


def render_pool_statement_text(statement: dict) -> str:
    """The group's shared statement as plain English text: the same words as its HTML
    and PDF (docs/pools.md#reader-version)."""
    from ledger.reports.document import render_text
    from ledger.reports.pool_doc import pool_document

    return render_text(pool_document(statement))


def __getattr__(name: str):
    """`member_labels` is still found here (ledger.domain.pools keeps the rule); it is
    imported only when asked for, so reading a statement does not load the rules."""
    if name == "member_labels":
        from ledger.domain.pools import member_labels

        return member_labels
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
