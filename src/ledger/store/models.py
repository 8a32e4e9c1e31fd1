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
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
)

from ledger.store.tables import Base, Mapped, mapped_column  # Core tables, no ORM: tables.py

# Ids are 64-bit (docs/architecture.md#keys). SQLite's INTEGER already is, and only a
# column declared exactly INTEGER is its row id, numbered by the database.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _ledger_fk(table: str, column: str, name: str) -> ForeignKeyConstraint:
    """A reference to a row of the same ledger: (ledger_id, column) -> table's key."""
    return ForeignKeyConstraint(["ledger_id", column], [f"{table}.ledger_id", f"{table}.id"],
                                name=name)


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


class LedgerName(Base):
    """Each ledger's name, once (docs/architecture.md#keys): where a name is looked up.
    On a distributed database this small table is on every machine, where `ledger` is
    spread by id and cannot itself keep names unique. Append-only."""

    __tablename__ = "ledger_name"
    __table_args__ = (PrimaryKeyConstraint("name", name="pk_ledger_name"),
                      UniqueConstraint("ledger_id", name="uq_ledger_name_ledger"))

    name: Mapped[str] = mapped_column(String(60))
    ledger_id: Mapped[int] = mapped_column(Integer)


def _ledger_id() -> Mapped[int]:
    return mapped_column(ForeignKey("ledger.id"))


class Account(Base):
    """`holder`: the budget holder the account belongs to (holder:{H}:*, isf:{H}:*,
    pool:*:{H}, fund:*:award:{H}), so a statement finds a person's accounts by index.
    `event_key`: the record that opened it, whose hash covers its properties (None:
    opened before that was kept, docs/rules-trust.md#accounts). Never changed."""

    __tablename__ = "account"
    __table_args__ = (PrimaryKeyConstraint("ledger_id", "id", name="account_pkey"),
                      UniqueConstraint("ledger_id", "path", name="uq_account_path"),
                      Index("ix_account_holder", "ledger_id", "holder"))

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
    ledger_id: Mapped[int] = _ledger_id()
    path: Mapped[str] = mapped_column(String(200))
    holder: Mapped[str | None] = mapped_column(String(60))
    event_key: Mapped[str | None] = mapped_column(String(300))


class Balance(Base):
    """The running balance of one account in one unit, kept by the seal trigger."""

    __tablename__ = "balance"
    __table_args__ = (
        PrimaryKeyConstraint("ledger_id", "account_id", "unit", name="balance_pkey"),
        CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),
        _ledger_fk("account", "account_id", "fk_balance_account"),
    )

    ledger_id: Mapped[int] = _ledger_id()
    account_id: Mapped[int] = mapped_column(BigId)
    unit: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AccountFloor(Base):
    """The floor below which no event may take an account's balance (docs/rules-trust.md
    #floors). Append-only: a new floor is a new row; the newest row for an account and
    unit applies. An account with no row has no floor."""

    __tablename__ = "account_floor"
    __table_args__ = (
        PrimaryKeyConstraint("ledger_id", "id", name="account_floor_pkey"),
        CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_account_floor_unit"),
        Index("ix_account_floor_account", "ledger_id", "account_id", "unit"),
        _ledger_fk("account", "account_id", "fk_account_floor_account"),
    )

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
    ledger_id: Mapped[int] = _ledger_id()
    account_id: Mapped[int] = mapped_column(BigId)
    unit: Mapped[str] = mapped_column(String(3))
    floor_minor: Mapped[int] = mapped_column(BigInteger)
    event_key: Mapped[str] = mapped_column(String(300))


class Journal(Base):
    __tablename__ = "journal"
    __table_args__ = (
        PrimaryKeyConstraint("ledger_id", "id", name="journal_pkey"),
        CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
        UniqueConstraint("ledger_id", "key", name="uq_journal_key"),
        UniqueConstraint("ledger_id", "reverses_id", name="uq_journal_reverses"),
        _ledger_fk("journal", "reverses_id", "fk_journal_reverses"),
        Index("ix_journal_date", "ledger_id", "date"),
        Index("ix_journal_event_key", "ledger_id", "event_key"),
        Index("ix_journal_holder", "ledger_id", "holder"),
    )

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
    ledger_id: Mapped[int] = _ledger_id()
    key: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(60))
    date: Mapped[dt.date] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    holder: Mapped[str | None] = mapped_column(String(60))
    reverses_id: Mapped[int | None] = mapped_column(BigId)
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
        PrimaryKeyConstraint("ledger_id", "id", name="posting_pkey"),
        Index("ix_posting_account", "ledger_id", "account_id", "unit", "date"),
        Index("ix_posting_journal", "ledger_id", "journal_id"),
        _ledger_fk("journal", "journal_id", "fk_posting_journal"),
        _ledger_fk("account", "account_id", "fk_posting_account"),
    )

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
    ledger_id: Mapped[int] = _ledger_id()
    journal_id: Mapped[int] = mapped_column(BigId)
    account_id: Mapped[int] = mapped_column(BigId)
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
    __table_args__ = (PrimaryKeyConstraint("ledger_id", "id", name="period_lock_pkey"),
                      Index("ix_period_lock_ledger", "ledger_id", "until"))

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
    ledger_id: Mapped[int] = _ledger_id()
    until: Mapped[dt.date] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PartyRecord(Base):
    """A party's record from a date on (a declaration: from the beginning, valid_from
    NULL; a `party_update`: from its date). Append-only; the newest row in force on a
    date is the record (docs/rules-trust.md#parties)."""

    __tablename__ = "party_record"
    __table_args__ = (PrimaryKeyConstraint("ledger_id", "seq", name="party_record_pkey"),
                      Index("ix_party_record_party", "ledger_id", "kind", "id"))

    seq: Mapped[int] = mapped_column(BigId, autoincrement=True)
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


class AuditRecord(Base):
    """One record of a ledger's audit chain (docs/rules-trust.md#audit-chain): a sign-in
    made, a password or roles set, a sign-in removed, a session started or ended, an
    invitation made or used, a statement read. Append-only (triggers refuse UPDATE,
    DELETE, TRUNCATE and an insert that does not continue the chain) and chained apart
    from the books, so nothing here moves the books' head. `id` is never reused (SQLite
    AUTOINCREMENT, PostgreSQL identity); a sign-in's id is the id of its `user_added`
    record. No foreign key to `ledger`: on PostgreSQL it would make every append wait for
    a books writer holding the ledger's row (the insert trigger checks the ledger)."""

    __tablename__ = "audit_record"
    __table_args__ = (
        PrimaryKeyConstraint("ledger_id", "id", name="audit_record_pkey"),
        UniqueConstraint("ledger_id", "seq", name="uq_audit_record_seq"),
        Index("ix_audit_record_key", "ledger_id", "key"),
        Index("ix_audit_record_user", "ledger_id", "user_id", "kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, Identity())
    ledger_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(BigId)
    key: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class WebLoginFailure(Base):
    """A failed sign-in, by username and by address, for the rate limit."""

    __tablename__ = "web_login_failure"
    __table_args__ = (PrimaryKeyConstraint("ledger_id", "id", name="web_login_failure_pkey"),
                      Index("ix_web_login_failure_key", "ledger_id", "key", "at"))

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)
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
    "AuditRecord",
    "Balance",
    "Base",
    "Event",
    "InstrumentState",
    "Journal",
    "Ledger",
    "LedgerName",
    "PartyRecord",
    "PeriodLock",
    "Posting",
    "WebLoginFailure",
    "WebSecret",
]
