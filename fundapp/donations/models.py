"""Donors, donations, monthly gifts, receipt numbers and the store of Stripe events.

A donation is created ``pending`` when the donor submits the form and becomes
``succeeded`` only when Stripe's money facts are booked (webhook or
reconciliation), in the same transaction as its journal entry. Its amounts
after that (gross, fee, net, refunded, disputed) come from Stripe's balance
transactions, never from the form. A receipt number (year and sequence) is
given once, when the gift settles, and never changes.
"""
from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow


class DonationStatus(enum.StrEnum):
    PENDING = "pending"  # the donor is at the checkout
    PROCESSING = "processing"  # paid by bank debit: Stripe confirms it (or not) days later
    ABANDONED = "abandoned"  # the checkout expired unpaid
    SUCCEEDED = "succeeded"  # settled and booked
    FAILED = "failed"  # the card was declined or the checkout abandoned
    REFUNDED = "refunded"  # all of it given back
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTE_LOST = "dispute_lost"  # the card's owner disputed the charge and the bank took the money back


#: What each status means, in words for the treasurer's pages (both languages).
GIFT_STATUS_NAMES = {
    DonationStatus.PENDING: _l("At the checkout"),
    DonationStatus.PROCESSING: _l("Bank payment on its way"),
    DonationStatus.ABANDONED: _l("Left at the checkout"),
    DonationStatus.SUCCEEDED: _l("Received"),
    DonationStatus.FAILED: _l("Declined"),
    DonationStatus.REFUNDED: _l("Refunded"),
    DonationStatus.PARTIALLY_REFUNDED: _l("Partly refunded"),
    DonationStatus.DISPUTE_LOST: _l("Taken back by a card dispute"),
}


class Frequency(enum.StrEnum):
    ONE_TIME = "one_time"
    MONTHLY = "monthly"


class Origin(enum.StrEnum):
    APP = "app"  # through our donate page
    STRIPE = "stripe"  # a charge we did not start: a Payment Link, the dashboard, the API
    OFFLINE = "offline"  # a cheque or cash recorded by the treasurer


