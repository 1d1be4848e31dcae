"""The treasurer's list of gifts: in date order, statuses in words, checkouts left unpaid closed and out of the way."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from fundapp.audit.models import AuditRecord
from fundapp.donations import giving
from fundapp.donations.models import Donation, DonationStatus
from fundapp.extensions import db, utcnow
from tests.conftest import sign_in
from tests.donations.helpers import pending_gift


@pytest.mark.no_worker  # the worker thread tidies too (first at its start): on a loaded machine its first round
# ended after the old gift was backdated and closed it before the command could, so the command found none
def test_checkouts_left_unpaid_past_stripes_expiry_are_closed_and_hidden(client, create_user, fund, runner,
                                                                       localstripe):
    old, fresh = pending_gift(fund, cents=1_500, email="old@example.org"), pending_gift(fund, email="new@example.org")
    old.created_at = utcnow() - timedelta(hours=26)
    db.session.commit()
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/donations/").get_data(as_text=True)
    assert "new@example.org" in page and "old@example.org" not in page  # a stale pending gift is noise already
    assert "At the checkout" in page and ">pending<" not in page
    assert "Show on the wall" not in page  # nothing unpaid can go on the wall

    result = runner.invoke(args=["fund", "reconcile-stripe"])
    assert "Closed 1 gifts left at a checkout that has expired." in result.output, result.output
    db.session.expire_all()
    assert db.session.get(Donation, old.id).status == DonationStatus.ABANDONED
    assert db.session.get(Donation, fresh.id).status == DonationStatus.PENDING  # still payable
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="donation.abandoned")) == 1
    assert "old@example.org" not in client.get("/admin/donations/").get_data(as_text=True)
    shown = client.get("/admin/donations/?status=abandoned").get_data(as_text=True)
    assert "old@example.org" in shown and "Left at the checkout" in shown
    assert giving.close_stale_checkouts(fund) == 0  # a second sweep finds nothing


def test_gifts_are_listed_newest_received_first_whatever_order_they_were_made_in(client, create_user, fund,
                                                                                  localstripe):
    later_made, earlier_made = pending_gift(fund, email="a@example.org"), pending_gift(fund, email="b@example.org")
    for donation, day in ((later_made, date(2026, 3, 1)), (earlier_made, date(2026, 9, 1))):
        donation.status, donation.received_on = DonationStatus.SUCCEEDED, day
    db.session.commit()
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/donations/").get_data(as_text=True)
    assert page.index("b@example.org") < page.index("a@example.org")
    assert "Received" in page


def test_only_a_received_gift_can_be_shown_on_the_wall(fund):
    donation = pending_gift(fund)
    try:
        giving.set_wall_status(fund, donation, "shown", actor=None)
    except giving.DonationError as exc:
        assert "Only a gift the fund has received" in str(exc)
    else:
        raise AssertionError("an unpaid gift was put on the wall")
