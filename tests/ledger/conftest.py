"""Shared books for the ledger tests: a few months of realistic activity posted through the service."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from fundapp.extensions import db
from fundapp.ledger import services as ledger


@pytest.fixture
def books(fund):
    """A few months of gifts, fees, grants, payments, payouts and a reversal."""
    rng = random.Random(7)
    day = date(2026, 8, 1)
    for n in range(120):
        day += timedelta(days=rng.randint(0, 1))
        gross = rng.randint(500, 50_000)
        fee = gross * 29 // 1000 + 30
        ledger.post_entry(fund, entry_date=day, memo=f'Gift #{n} "monthly" from O\'Brien', source_kind="stripe.charge",
                          source_id=f"ch_{n}", postings=[("Assets:Stripe", gross - fee),
                                                          ("Expenses:PaymentFees", fee), ("Income:Donations", -gross)])
        if n % 5 == 0:
            grant = rng.randint(10_000, 60_000)
            ledger.post_entry(fund, entry_date=day, memo="=cmd|' /C calc'!A0", source_kind="grant.approval",
                              source_id=str(n), postings=[("Expenses:HardshipGrants", grant),
                                                          ("Liabilities:GrantsPayable", -grant)])
            ledger.post_entry(fund, entry_date=day, memo="Cheque 1001", source_kind="grant.payment",
                              source_id=str(n), postings=[("Liabilities:GrantsPayable", grant), ("Assets:Bank", -grant)])
        if n % 20 == 19:
            ledger.post_entry(fund, entry_date=day, memo="Stripe payout", source_kind="stripe.payout",
                              source_id=f"po_{n}", postings=[("Assets:Bank", 100_000), ("Assets:Stripe", -100_000)])
    refund = ledger.find_entry(fund, "stripe.charge", "ch_3")
    ledger.reverse_entry(refund, entry_date=day, memo="Refund of ch_3")
    db.session.commit()
    return fund
