"""Small factories shared by tests (fixtures live in the conftest.py files)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger

#: The day the trustees' tests book on (an open month).
DAY = date(2026, 11, 20)


def fund_with(fund, cents: int) -> None:
    ledger.post_entry(fund, entry_date=DAY, memo="gifts", source_kind="t", source_id=f"gifts-{cents}",
                      postings=[("Assets:Bank", cents), ("Income:Donations", -cents)])
    db.session.commit()


def midday(fund, day: date) -> datetime:
    """Noon of the fund's ``day`` (in its time zone), as the UTC moment Stripe would give."""
    return clock.start_of(fund, day) + timedelta(hours=12)
