"""The ``Fund`` row: a fund's identity and settings.

Every domain row carries ``fund_id``. One installation may host several funds;
a request works on the fund chosen by ``current_fund()``.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column, object_session

from fundapp.extensions import UTCDateTime, db, utcnow

DEFAULT_TIME_ZONE = "America/Los_Angeles"
LEGAL_FORMS = ("501(c)(5)", "501(c)(3)", "other")

#: What every "not set up" message tells the operator to run.
INIT_COMMAND = "flask --app wsgi fund init"

#: ``Session.info`` key: this transaction changed a fund's row (a copy read in it may hold uncommitted settings).
FUND_WRITTEN = "fundapp.fund_written"


class FundStatus(enum.StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class FundNotInitialised(RuntimeError):
    """The fund, its first rules or its chart of accounts are missing: ``fund init`` was not run.

    Reads never create them (a GET stays a read), so a missing piece is an installation step skipped, shown
    as a 503 page by the app and as an error by the commands."""

    def __init__(self, what: str):
        super().__init__(f"{what} is not set up yet: run `{INIT_COMMAND}` (after `flask --app wsgi db upgrade`).")
        self.what = what


class Fund(db.Model):
    __tablename__ = "funds"
    __table_args__ = (
        sa.CheckConstraint("goal_cents >= 0", name="goal_not_negative"),
        sa.CheckConstraint("reserve_cents >= 0", name="reserve_not_negative"),
        sa.CheckConstraint("fiscal_year_start_month BETWEEN 1 AND 12", name="fiscal_year_start_month_valid"),
        sa.CheckConstraint("status IN ('open', 'paused', 'closed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_name: Mapped[str] = mapped_column(sa.String(200))
    #: US Employer Identification Number, printed on receipts.
    ein: Mapped[str] = mapped_column(sa.String(20))
    #: "501(c)(5)" (a union: gifts not deductible), "501(c)(3)" or "other".
    legal_form: Mapped[str] = mapped_column(sa.String(20))
    #: For the "other" legal form: the deductibility sentence receipts print instead of the generic one.
    legal_form_wording: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    currency: Mapped[str] = mapped_column(sa.String(3))
    goal_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Money the trustees keep back; not available to grant. A copy of the current rules' reserve, written
    #: only by ``update_rules`` (the rules' versions are the one source and its history).
    reserve_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Printed on receipts, with the postal address, for donors' questions.
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    #: Printed on receipts when set; several lines.
    postal_address: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    #: IANA time zone name (checked with zoneinfo): the fund's "today".
    time_zone: Mapped[str] = mapped_column(sa.String(64), default=DEFAULT_TIME_ZONE,
                                           server_default=DEFAULT_TIME_ZONE)
    #: 1 (January) to 12: the month the fund's fiscal year starts.
    fiscal_year_start_month: Mapped[int] = mapped_column(default=1, server_default="1")
    #: Who signs receipts for the fund; printed when the name is set.
    signatory_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    signatory_title: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    #: True for the fund made by ``flask fund seed-demo``.
    is_demo: Mapped[bool] = mapped_column(default=False)
    #: Raised by one with every change of the fund's row (settings, reserve): a process keeps the fund it read
    #: while this is unchanged (``funds.services.current_fund``).
    settings_version: Mapped[int] = mapped_column(default=0, server_default="0")
    #: ``FundStatus``: open; paused (no new applications: the strike is settled, grants still paid); closed
    #: (no new gifts either).
    status: Mapped[str] = mapped_column(sa.String(20), default="open", server_default="open")
    #: For a closed fund: the fund of this installation its donate page sends givers to instead (None: the page
    #: lists every fund still open).
    successor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funds.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@sa.event.listens_for(Fund, "before_update")
def _raise_settings_version(_mapper: object, _connection: object, fund: Fund) -> None:
    """Every UPDATE of a fund's row by the ORM also raises ``settings_version`` by one, in the same statement
    (``settings_version + 1``, so two writers never give one number to two different rows): no writer can
    forget it, and a process that kept the fund sees the change on its next request. (A Core UPDATE of the
    table bypasses this; ``review.lock_fund``'s changes nothing.)"""
    session = object_session(fund)
    if session is None or not session.is_modified(fund, include_collections=False):
        return
    if sa.inspect(fund).attrs.settings_version.history.has_changes():  # set on purpose: keep it
        return
    fund.settings_version = Fund.settings_version + 1  # type: ignore[assignment]
    session.info[FUND_WRITTEN] = True


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_fund_written(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: what it wrote is settled either way
        session.info.pop(FUND_WRITTEN, None)
