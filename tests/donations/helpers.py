"""Giving as a donor and as Stripe would: the helpers the donations tests share."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

from fundapp.donations import events, giving
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.payments.facts import PaymentSettled
from tests.conftest import wait_for
from tests.donations.conftest import signed_event


def books(fund):
    """(number of entries, Income:Donations, Assets:Stripe): what must not move on a repeat."""
    db.session.rollback()
    count = db.session.scalar(db.select(db.func.count(JournalEntry.id)))
    return count, ledger.balance(fund, "Income:Donations"), ledger.balance(fund, "Assets:Stripe")


def deliver(client, event_type, obj, **kwargs):
    """Post a signed event, then apply what the webhook stored, as the worker does. The local Stripe server's
    worker thread may have claimed the event first: wait until one of us has tried it (and committed)."""
    payload, headers = signed_event(event_type, obj, **kwargs)
    response = client.post("/stripe/webhook", data=payload, headers=headers)
    events.apply_waiting_events()
    event_id = json.loads(payload)["id"]

    def tried() -> bool:
        row = db.session.execute(db.select(StripeEvent.processed_at, StripeEvent.last_error)
                                 .where(StripeEvent.id == event_id)).first()
        return row is None or row.processed_at is not None or row.last_error is not None

    assert wait_for(tried), f"{event_id} was stored but never tried"
    return response


def pending_gift(fund, cents=2_000, email="kim@example.org"):
    donation = giving.start_donation(fund, giving.GiftRequest(amount_cents=cents, monthly=False, cover_fee=False,
                                                                  name="Kim", email=email))
    db.session.commit()
    return donation


def pay(api, donation, card="4242424242424242"):
    method = api.payment_methods.create(params={"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return api.payment_intents.create(params={
        "amount": donation.total_cents, "currency": "usd", "payment_method": method.id, "confirm": True,
        "metadata": giving.checkout_metadata(donation)})


def fact(charge_id="ch_fee", gross=10_000, fee=320, day=date(2026, 11, 20), **extra):
    return PaymentSettled(charge_id=charge_id, payment_intent_id=None, invoice_id=None, subscription_id=None,
                          customer_id=None, gross_cents=gross, fee_cents=fee, net_cents=gross - fee, currency="USD",
                          at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),  # that day in LA too
                          email="fee.payer@example.org", name="Fee Payer", **extra)


GIFT = {"amount": "2500", "frequency": "one_time", "name": "Dana Donor", "email": "Dana@Example.org",
        "dedication_kind": ""}


def give(client, card="4242424242424242", **changes):
    """Fill the donate form and the test checkout as a donor would; returns (donation, last response)."""
    response = client.post("/donate", data={**GIFT, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    checkout = response.headers["Location"]
    token = checkout.rstrip("/").split("/")[-1]
    paid = client.post(checkout, data={"card_number": card, "expiry": "12/34", "cvc": "123", "attempt": "a1"})
    donation = db.session.scalar(db.select(Donation).filter_by(token=token))
    return donation, paid


def settled(donation_id):
    return wait_for(lambda: (d := db.session.get(Donation, donation_id)) is not None
                    and d.status == DonationStatus.SUCCEEDED and d)
