"""`party_update`: the only way a party's name, pseudonym, consent to show a name or
statement format changes after it is declared (docs/rules-trust.md#parties).

It posts nothing. It writes a new version of the party's record, valid from its date, so
a statement uses the record in force on its last day: consent given on 1 July shows the
name from July's statement on, never in June's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ledger.core.text import text_problem
from ledger.domain.base import Ctx, Event, PartyId, handles
from ledger.errors import LedgerError

# The fields each kind of party may change (a holder's council never changes).
CHANGEABLE = {
    "holder": ("name", "pseudonym", "show_name", "statement_format"),
    "provider": ("name",),
}


class PartyUpdate(Event):
    type: Literal["party_update"]
    holder: PartyId | None = None
    provider: PartyId | None = None
    name: str | None = Field(default=None, max_length=200)
    pseudonym: str | None = Field(default=None, max_length=100)
    show_name: bool | None = None
    statement_format: Literal["standard", "easy_read", "large_print"] | None = None
    council: PartyId | None = None  # named only to refuse it clearly

    @field_validator("name", "pseudonym")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        # Nothing may forge a line in a statement (docs/rules-trust.md#reading).
        problem = text_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_party(self) -> PartyUpdate:
        if (self.holder is None) == (self.provider is None):
            raise ValueError("name exactly one holder or provider")
        return self


@handles(PartyUpdate)
def party_update(ctx: Ctx, event: PartyUpdate) -> None:
    kind = "holder" if event.holder is not None else "provider"
    party_id = event.holder if event.holder is not None else event.provider
    assert party_id is not None
    if event.council is not None:
        raise LedgerError("invalid", "a holder's council never changes (it is whose budget "
                          "it is); declare the person under a new id if it must")
    given = {f: getattr(event, f) for f in ("name", "pseudonym", "show_name", "statement_format")
             if f in event.model_fields_set}
    refused = sorted(set(given) - set(CHANGEABLE[kind]))
    if refused:
        raise LedgerError("invalid", f"a {kind}'s {', '.join(refused)} cannot be changed")
    if not given:
        raise LedgerError("invalid", f"give the {kind}'s fields that change "
                          f"({', '.join(CHANGEABLE[kind])})")
    if given.get("name", "") is None or given.get("show_name", False) is None \
            or ("statement_format" in given and given["statement_format"] is None):
        raise LedgerError("invalid", "name, show_name and statement_format need a value")
    record = ctx.party(kind, party_id)  # unknown_party if never declared
    locked = ctx.backend.locked_until()
    if locked is not None and event.date <= locked:
        raise LedgerError("period_closed", f"{event.date} is in a closed period (closed up to "
                          f"{locked}): the statements of a closed period never change")
    # Updates of one party go in date order, so each version is the one before it plus
    # what changed, and a statement's record on any date is unambiguous.
    ref = f"{kind}:{party_id}"
    last = (ctx.state("party_update", ref) or {}).get("valid_from")
    if last is not None and event.date.isoformat() < last:
        raise LedgerError("invalid", f"{kind} {party_id!r} was already updated from {last}; "
                          "updates of one party go in date order")
    record.update(given)
    ctx.change.parties.append({**record, "kind": kind, "id": party_id,
                               "valid_from": event.date.isoformat()})
    ctx.put_state("party_update", ref, {"valid_from": event.date.isoformat()})
