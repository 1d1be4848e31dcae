"""Accounts, journal entries, postings and closed periods (see the package docstring)."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow


class AccountType(enum.StrEnum):
    """The five kinds of account, named as Beancount's roots."""

    ASSETS = "Assets"
    LIABILITIES = "Liabilities"
    INCOME = "Income"
    EXPENSES = "Expenses"
    EQUITY = "Equity"


#: The chart of accounts every fund starts with (DESIGN.md section 3).
CHART = (
    "Assets:Stripe",
    "Assets:Bank",
    "Assets:Undeposited",
    "Liabilities:GrantsPayable",
    "Income:Donations",
    "Expenses:PaymentFees",
    "Expenses:HardshipGrants",
    "Equity:Opening",
)
#: The fund's own money: its Stripe balance, bank and undeposited cheques; and, on an installation of several
#: funds, what the host holds for it (Assets:HostClearing) less, in the host's own fund, what its bank holds for
#: the others (Liabilities:HostClearing, a credit). Opened when first used (``donations.booking``), so absent from
#: the standard chart.
CASH_ACCOUNTS = ("Assets:Stripe", "Assets:Bank", "Assets:Undeposited", "Assets:HostClearing",
                 "Liabilities:HostClearing")


class Account(db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (sa.UniqueConstraint("fund_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: Beancount-style name, e.g. "Assets:Bank"; its root is its type.
    name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def type(self) -> AccountType:
        return AccountType(self.name.split(":", 1)[0])


class JournalEntry(db.Model):
    __tablename__ = "journal_entries"
    __table_args__ = (
        sa.UniqueConstraint("fund_id", "source_kind", "source_id"),
        sa.Index("ix_journal_entries_fund_date", "fund_id", "entry_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: The accounting date (the day the money moved), not when the row was written.
    entry_date: Mapped[date] = mapped_column(sa.Date)
    memo: Mapped[str] = mapped_column(sa.String(500))
    #: What caused it, e.g. "stripe.charge", "grant.approval", "manual", "reversal".
    source_kind: Mapped[str] = mapped_column(sa.String(40))
    #: The id of the cause in its own system (a Stripe charge id, a grant id...).
    source_id: Mapped[str] = mapped_column(sa.String(100))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: Set on a reversing entry: the entry it cancels. Unique, so an entry is reversed once.
    reversal_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", lazy="selectin", order_by="Posting.id", cascade="save-update"
    )


class Posting(db.Model):
    __tablename__ = "postings"
    __table_args__ = (sa.CheckConstraint("amount_cents <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), index=True)
    #: Signed cents: a debit is positive, a credit negative.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship(lazy="joined")


class ClosedPeriod(db.Model):
    """A month whose books are closed: no entry may be dated inside it."""

    __tablename__ = "closed_periods"
    __table_args__ = (sa.UniqueConstraint("fund_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: "YYYY-MM"
    month: Mapped[str] = mapped_column(sa.String(7))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


#: Rows per account and day in ``DayTotal``: bookings at the same moment update different rows.
DAY_TOTAL_SLOTS = 8


class DayTotal(db.Model):
    """The net of an account's postings on one day (debit positive), kept up by ``post_entry`` in the
    same transaction as the postings, so a balance sums days rather than every posting.

    Derived and checkable: ``services.check_day_totals`` compares it with the postings and
    ``services.rebuild_day_totals`` writes it again from them. Each day is spread over
    DAY_TOTAL_SLOTS rows (chosen by entry id), so concurrent bookings rarely wait on one row.
    """

    __tablename__ = "ledger_day_totals"
    __table_args__ = (sa.UniqueConstraint("fund_id", "account_id", "day", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    slot: Mapped[int] = mapped_column(sa.SmallInteger)
    cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: How many entries credit the account that day (e.g. gifts received, for Income:Donations).
    credits: Mapped[int] = mapped_column(sa.BigInteger)


class ImmutableLedger(Exception):
    """Something tried to change or delete a posted entry or posting."""


@sa.event.listens_for(Session, "before_flush")
def _refuse_ledger_changes(session: Session, _context: object, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, (JournalEntry, Posting)):
            raise ImmutableLedger(f"{type(obj).__name__} {obj.id} cannot be deleted: post a reversal instead")
    for obj in session.dirty:
        if isinstance(obj, (JournalEntry, Posting)) and session.is_modified(obj, include_collections=False):
            raise ImmutableLedger(f"{type(obj).__name__} {obj.id} cannot be changed: post a reversal instead")


class AccountMapping(db.Model):
    """Where one of our accounts goes in the union's own books: its account name in QuickBooks Online and its
    account code in Xero, used by the journal import files. Empty: the account exports under our own name."""

    __tablename__ = "ledger_account_mappings"
    __table_args__ = (sa.UniqueConstraint("fund_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    #: The account's full name in QuickBooks Online ("Parent:Sub" for a sub-account); "" when not mapped.
    quickbooks_account: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    #: The account's code in Xero's chart ("200", not "200 - Sales"); "" when not mapped.
    xero_account_code: Mapped[str] = mapped_column(sa.String(10), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FundTransfer(db.Model):
    """Money one fund of the installation gives another (a wound-down fund's balance, say): proposed by the giving
    fund's treasurer, approved by a trustee of each fund (never the proposer), then booked in both funds' books at
    once through the host's clearing accounts (``ledger.transfers``)."""

    __tablename__ = "fund_transfers"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("from_fund_id <> to_fund_id", name="two_funds"),
        # booked only once both sides approved
        sa.CheckConstraint("booked_at IS NULL OR (from_approved_at IS NOT NULL AND to_approved_at IS NOT NULL)",
                           name="booked_when_approved"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    to_fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    memo: Mapped[str] = mapped_column(sa.String(300))
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    from_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    to_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
