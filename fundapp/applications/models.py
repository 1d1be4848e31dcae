"""Applications, their documents and messages, and the fund's rules (a new version for every change).

An application carries its own status and amounts and changes status only
through ``states.transition`` (DESIGN 5). It records the rules version it was
judged under, so a later change of rules never rewrites an old decision.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fundapp.extensions import UTCDateTime, db, utcnow

#: The categories a new fund starts with (keys; their names are translated on the pages).
DEFAULT_CATEGORIES = ("rent", "utilities", "food", "medical", "childcare", "transportation", "other")


#: The kinds of need, in the member's words; a fund's rules choose which it helps with.
CATEGORY_NAMES = {
    "rent": _l("Rent or mortgage"), "utilities": _l("Utilities (power, gas, water, phone)"), "food": _l("Food"),
    "medical": _l("Medical costs or medicine"), "childcare": _l("Childcare"),
    "transportation": _l("Transportation"), "other": _l("Something else"),
}


def category_name(key: str) -> str:
    return str(CATEGORY_NAMES.get(key, key))


class PayeeKind(enum.StrEnum):
    MEMBER = "member"
    LANDLORD = "landlord"
    UTILITY = "utility"
    PROVIDER = "provider"


class FundRules(db.Model):
    """One version of a fund's rules; the newest is in force. Versions are never changed."""

    __tablename__ = "fund_rules"
    __table_args__ = (sa.UniqueConstraint("fund_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    version: Mapped[int] = mapped_column()
    categories: Mapped[list] = mapped_column(sa.JSON)
    #: Caps in cents: per member per 7 days, per member for the whole strike, per member per category.
    weekly_cap_cents: Mapped[int] = mapped_column(sa.BigInteger)
    strike_cap_cents: Mapped[int] = mapped_column(sa.BigInteger)
    category_cap_cents: Mapped[int] = mapped_column(sa.BigInteger)
    one_open_application: Mapped[bool] = mapped_column(default=True)
    #: A grant above this needs ``approvals_needed`` approvals from different trustees.
    dual_approval_above_cents: Mapped[int] = mapped_column(sa.BigInteger)
    approvals_needed: Mapped[int] = mapped_column(default=2)
    reserve_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        sa.CheckConstraint("amount_requested_cents >= 0", name="requested_not_negative"),
        #: Never paid beyond the approval (migration 0014; PostgreSQL also checks it against the payments).
        sa.CheckConstraint("amount_paid_cents >= 0 AND amount_paid_cents <= coalesce(amount_approved_cents, 0)",
                           name="paid_within_approved"),
        sa.Index("ix_applications_fund_status", "fund_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    applicant_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    #: The rules this application is judged under: those in force when it was submitted.
    rules_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_rules.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    category: Mapped[str] = mapped_column(sa.String(40), default="")
    amount_requested_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    household_size: Mapped[int | None] = mapped_column()
    household_members: Mapped[str] = mapped_column(sa.String(500), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    payee_kind: Mapped[str] = mapped_column(sa.String(20), default=PayeeKind.MEMBER)
    payee_name: Mapped[str] = mapped_column(sa.String(200), default="")
    #: How to pay the payee (an account number, a utility account...); shown to trustees only.
    payee_details: Mapped[str] = mapped_column(sa.String(300), default="")
    need: Mapped[str] = mapped_column(sa.Text, default="")
    attested: Mapped[bool] = mapped_column(default=False)
    amount_approved_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    amount_paid_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    decision_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: Set by the retention command: the case's documents and personal details are gone; the amounts, dates,
    #: category, decision and rules version stay for the books and the anonymised register.
    personal_data_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rules: Mapped[FundRules] = relationship(lazy="joined")
    documents: Mapped[list[ApplicationDocument]] = relationship(
        back_populates="application", order_by="ApplicationDocument.id")
    messages: Mapped[list[ApplicationMessage]] = relationship(
        back_populates="application", order_by="ApplicationMessage.id")

    @property
    def pays_third_party(self) -> bool:
        """The grant is paid to the landlord, utility or provider named on the application, not to the member."""
        return self.payee_kind != PayeeKind.MEMBER and bool(self.payee_name)


class ApplicationDocument(db.Model):
    """A file an applicant gave: stored outside the web root under a random name, served only by a view."""

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    #: The name the applicant's device gave, cleaned, for display only; never used as a path.
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="documents")


class ApplicationMessage(db.Model):
    """The conversation on a case: a trustee's question, the member's answer."""

    __tablename__ = "application_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    #: "question" (a trustee asks), "answer" (the member replies).
    kind: Mapped[str] = mapped_column(sa.String(20))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="messages")
