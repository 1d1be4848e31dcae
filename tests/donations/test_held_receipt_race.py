"""Two workers tidying at the same moment: a receipt held while the fund's EIN was a placeholder is mailed once,
and a checkout left unpaid past its expiry is closed (and audited) once."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from fundapp.audit.models import AuditRecord
from fundapp.config import PLACEHOLDER_EIN
from fundapp.donations import giving, offline
from fundapp.donations.events import tidy_everywhere
from fundapp.donations.models import Donation, DonationStatus
from fundapp.extensions import db, utcnow
from fundapp.mail import OutboxMessage

ROUNDS = 50


def test_concurrent_tidies_mail_each_held_receipt_once(app, fund):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    app.config["ENV_NAME"] = "production"
    fund.contact_email = "fund@local7.example.org"
    outcomes = []
    for trial in range(ROUNDS):
        fund.ein = PLACEHOLDER_EIN
        db.session.commit()
        gift = offline.record_offline_gift(fund, name=f"Ana {trial}", email=f"ana{trial}@example.org",
                                             amount_cents=1_000 + trial, received_on=date(2026, 11, 20),
                                             method="cheque")
        left = giving.start_donation(fund, giving.GiftRequest(
            amount_cents=2_000, monthly=False, cover_fee=False, name="Kim", email=f"kim{trial}@example.org"))
        left.created_at = utcnow() - timedelta(hours=26)
        fund.ein = "12-3456789"
        db.session.commit()
        assert db.session.get(Donation, gift.id).receipt_held
        barrier = threading.Barrier(2)
        released = []

        def tidy(barrier=barrier, released=released):
            with app.app_context():
                barrier.wait()
                released.append(tidy_everywhere())

        workers = [threading.Thread(target=tidy) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        db.session.rollback()
        outcomes.append(sorted(released))
        assert [sum(counts) for counts in zip(*released, strict=True)] == [1, 1], outcomes  # one close, one receipt, in all
        mailed = db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(
            OutboxMessage.to_address == f"ana{trial}@example.org", OutboxMessage.attachment_name.is_not(None)))
        assert mailed == 1, (trial, outcomes)
        assert not db.session.get(Donation, gift.id).receipt_held
        assert db.session.get(Donation, left.id).status == DonationStatus.ABANDONED
        assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(
            action="donation.abandoned", object_id=str(left.id))) == 1
