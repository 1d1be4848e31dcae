"""Gifts of $5,000 or more carry the donor's postal address (Form 990 Schedule B lists it): Checkout requires a
billing address for them and its completion stores it with the donor; the treasurer's cheque and cash form asks
for it (issue 17, item 6)."""
from __future__ import annotations

import pytest

from fundapp.audit.models import AuditRecord
from fundapp.donations import events, giving
from fundapp.donations.models import Donation, Donor
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.conftest import WEBHOOK_SECRET, sign_in, wait_for
from tests.donations.conftest import signed_event


def checkout_params(app, fund, cents: int, monthly: bool = False) -> dict:
    """The parameters the donate view sends to Stripe for a gift of ``cents``, built by the same code."""
    from fundapp.donations import views
    from fundapp.payments import checkout

    with app.test_request_context("/donate", method="POST"):
        donation = giving.start_donation(fund, giving.GiftRequest(
            amount_cents=cents, monthly=monthly, cover_fee=False, name="Kim", email="kim@example.org"))
        return checkout.checkout_session_params(**views.checkout_details(fund, donation))


@pytest.mark.parametrize("cents, required", [(499_999, False), (500_000, True), (750_000, True)])
def test_checkout_requires_a_billing_address_from_five_thousand_dollars(app, fund, cents, required):
    from stripe.params.checkout import SessionCreateParams

    params = checkout_params(app, fund, cents)
    assert (params.get("billing_address_collection") == "required") is required
    assert ("billing_address_collection" in params) is required
    # a parameter the pinned API takes, with a value its schema allows
    assert set(params) <= set(SessionCreateParams.__annotations__)
    assert "'required'" in str(SessionCreateParams.__annotations__["billing_address_collection"])


def test_a_monthly_gift_of_five_thousand_also_asks(app, fund):
    assert checkout_params(app, fund, 500_000, monthly=True)["billing_address_collection"] == "required"


def complete_checkout(client, donation, address: dict | None, event_id: str):
    session = {"id": f"cs_test_{event_id}", "object": "checkout.session", "client_reference_id": donation.token,
               "payment_intent": "pi_later", "payment_status": "paid", "amount_total": donation.total_cents,
               "metadata": giving.checkout_metadata(donation),
               "customer_details": {"email": "kim@example.org", "name": "Kim Large", "address": address}}
    payload, headers = signed_event("checkout.session.completed", session, event_id=event_id)
    assert client.post("/stripe/webhook", data=payload, headers=headers).status_code == 200
    events.apply_waiting_events()


def test_the_completed_checkout_stores_the_billing_address_with_the_donor(app, client, fund):
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET  # no Stripe call: the checkout says it is paid
    donation = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=600_000, monthly=False, cover_fee=False, name="Kim Large", email="kim@example.org"))
    db.session.commit()
    complete_checkout(client, donation, {"line1": "12 Union Hall Rd", "line2": "Apt 3", "city": "Oakland",
                                         "state": "CA", "postal_code": "94612-1234", "country": "US"}, "evt_addr_1")
    db.session.expire_all()
    donor = db.session.get(Donor, donation.donor_id)
    assert donor.postal_address == "12 Union Hall Rd\nApt 3\nOakland, CA 94612-1234\nUS"
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="donor.address"))
    assert record is not None and "Union Hall" not in str(record.after)  # the trail says it changed, not what to
    # a later checkout without an address keeps the one held; no money was booked from any of it
    complete_checkout(client, donation, None, "evt_addr_2")
    db.session.expire_all()
    assert db.session.get(Donor, donation.donor_id).postal_address.startswith("12 Union Hall Rd")
    assert ledger.balance(fund, "Income:Donations") == 0


@pytest.fixture
def treasurer(client, create_user):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def offline(client, **fields):
    data = {"gift-name": "Rosa Benefactor", "gift-email": "rosa@example.org", "gift-amount": "5000.00",
            "gift-received_on": "2026-11-20", "gift-method": "cheque", "gift-reference": "2001"}
    data.update({f"gift-{key}": value for key, value in fields.items()})
    return client.post("/admin/donations/offline/gift", data=data)


