"""The ``Fund`` row: a fund's identity and settings.

Every domain row carries ``fund_id``. One installation may host several funds;
a request works on the fund chosen by ``current_fund()``.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fundapp.extensions import UTCDateTime, db, utcnow


class Fund(db.Model):
    __tablename__ = "funds"
    __table_args__ = (
        sa.CheckConstraint("goal_cents >= 0", name="goal_not_negative"),
        sa.CheckConstraint("reserve_cents >= 0", name="reserve_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_name: Mapped[str] = mapped_column(sa.String(200))
    #: US Employer Identification Number, printed on receipts.
    ein: Mapped[str] = mapped_column(sa.String(20))
    #: e.g. "501(c)(5)" (a union: gifts not deductible) or "501(c)(3)".
    legal_form: Mapped[str] = mapped_column(sa.String(20))
    currency: Mapped[str] = mapped_column(sa.String(3))
    goal_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Money the trustees keep back; not available to grant.
    reserve_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    #: True for the fund made by ``flask fund seed-demo``.
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
