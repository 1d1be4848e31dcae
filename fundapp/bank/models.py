"""Statement imports, their lines, the matches to the ledger's postings, and each fund's CSV layout."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow


class BankCsvFormat(db.Model):
    """Which columns of the bank's CSV hold what, remembered per fund (the last layout imported)."""

    __tablename__ = "bank_csv_formats"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), unique=True)
    #: Column names as the file's header row spells them; amount, or debit and credit, are given.
    date_column: Mapped[str] = mapped_column(sa.String(100))
    description_column: Mapped[str] = mapped_column(sa.String(100), default="")
    amount_column: Mapped[str] = mapped_column(sa.String(100), default="")
    debit_column: Mapped[str] = mapped_column(sa.String(100), default="")
    credit_column: Mapped[str] = mapped_column(sa.String(100), default="")
    reference_column: Mapped[str] = mapped_column(sa.String(100), default="")
    #: A strptime pattern from ``services.DATE_FORMATS``.
    date_format: Mapped[str] = mapped_column(sa.String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BankImport(db.Model):
    __tablename__ = "bank_imports"
    __table_args__ = (sa.UniqueConstraint("fund_id", "account_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: The ledger's bank account the statement is of (Assets:Bank).
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: "csv" or "ofx".
    file_format: Mapped[str] = mapped_column(sa.String(10))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    period_start: Mapped[date] = mapped_column(sa.Date)
    #: The statement's end date: the day its ending balance is at.
    period_end: Mapped[date] = mapped_column(sa.Date)
    #: The bank's balance at the end of ``period_end`` (OFX LEDGERBAL, or typed by the treasurer for a CSV).
    ending_balance_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    line_count: Mapped[int] = mapped_column(sa.Integer)
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankStatementLine(db.Model):
    __tablename__ = "bank_statement_lines"
    __table_args__ = (
        sa.CheckConstraint("amount_cents <> 0", name="bank_line_not_zero"),
        sa.CheckConstraint("matched_cents = 0 OR matched_cents = amount_cents", name="bank_line_matched_whole"),
        sa.UniqueConstraint("fund_id", "account_id", "fitid"),
        sa.UniqueConstraint("fund_id", "account_id", "fingerprint"),
        sa.Index("ix_bank_statement_lines_fund_date", "fund_id", "line_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_imports.id"), index=True)
    line_date: Mapped[date] = mapped_column(sa.Date)
    #: Signed cents as the ledger counts the bank account: money in positive, money out negative.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    #: The cheque number, deposit slip or other reference the bank prints.
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    #: The bank's own transaction id (OFX FITID), when the file has one.
    fitid: Mapped[str | None] = mapped_column(sa.String(255))
    #: SHA-256 of (date, amount, reference, occurrence in the file): the same line seen again.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    #: 0 while unmatched, the line's amount once matched (never part of it).
    matched_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    bank_import: Mapped[BankImport] = relationship(lazy="joined")
    matches: Mapped[list[BankMatch]] = relationship(back_populates="line", lazy="selectin", order_by="BankMatch.id")

    @property
    def is_matched(self) -> bool:
        return self.matched_cents != 0


class BankMatch(db.Model):
    """One posting on the bank account that accounts for (part of) one statement line."""

    __tablename__ = "bank_matches"
    __table_args__ = (sa.CheckConstraint("amount_cents <> 0", name="bank_match_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_statement_lines.id"), index=True)
    #: Matched at most once.
    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id"), unique=True)
    #: The posting's amount (a posting is matched whole).
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: "match" (confirmed by the treasurer), "split" (one of several postings), "fee" or "interest" (booked here).
    kind: Mapped[str] = mapped_column(sa.String(10))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    line: Mapped[BankStatementLine] = relationship(back_populates="matches")