@pytest.mark.parametrize("fields, message", [
    ({}, "enter the donor&#39;s postal address"),
    ({"postal_address": "  \n "}, "enter the donor&#39;s postal address"),
    ({"email": "", "postal_address": "1 Main St"}, "enter the donor&#39;s email"),
])
def test_a_large_offline_gift_without_an_address_is_refused_and_nothing_is_booked(treasurer, fund, fields, message):
    response = offline(treasurer, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 0
    assert ledger.balance(fund, "Assets:Undeposited") == 0


def test_a_large_offline_gift_keeps_the_address_and_a_small_one_needs_none(treasurer, fund):
    assert offline(treasurer, postal_address=" 4 Picket Way \n\n Oakland, CA 94607 ").status_code == 302
    assert offline(treasurer, amount="4999.99", email="", name="Rally bucket", method="cash").status_code == 302
    db.session.expire_all()
    donor = db.session.scalar(db.select(Donor).filter_by(email="rosa@example.org"))
    assert donor.postal_address == "4 Picket Way\nOakland, CA 94607"
    # the address is held now: the next large cheque from her need not repeat it
    assert offline(treasurer, reference="2002").status_code == 302
    assert ledger.balance(fund, "Assets:Undeposited") == 1_499_999


def test_a_card_payment_carrying_a_billing_address_stores_it_from_the_charge(fund, localstripe, api):
    """What Checkout does with the address it asked for: it is the payment's billing address, on the charge
    that the books re-fetch from Stripe."""
    donation = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=600_000, monthly=False, cover_fee=False, name="Kim Large", email="kim@example.org"))
    db.session.commit()
    method = api.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        "billing_details": {"name": "Kim Large", "email": "kim@example.org", "address": {
            "line1": "7 Local Ave", "city": "Fresno", "state": "CA", "postal_code": "93721", "country": "US"}}})
    api.payment_intents.create(params={"amount": 600_000, "currency": "usd", "payment_method": method.id,
                                       "confirm": True, "metadata": giving.checkout_metadata(donation)})
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == "succeeded")
    db.session.expire_all()
    assert db.session.get(Donor, donation.donor_id).postal_address == "7 Local Ave\nFresno, CA 93721\nUS"


def test_local_modes_test_checkout_asks_a_large_gift_for_the_billing_address_and_keeps_it(client, fund, localstripe):
    """Local mode's stand-in for Checkout asks what Checkout asks: the billing address of a $5,000 gift."""
    donation = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=500_000, monthly=False, cover_fee=False, name="Kim Large", email="kim@example.org"))
    db.session.commit()
    page = f"/donate/test-checkout/{donation.token}"
    assert "Billing address" in client.get(page).get_data(as_text=True)
    card = {"card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123", "attempt": "a1"}
    refused = client.post(page, data=card)
    assert refused.status_code == 422 and "enter the billing address" in refused.get_data(as_text=True)
    assert db.session.get(Donation, donation.id).stripe_payment_intent_id is None  # nothing was charged
    paid = client.post(page, data={**card, "attempt": "a2", "address_line1": "3 Strike Rd", "address_city": "Reno",
                                   "address_state": "NV", "address_postal_code": "89501"})
    assert paid.status_code == 302
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == "succeeded")
    db.session.expire_all()
    assert db.session.get(Donor, donation.donor_id).postal_address == "3 Strike Rd\nReno, NV 89501\nUS"


def test_a_small_gifts_test_checkout_asks_no_address(client, fund, localstripe):
    donation = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=2_500, monthly=False, cover_fee=False, name="Kim", email="kim@example.org"))
    db.session.commit()
    assert "Billing address" not in client.get(f"/donate/test-checkout/{donation.token}").get_data(as_text=True)
