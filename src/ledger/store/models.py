"""The schema as SQLAlchemy 2 typed mappings. Alembic owns the database schema
(migrations/); these mappings must match it exactly (`alembic check` reports no drift,
and a test runs it). The triggers that defend the invariants live in the migrations
themselves (migrations/versions/), each revision with its own SQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Ledger(Base):
    """One set of books in the database (docs/architecture.md#ledgers): its name and the
    heads of its two hash chains. A writer locks this row, so writers in different
    ledgers never wait on each other."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("name", name="uq_ledger_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    event_seq: Mapped[int] = mapped_column(Integer)
    event_hash: Mapped[str] = mapped_column(String(64))
    journal_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


def _ledger_id() -> Mapped[int]:
    return mapped_column(ForeignKey("ledger.id"))


class Account(Base):
    """`holder`: the budget holder the account belongs to (holder:{H}:*, isf:{H}:*,
    pool:*:{H}, fund:*:award:{H}), so a statement finds a person's accounts by index."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("ledger_id", "path", name="uq_account_path"),
                      Index("ix_account_holder", "ledger_id", "holder"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    path: Mapped[str] = mapped_column(String(200))
    holder: Mapped[str | None] = mapped_column(String(60))


class Balance(Base):
    """The running balance of one account in one unit, kept by the seal trigger."""

    __tablename__ = "balance"
    __table_args__ = (CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),)

    ledger_id: Mapped[int] = _ledger_id()
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AccountFloor(Base):
    """The floor below which no event may take an account's balance (docs/rules-trust.md
    #floors). Append-only: a new floor is a new row; the newest row for an account and
    unit applies. An account with no row has no floor."""

    __tablename__ = "account_floor"
    __table_args__ = (
        CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_account_floor_unit"),
        Index("ix_account_floor_account", "account_id", "unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    unit: Mapped[str] = mapped_column(String(3))
    floor_minor: Mapped[int] = mapped_column(BigInteger)
    event_key: Mapped[str] = mapped_column(String(300))


class Journal(Base):
    __tablename__ = "journal"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
        UniqueConstraint("ledger_id", "key", name="uq_journal_key"),
        Index("ix_journal_date", "ledger_id", "date"),
        Index("ix_journal_event_key", "ledger_id", "event_key"),
        Index("ix_journal_holder", "ledger_id", "holder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    key: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(60))
    date: Mapped[dt.date] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    holder: Mapped[str | None] = mapped_column(String(60))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal.id"), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    status: Mapped[str] = mapped_column(String(10), default="draft", server_default="draft")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class Posting(Base):
    """`date` is always its journal's date (checked on insert): it lets one account's
    postings from a date on be read through an index."""

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_posting_unit"),
        CheckConstraint("amount_minor <> 0", name="ck_posting_nonzero"),
        Index("ix_posting_account", "account_id", "unit", "date"),
        Index("ix_posting_journal", "journal_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    journal_id: Mapped[int] = mapped_column(ForeignKey("journal.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    unit: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[dt.date] = mapped_column(Date)


class Event(Base):
    """Every applied scenario event (or command, or party declaration) under its
    idempotency key: one record of the hash chain. `seq` orders the chain; `hash` covers
    every stored field of the record, of each journal it posted and of each party record
    it wrote (docs/rules-trust.md#verify). `payload` is the event as written, so `verify`
    can replay it; `rules_version` the rules it was recorded under, which the replay uses
    (docs/rules-trust.md#rules-versions; records from before versions were stored are 1)."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_seq", "ledger_id", "seq", unique=True),)

    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledger.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    date: Mapped[dt.date] = mapped_column(Date)
    payload_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    seq: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[int] = mapped_column(Integer, server_default="1")


class PeriodLock(Base):
    __tablename__ = "period_lock"
    __table_args__ = (Index("ix_period_lock_ledger", "ledger_id", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    until: Mapped[dt.date] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PartyRecord(Base):
    """A party's record from a date on (a declaration: from the beginning, valid_from
    NULL; a `party_update`: from its date). Append-only; the newest row in force on a
    date is the record (docs/rules-trust.md#parties)."""

    __tablename__ = "party_record"
    __table_args__ = (Index("ix_party_record_party", "ledger_id", "kind", "id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    kind: Mapped[str] = mapped_column(String(20))
    id: Mapped[str] = mapped_column(String(60))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    data: Mapped[str] = mapped_column(Text)


class InstrumentState(Base):
    """Bookkeeping an instrument keeps beside the balances (ISF hour lots, schedules,
    pool membership, rate cards). Written in the same transaction as the journals."""

    __tablename__ = "instrument_state"

    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledger.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    ref: Mapped[str] = mapped_column(String(300), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class WebUser(Base):
    """A sign-in for the web view (docs/web.md), in one ledger; the password only as an
    Argon2id hash."""

    __tablename__ = "web_user"
    __table_args__ = (UniqueConstraint("ledger_id", "username", name="uq_web_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class WebRole(Base):
    """What a sign-in may read: `holder:H`, `pool:L`, `provider:P`, `council:C` or
    `auditor` (docs/web.md#roles)."""

    __tablename__ = "web_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(120), primary_key=True)


class WebInvite(Base):
    """A one-time invitation to make a sign-in with the given roles; only the SHA-256 of
    its token is kept."""

    __tablename__ = "web_invite"
    __table_args__ = (UniqueConstraint("token_sha256", name="uq_web_invite_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    token_sha256: Mapped[str] = mapped_column(String(64))
    roles: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("web_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebLoginFailure(Base):
    """A failed sign-in, by username and by address, for the rate limit."""

    __tablename__ = "web_login_failure"
    __table_args__ = (Index("ix_web_login_failure_key", "ledger_id", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_id: Mapped[int] = _ledger_id()
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class WebSecret(Base):
    """The key that signs a ledger's session cookies, shared by every web worker."""

    __tablename__ = "web_secret"

    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledger.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))


__all__ = [
    "Account",
    "AccountFloor",
    "Balance",
    "Base",
    "Event",
    "InstrumentState",
    "Journal",
    "Ledger",
    "PartyRecord",
    "PeriodLock",
    "Posting",
    "WebInvite",
    "WebLoginFailure",
    "WebRole",
    "WebSecret",
    "WebUser",
]
