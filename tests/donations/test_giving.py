"""Giving through the real Stripe SDK and localstripe, with the real signed webhooks it sends."""
from __future__ import annotations

import io

from pypdf import PdfReader

from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.mail import OutboxMessage
from tests.conftest import wait_for

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


def test_one_time_gift_is_booked_from_the_webhook_with_receipt_and_mail(client, fund, localstripe):
    donation, paid = give(client, cover_fee="y")
    assert paid.status_code == 302 and paid.headers["Location"].endswith(f"/thanks/{donation.token}")
    assert donation.amount_cents == 2500 and donation.fee_cover_cents == 106  # (2500 + 30) / 0.971, rounded up
    donation = settled(donation.id)
    assert donation, "the webhook never booked the gift"
    assert (donation.gross_cents, donation.fee_cents, donation.net_cents) == (2606, 0, 2606)  # localstripe: no fees
    assert donation.donor.email == "dana@example.org"
    assert donation.receipt_number.endswith("-000001")
    entry = ledger.find_entry(fund, "stripe.charge", donation.stripe_charge_id)
    assert {(p.account.name, p.amount_cents) for p in entry.postings} == {("Assets:Stripe", 2606),
                                                                          ("Income:Donations", -2606)}
    page = client.get(f"/thanks/{donation.token}").get_data(as_text=True)
    assert "Received: $26.06" in page and donation.receipt_number in page
    pdf = client.get(f"/thanks/{donation.token}/receipt.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert donation.receipt_number in text and "26.06 USD" in text
    assert "No goods or services were provided in exchange for this contribution." in text
    assert "not deductible as charitable contributions" in text  # the default fund is a 501(c)(5) union
    mail = db.session.scalar(db.select(OutboxMessage).filter_by(to_address="dana@example.org"))
    assert mail is not None and mail.attachment_name == f"receipt-{donation.receipt_number}.pdf"
    assert mail.attachment == pdf.data  # the mailed receipt is the downloadable one, byte for byte
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) >= 1


def test_declined_card_books_nothing_and_says_so(client, fund, localstripe):
    donation, paid = give(client, card="4000000000000341")
    assert paid.status_code == 422
    assert "The card was declined" in paid.get_data(as_text=True)
    db.session.refresh(donation)
    assert donation.status == DonationStatus.FAILED
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 0
    # The donor tries again with a good card: the same gift goes through
    again = client.post(f"/donate/test-checkout/{donation.token}",
                        data={"card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123", "attempt": "a2"})
    assert again.status_code == 302
    assert settled(donation.id)
    assert ledger.balance(fund, "Income:Donations") == -2500


def test_three_d_secure_gift_is_booked_after_the_check(client, fund, localstripe):
    donation, paid = give(client, card="4000002500003155")
    assert paid.headers["Location"].endswith(f"/donate/test-checkout/{donation.token}/secure")
    assert "confirm the payment" in client.get(paid.headers["Location"]).get_data(as_text=True)
    approved = client.post(paid.headers["Location"], data={"decision": "approve"})
    assert approved.headers["Location"].endswith(f"/thanks/{donation.token}")
    assert settled(donation.id)
    assert ledger.balance(fund, "Assets:Stripe") == 2500


def test_a_charge_the_app_did_not_start_is_booked_and_attributed(client, fund, localstripe, api):
    method = api.payment_methods.create(params={"type": "card", "billing_details": {
        "email": "walk.in@example.org", "name": "Walk In"}, "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_intents.create(params={"amount": 7_700, "currency": "usd", "payment_method": method.id,
                                       "confirm": True})
    donation = wait_for(lambda: db.session.scalar(db.select(Donation).filter_by(status=DonationStatus.SUCCEEDED)))
    assert donation is not None and donation.origin == "stripe"
    assert donation.donor.email == "walk.in@example.org" and donation.gross_cents == 7_700
    assert ledger.balance(fund, "Income:Donations") == -7_700