class WallStatus(enum.StrEnum):
    HIDDEN = "hidden"  # not opted in, or hidden by the treasurer
    WAITING = "waiting"  # opted in; the treasurer has not looked yet
    SHOWN = "shown"


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Donor(db.Model):
    __tablename__ = "donors"
    #: One donor per email in a fund; a gift without an email has a donor of its own (nobody to tell apart).
    __table_args__ = (sa.Index("uq_donors_fund_id_email", "fund_id", "email", unique=True,
                               postgresql_where=sa.text("email <> ''"), sqlite_where=sa.text("email <> ''")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: Lower-case; "" for a gift whose payer left no email (a cash gift, an external charge).
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(100))
    #: Postal address, several lines: asked for gifts of LARGE_GIFT_CENTS or more (Schedule B lists the donor's
    #: name and address); "" when not known.
    postal_address: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    #: Part of every emailed sign-in link; raised when a link is used, so each link works once.
    link_nonce: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Donation(db.Model):
    __tablename__ = "donations"
    __table_args__ = (
        sa.UniqueConstraint("fund_id", "receipt_year", "receipt_seq"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_cents >= 0", name="refunded_not_negative"),
        sa.CheckConstraint("disputed_cents >= 0", name="disputed_not_negative"),
        sa.Index("ix_donations_fund_status", "fund_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    donor_id: Mapped[int] = mapped_column(sa.ForeignKey("donors.id"), index=True)
    #: The secret in the donor's /thanks and receipt links (the donation id is guessable; this is not).
    token: Mapped[str] = mapped_column(sa.String(40), unique=True, default=new_token)
    status: Mapped[str] = mapped_column(sa.String(20), default=DonationStatus.PENDING)
    frequency: Mapped[str] = mapped_column(sa.String(10), default=Frequency.ONE_TIME)
    origin: Mapped[str] = mapped_column(sa.String(10), default=Origin.APP)
    #: What the donor chose to give (cents); with the fee covered, the charge is amount + fee_cover.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    fee_cover_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    anonymous: Mapped[bool] = mapped_column(default=False)
    wall_status: Mapped[str] = mapped_column(sa.String(10), default=WallStatus.HIDDEN)
    wall_message: Mapped[str] = mapped_column(sa.String(200), default="")
    #: "" (none), "honor" or "memory", with the name of the person.
    dedication_kind: Mapped[str] = mapped_column(sa.String(10), default="")
    dedication_name: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Offline gifts: "cheque" or "cash", and the cheque number or other reference.
    method: Mapped[str] = mapped_column(sa.String(10), default="card")
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    #: The settled charge: one donation per charge, so a charge is booked once.
    stripe_charge_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    stripe_invoice_id: Mapped[str | None] = mapped_column(sa.String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    #: From Stripe's balance transaction once settled (cents): gross = fee + net.
    gross_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    fee_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    net_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: What a lost card dispute took back (cents): not received, like a refund. An open dispute's withdrawal
    #: is in the books but counts here only once the dispute is lost (a won one gives the money back).
    disputed_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: The day the money was given (the charge's date, or the cheque's).
    received_on: Mapped[date | None] = mapped_column(sa.Date)
    receipt_year: Mapped[int | None] = mapped_column()
    receipt_seq: Mapped[int | None] = mapped_column()
    #: Production did not mail the receipt while the fund's EIN or contact was a placeholder; the worker mails
    #: it once both are set (``receipts.send_held_receipts``).
    receipt_held: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    failure_message: Mapped[str] = mapped_column(sa.String(300), default="")
    #: Offline gifts: the bank deposit that took the cheque or cash to the bank (None while undeposited).
    deposit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deposits.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    donor: Mapped[Donor] = relationship(lazy="joined")

    @property
    def total_cents(self) -> int:
        """What the card is charged: the gift plus the fee the donor chose to cover."""
        return self.amount_cents + self.fee_cover_cents

    @property
    def receipt_number(self) -> str | None:
        if self.receipt_seq is None:
            return None
        return f"{self.receipt_year}-{self.receipt_seq:06d}"


class Deposit(db.Model):
    """Cheques and cash taken to the bank together: one entry from Assets:Undeposited to Assets:Bank."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    deposited_on: Mapped[date] = mapped_column(sa.Date)
    #: The bank's deposit slip number or similar.
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonthlyGift(db.Model):
    """A donor's monthly pledge (a Stripe subscription); each paid month is its own Donation."""

    __tablename__ = "monthly_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    donor_id: Mapped[int] = mapped_column(sa.ForeignKey("donors.id"), index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when the donor (or Stripe, after failed payments) ends it.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatementSent(db.Model):
    """A year-end statement mailed to a donor: ``send-statements`` skips those already sent."""

    __tablename__ = "statements_sent"
    __table_args__ = (sa.UniqueConstraint("fund_id", "donor_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    donor_id: Mapped[int] = mapped_column(sa.ForeignKey("donors.id"))
    year: Mapped[int] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptCounter(db.Model):
    """The last receipt number given per fund and year; incremented under a row lock."""

    __tablename__ = "receipt_counters"

    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class StripeEvent(db.Model):
    """Every webhook event received, raw, once: a repeated id is a duplicate delivery.

    The webhook only stores it; the event worker applies it (``processed_at``), and
    on an error tries again later (``attempts``, ``next_attempt_at``, ``last_error``).
    """

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funds.id"))
    type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # applied, ignored
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    #: For a payment that named no fund: its amount and payer, as the host sees it to assign it.
    summary: Mapped[str | None] = mapped_column(sa.String(300))

    __table_args__ = (
        # the worker's queue: what waits, oldest first (a partial index on PostgreSQL and SQLite)
        sa.Index("ix_stripe_events_waiting", "received_at", postgresql_where=sa.text("processed_at IS NULL"),
                 sqlite_where=sa.text("processed_at IS NULL")),
    )
