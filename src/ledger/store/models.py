"""The schema as SQLAlchemy 2 typed mappings. Alembic owns the database schema
(migrations/); these mappings must match it exactly (`alembic check` reports no drift,
and a test runs it). Triggers that defend the invariants live in store/guards.py."""

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
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)


class Balance(Base):
    """The running balance of one account in one unit, kept by the seal trigger, and the
    floor below which no journal may take it (NULL: no floor)."""

    __tablename__ = "balance"
    __table_args__ = (CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    floor_minor: Mapped[int | None] = mapped_column(BigInteger)


class Journal(Base):
    __tablename__ = "journal"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
        Index("ix_journal_date", "date"),
        Index("ix_journal_event_key", "event_key"),
        Index("ix_journal_holder", "holder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
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
    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_posting_unit"),
        CheckConstraint("amount_minor <> 0", name="ck_posting_nonzero"),
        Index("ix_posting_account", "account_id", "unit"),
        Index("ix_posting_journal", "journal_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("journal.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    unit: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """Every applied scenario event (or command) under its idempotency key."""

    __tablename__ = "event"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    date: Mapped[dt.date] = mapped_column(Date)
    payload_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PeriodLock(Base):
    __tablename__ = "period_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    until: Mapped[dt.date] = mapped_column(Date)
    event_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class Party(Base):
    __tablename__ = "party"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text)


class InstrumentState(Base):
    """Bookkeeping an instrument keeps beside the balances (ISF hour lots, schedules,
    pool membership, rate cards). Written in the same transaction as the journals."""

    __tablename__ = "instrument_state"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    ref: Mapped[str] = mapped_column(String(300), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


__all__ = [
    "Account",
    "Balance",
    "Base",
    "Event",
    "InstrumentState",
    "Journal",
    "Party",
    "PeriodLock",
    "Posting",
]
