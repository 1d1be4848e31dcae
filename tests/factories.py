"""Small factories shared by tests (fixtures live in the conftest.py files)."""
from __future__ import annotations

from datetime import date

from fundapp.extensions import db
from fundapp.ledger import services as ledger

#: The day the trustees' tests book on (an open month).
DAY = date(2026, 11, 20)


def fund_with(fund, cents: int) -> None:
    ledger.post_entry(fund, entry_date=DAY, memo="gifts", source_kind="t", source_id=f"gifts-{cents}",
                      postings=[("Assets:Bank", cents), ("Income:Donations", -cents)])
    db.session.commit()
