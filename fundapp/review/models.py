"""Approvals (one per trustee per application) and grant payments (each booked; a void is a reversal)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow


class Approval(db.Model):
    """A trustee's approval of an amount; a grant above the threshold needs several, from different trustees."""

    __tablename__ = "approvals"
    __table_args__ = (sa.UniqueConstraint("application_id", "trustee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    trustee_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: Which of the fund's criteria the trustee applied (free text, kept in the case file).
    criteria: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GrantPayment(db.Model):
    __tablename__ = "grant_payments"
    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="payment_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: "cheque", "ach", "zelle" or "cash".
    method: Mapped[str] = mapped_column(sa.String(10))
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    paid_on: Mapped[date] = mapped_column(sa.Date)
    payee_name: Mapped[str] = mapped_column(sa.String(200))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str] = mapped_column(sa.String(500), default="")


class Relationship(db.Model):
    """A trustee's declared relationship with a member (family, household, close friend...): they recuse."""

    __tablename__ = "trustee_relationships"
    __table_args__ = (sa.UniqueConstraint("trustee_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    trustee_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    relation: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseReviewer(db.Model):
    """A trustee who took a case on: the assigned reviewers, who alone read its sealed notes."""

    __tablename__ = "case_reviewers"
    __table_args__ = (sa.UniqueConstraint("application_id", "trustee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    trustee_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(db.Model):
    """The trustees' own note on a case (never shown to the member). A sealed note (medical or other
    sensitive detail) is read only by its author and the case's assigned reviewers; others see that it
    exists and who wrote it, not what it says."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    sealed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application = relationship("Application")
