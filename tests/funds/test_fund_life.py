"""A fund's life: open, applications paused (the strike is over), closed to gifts (the donate page sends givers
elsewhere and every monthly gift ends at Stripe), and open again."""
from __future__ import annotations

from fundapp.applications.models import Application
from fundapp.audit.models import AuditRecord
from fundapp.donations.models import Donation, MonthlyGift
from fundapp.extensions import db
from fundapp.funds.models import Fund
from tests.conftest import sign_in
from tests.donations.helpers import GIFT, give, settled
from tests.factories import striker
from tests.funds.test_several_funds import open_second


def treasurer(client, create_user):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")


def test_paused_applications_refuse_a_new_one_and_gifts_still_come(client, create_user, roster, fund):
    treasurer(client, create_user)
    assert client.post("/admin/fund/life", data={"status": "paused", "successor": ""}).status_code == 302
    assert db.session.get(Fund, fund.id).status == "paused"
    client.post("/logout")
    striker(client, create_user, roster)
    page = client.get("/apply").get_data(as_text=True)
    assert "not taking new applications" in page
    client.post("/apply", data={"category": "rent", "amount": "100", "need": "Rent", "save": "Save"},
                content_type="multipart/form-data")
    assert db.session.scalar(db.select(db.func.count(Application.id))) == 0
    assert client.get("/donate").status_code == 200 and "This fund is closed" not in client.get("/donate").get_data(
        as_text=True)
    assert "not taking new applications" in client.get("/").get_data(as_text=True)
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="fund.status"))
    assert record.before["status"] == "open" and record.after["status"] == "paused"


def test_a_closed_fund_takes_no_gift_and_sends_givers_to_its_successor(client, create_user, fund):
    second = open_second()
    treasurer(client, create_user)
    asked = client.post("/admin/fund/life", data={"status": "closed", "successor": str(second.id)})
    assert asked.status_code == 200 and "Close the fund to gifts?" in asked.get_data(as_text=True)  # confirm first
    assert db.session.get(Fund, fund.id).status == "open"
    done = client.post("/admin/fund/life", data={"status": "closed", "successor": str(second.id), "confirmed": "yes"})
    assert done.status_code == 302
    client.post("/logout")
    page = client.get("/donate").get_data(as_text=True)
    assert "This fund is closed" in page and 'href="/f/unit-2/donate"' in page and second.name in page
    refused = client.post("/donate", data=GIFT)
    assert refused.status_code == 409 and db.session.scalar(db.select(db.func.count(Donation.id))) == 0
    assert client.get("/f/unit-2/donate").status_code == 200  # the successor still takes gifts
    # the home page no longer lists the closed fund among those hosted here
    assert fund.name not in client.get("/f/unit-2/").get_data(as_text=True).split("</header>", 1)[1]


def test_closing_ends_every_monthly_gift_at_stripe_and_reopening_takes_gifts_again(client, create_user, fund,
                                                                                  localstripe, api):
    donation, _paid = give(client, frequency="monthly", amount="5000")
    first = settled(donation.id)
    assert first and first.stripe_subscription_id
    treasurer(client, create_user)
    closed = client.post("/admin/fund/life", data={"status": "closed", "successor": "", "confirmed": "yes"})
    assert closed.status_code == 302
    db.session.rollback()
    gift = db.session.scalar(db.select(MonthlyGift))
    assert gift.ended_at is not None
    assert api.subscriptions.retrieve(first.stripe_subscription_id).status == "canceled"
    reopened = client.post("/admin/fund/life", data={"status": "open", "successor": ""})
    assert reopened.status_code == 302
    client.post("/logout")
    assert "This fund is closed" not in client.get("/donate").get_data(as_text=True)
