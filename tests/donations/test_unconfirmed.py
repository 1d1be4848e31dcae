"""Never book what Stripe does not confirm (issue 16): a validly signed event whose objects Stripe does not
know books nothing, and waits on the treasurer's page with the reason; so does, in production, an event in
another API version than the one the gateway reads. reconcile-stripe counts them."""
from __future__ import annotations

import pytest

from fundapp.donations.models import StripeEvent
from fundapp.extensions import db
from fundapp.ledger.models import JournalEntry
from fundapp.payments.gateway import API_VERSION
from tests.conftest import sign_in
from tests.donations.helpers import deliver

FORGED = [
    ("charge.dispute.funds_withdrawn", {"id": "dp_forged", "object": "dispute", "charge": "ch_forged",
                                        "amount": 123_456, "currency": "usd", "status": "lost",
                                        "balance_transactions": [{"id": "txn_forged", "amount": -123_456, "fee": 0,
                                                                  "currency": "usd", "created": 1_790_000_000}]}),
    ("payout.paid", {"id": "po_forged", "object": "payout", "amount": 777_700, "currency": "usd", "status": "paid",
                     "arrival_date": 1_790_000_000, "created": 1_790_000_000}),
    ("charge.succeeded", {"id": "ch_forged", "object": "charge", "amount": 50_000, "currency": "usd",
                          "status": "succeeded", "paid": True}),
    ("charge.refunded", {"id": "ch_forged2", "object": "charge", "amount_refunded": 50_000}),
    ("payment_intent.succeeded", {"id": "pi_forged", "object": "payment_intent", "status": "succeeded"}),
    ("invoice.paid", {"id": "in_forged", "object": "invoice", "status": "paid"}),
]


def entries() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count(JournalEntry.id)))


@pytest.mark.no_worker  # deliver() applies the events itself, so each is applied when it returns
def test_forged_but_signed_events_for_unknown_objects_book_nothing_and_wait_on_the_queue_page(
        client, fund, localstripe, api, create_user, runner):
    from fundapp.donations import events
    from fundapp.donations.models import Donation, DonationStatus
    from tests.conftest import wait_for
    from tests.donations.helpers import pay, pending_gift

    gift = pending_gift(fund, cents=5_000)  # a real gift, so the books are not empty
    pay(api, gift)
    assert wait_for(lambda: events.apply_waiting_events() is not None
                    and db.session.get(Donation, gift.id).status == DonationStatus.SUCCEEDED)
    before = entries()
    for n, (kind, obj) in enumerate(FORGED):
        assert deliver(client, kind, obj, event_id=f"evt_forged_{n}").status_code == 200  # signed: accepted
    assert entries() == before  # not a cent moved
    refused = db.session.scalars(db.select(StripeEvent).where(StripeEvent.id.like("evt_forged_%"))).all()
    assert len(refused) == len(FORGED)
    assert all(e.processed_at is None and e.last_error.startswith("Not booked: Stripe does not know") for e in refused)
    assert events.apply_waiting_events().total == 0  # not tried again by itself: no later try would change it
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    for name in ("dp_forged", "po_forged", "ch_forged", "pi_forged", "in_forged"):
        assert "Stripe does not know" in page and name in page
    result = runner.invoke(args=["fund", "reconcile-stripe"])
    assert result.exit_code == 0, result.output
    assert f"{len(FORGED)} stored Stripe events name objects Stripe does not confirm" in result.output
    assert entries() == before


@pytest.mark.no_worker
def test_production_refuses_an_event_in_another_api_version(app, client, fund, localstripe, api):
    from localstripe import webhooks as localstripe_webhooks

    from fundapp.donations import events
    from fundapp.donations.models import Donation, DonationStatus
    from tests.donations.helpers import pay, pending_gift

    localstripe_webhooks._webhooks.clear()  # only our events: the old version's first
    donation = pending_gift(fund, cents=3_000)
    intent = pay(api, donation)
    app.config["ENV_NAME"] = "production"
    before = entries()
    obj = {"id": intent.id, "object": "payment_intent"}
    deliver(client, "payment_intent.succeeded", obj, event_id="evt_old_version", api_version="2024-06-20")
    old = db.session.get(StripeEvent, "evt_old_version")
    assert old.processed_at is None and f"set the webhook endpoint's API version to {API_VERSION}" in old.last_error
    assert entries() == before
    deliver(client, "payment_intent.succeeded", obj, event_id="evt_pinned_version")  # the pinned version
    assert db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED and entries() == before + 1
    events.apply_waiting_events()
