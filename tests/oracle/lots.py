"""Hour lots of one ISF, worked out from its timeline in date order (contract section 3,
`isf_delivery` and `isf_reconcile`, changed 2026-12-06; docs/rules-dp-isf.md for the carry
rules and the reversal hooks). Used by tests/oracle/isf.py."""

from __future__ import annotations

from collections.abc import Callable


def expire_lots(lots: list[list], borrowed: int, month: int, terms: dict) -> list[tuple]:
    """isf_reconcile steps (1) and (2) on the lots as they stand at the end of M."""
    out = []
    for lot in lots:
        if lot[0] + terms["expire"] <= month and lot[1] > 0:
            out.append((lot[2], lot[1]))
            lot[1] = 0
    if terms["max_hours"] is not None:
        counted = [lot for lot in lots if lot[0] <= month]
        excess = sum(lot[1] for lot in counted) - borrowed - terms["max_hours"]
        for lot in counted:
            take = min(lot[1], max(excess, 0))
            if take:
                lot[1] -= take
                excess -= take
                out.append((lot[2], take))
    return out


def replay(timeline: list[dict], unsure: Callable[[str], None]) -> tuple[list[list], int, dict]:
    """The lots ([month, minutes, seq of the advance]), the minutes borrowed, and what each
    entry did, from the ISF's timeline in date order (ties in the order recorded)."""
    lots: list[list] = []  # [month, minutes, seq of the advance], oldest month first
    borrowed = 0
    results: dict[int, dict] = {}

    def lot_of(seq: int) -> list | None:
        return next((lot for lot in lots if lot[2] == seq), None)

    for e in sorted(timeline, key=lambda e: e["pos"]):
        kind, out = e["kind"], {}
        if kind == "advance":
            repay = min(borrowed, e["lot"])
            borrowed -= repay
            lots.append([e["month"], e["lot"] - repay, e["seq"]])
            lots.sort(key=lambda lot: (lot[0], lot[2]))
        elif kind == "delivery":
            left, taken = e["minutes"], []
            for lot in lots:
                take = min(lot[1], left)
                if take:
                    lot[1] -= take
                    left -= take
                    taken.append((lot[2], take))
            borrowed += left
            out = {"taken": taken, "borrowed": left, "over": borrowed > e["limit"]}
        elif kind == "reconcile":
            out = {"expired": expire_lots(lots, borrowed, e["month"], e["terms"])}
        elif e["target"] not in results:
            unsure("a reversal dated before what it reverses")
        elif kind == "undeliver":
            done = results[e["target"]]
            for seq, m in done["taken"]:
                if lot_of(seq) is None:
                    unsure("the lot is gone")
                    continue
                lot_of(seq)[1] += m
            cancel = min(done["borrowed"], borrowed)
            borrowed -= cancel
            if done["borrowed"] > cancel:
                if not lots:
                    unsure("no lot to give repaid minutes to")
                else:
                    lots[-1][1] += done["borrowed"] - cancel
        elif kind == "unadvance":
            lot = lot_of(e["target"])
            given = -1 if lot is None else e["lot"] - lot[1]
            if given < 0:
                unsure("the lot is gone or holds more than it was advanced with")
            else:
                lots.remove(lot)
                for other in lots:
                    take = min(other[1], given)
                    other[1] -= take
                    given -= take
                borrowed += given
            out = {"over": borrowed > e["limit"]}
        elif kind == "unreconcile":
            for seq, m in results[e["target"]]["expired"]:
                if lot_of(seq) is None:
                    unsure("the lot is gone")
                    continue
                lot_of(seq)[1] += m
        results[e["seq"]] = out
    return lots, borrowed, results
