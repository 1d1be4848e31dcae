"""The Stripe events of today's API version (issue 16), through the local Stripe server in the pinned
shapes and the real SDK: a renewal that fails tells the donor where to pay and where to stop, a
subscription Stripe ends ends the monthly gift, an expired checkout closes the pending gift, and a bank
debit settles (or fails) days after the checkout."""
from __future__ import annotations

import pytest
import stripe

from fundapp.donations import events
from fundapp.donations.models import Donation, DonationStatus, MonthlyGift, StripeEvent
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.mail import OutboxMessage
from tests.conftest import wait_for
from tests.donations.helpers import deliver, give, pay, pending_gift, settled

DECLINED = "4000000000000341"


def monthly(client, api, **changes):
    donation, _paid = give(client, frequency="monthly", amount="5000", **changes)
    first = settled(donation.id)
    assert first, "the first month was not booked"
    return first, api.subscriptions.retrieve(first.stripe_subscription_id)


def test_a_renewal_that_fails_tells_the_donor_in_their_language_where_to_pay_and_where_to_stop(client, fund,
                                                                                            localstripe, api):
    client.post("/language", data={"language": "es", "next": "/"})
    first, subscription = monthly(client, api)
    assert first.language == "es"
    declining = api.payment_methods.create(params={"type": "card", "card": {
        "number": DECLINED, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_methods.attach(declining.id, params={"customer": subscription.customer})
    api.customers.update(subscription.customer, params={"invoice_settings": {"default_payment_method": declining.id}})
    renewal = api.invoices.create(params={"customer": subscription.customer, "subscription": subscription.id})
    renewal = api.invoices.pay(renewal.id)
    assert renewal.status == "open" and renewal.hosted_invoice_url
    mail = wait_for(lambda: db.session.scalar(db.select(OutboxMessage).where(
        OutboxMessage.subject.like("Su donación mensual%no se pudo cobrar"))), timeout=15)
    assert mail is not None, "the donor was not told"
    assert mail.to_address == "dana@example.org"
    assert renewal.hosted_invoice_url in mail.body and "/donor/login" in mail.body
    assert ledger.balance(fund, "Income:Donations") == -5_000  # nothing booked for the failed month


def test_a_subscription_stripe_ends_ends_the_monthly_gift(client, fund, localstripe, api):
    _first, subscription = monthly(client, api)
    gift = db.session.scalar(db.select(MonthlyGift))
    api.subscriptions.cancel(subscription.id)  # from Stripe's dashboard, say
    assert wait_for(lambda: db.session.get(MonthlyGift, gift.id).ended_at is not None, timeout=15)
    # An update naming a live subscription ends nothing: what counts is its status at Stripe.
    _other, live = monthly(client, api, email="lee@example.org")
    deliver(client, "customer.subscription.updated", {"id": live.id, "object": "subscription",
                                                      "status": "canceled"}, event_id="evt_sub_forged")
    assert wait_for(lambda: db.session.get(StripeEvent, "evt_sub_forged").outcome == "applied")  # applied, and ...
    still = db.session.scalar(db.select(MonthlyGift).filter_by(stripe_subscription_id=live.id))
    assert still.ended_at is None  # ... Stripe says the subscription is active: the gift goes on


@pytest.mark.no_worker  # deliver() applies the events itself
def test_an_expired_checkout_closes_the_pending_gift_as_abandoned(client, fund, localstripe):
    donation = pending_gift(fund, cents=4_000)
    session = {"id": "cs_test_expired", "object": "checkout.session", "client_reference_id": donation.token,
               "status": "expired", "payment_status": "unpaid"}
    deliver(client, "checkout.session.expired", session)
    db.session.refresh(donation)
    assert donation.status == DonationStatus.ABANDONED
    page = client.get(f"/thanks/{donation.token}").get_data(as_text=True)
    assert "The payment page expired before the gift was paid. Nothing was charged." in page
    assert db.session.scalar(db.select(db.func.count()).select_from(Donation).where(
        Donation.status == DonationStatus.PENDING)) == 0  # off the treasurer's open gifts


@pytest.mark.no_worker  # deliver() applies the events itself
def test_a_bank_debit_is_booked_when_stripe_settles_it_and_a_failed_one_is_not(client, fund, localstripe, api):
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()  # only the checkout's events, which the local server cannot send
    settles, fails = pending_gift(fund, cents=6_000), pending_gift(fund, cents=7_000, email="lee@example.org")
    settled_intent = pay(api, settles)
    declined = api.payment_methods.create(params={"type": "card", "card": {
        "number": DECLINED, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    failed_intent = api.payment_intents.create(params={"amount": fails.total_cents, "currency": "usd",
                                                       "payment_method": declined.id})
    with pytest.raises(stripe.CardError):  # what a bank debit Stripe could not collect comes to
        api.payment_intents.confirm(failed_intent.id)
    assert api.payment_intents.retrieve(failed_intent.id).status == "requires_payment_method"
    for donation, intent, kind in ((settles, settled_intent, "succeeded"), (fails, failed_intent, "failed")):
        deliver(client, f"checkout.session.async_payment_{kind}", {
            "id": f"cs_{kind}", "object": "checkout.session", "client_reference_id": donation.token,
            "payment_intent": intent.id, "payment_status": "paid" if kind == "succeeded" else "unpaid"})
    events.apply_waiting_events()
    assert db.session.get(Donation, settles.id).status == DonationStatus.SUCCEEDED
    failed = db.session.get(Donation, fails.id)
    assert failed.status == DonationStatus.FAILED and "bank did not make the payment" in failed.failure_message
    assert ledger.balance(fund, "Income:Donations") == -6_000
