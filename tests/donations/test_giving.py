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
from tests.donations.helpers import GIFT, give, settled


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
    assert "The card was declined. Nothing was charged. Try another card." in paid.get_data(as_text=True)
    assert "Your bank declined the card, so nothing was charged." in paid.get_data(as_text=True)
    assert "something needs fixing" not in paid.get_data(as_text=True)  # not blamed on the form
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


def test_monthly_gift_is_booked_then_a_renewal_is_a_new_gift(client, fund, localstripe, api):
    donation, paid = give(client, frequency="monthly", amount="5000")
    assert paid.status_code == 302, paid.get_data(as_text=True)
    first = settled(donation.id)
    assert first and first.frequency == "monthly" and first.stripe_subscription_id
    assert first.gross_cents == 5_000
    subscription = api.subscriptions.retrieve(first.stripe_subscription_id)
    renewal = api.invoices.create(params={"customer": subscription.customer, "subscription": subscription.id})
    api.invoices.pay(renewal.id)
    second = wait_for(lambda: db.session.scalar(db.select(Donation).where(
        Donation.stripe_subscription_id == first.stripe_subscription_id, Donation.id != first.id,
        Donation.status == DonationStatus.SUCCEEDED)))
    assert second is not None, "the renewal was not booked"
    assert second.donor_id == first.donor_id and second.receipt_number != first.receipt_number
    assert ledger.balance(fund, "Income:Donations") == -10_000


def test_the_donate_form_shows_every_problem_at_once_and_keeps_what_was_typed(client, fund):
    response = client.post("/donate", data={**GIFT, "amount": "other", "other_amount": "12.345", "name": "",
                                            "dedication_kind": "striker"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Use at most two digits after the decimal point." in page
    assert "This field is required." in page  # the name
    assert "Gifts go to the fund, not to one person" in page and "No dedication" in page
    assert 'value="12.345"' in page and 'value="Dana@Example.org"' in page
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 0


def test_gifts_below_the_minimum_or_above_the_maximum_are_refused_with_the_limits(client, fund):
    small = client.post("/donate", data={**GIFT, "amount": "other", "other_amount": "0.50"}).get_data(as_text=True)
    assert "The smallest gift we can take by card is $1.00." in small
    big = client.post("/donate", data={**GIFT, "amount": "other", "other_amount": "10,000.01"}).get_data(as_text=True)
    assert "For a gift above $10,000.00, please write to" in big
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 0


def test_cancel_returns_to_the_form_with_the_values_kept(client, fund, localstripe):
    response = client.post("/donate", data={**GIFT, "amount": "other", "other_amount": "33.50", "frequency": "monthly",
                                            "dedication_kind": "memory", "dedication_name": "Joe Hill"})
    token = response.headers["Location"].rstrip("/").split("/")[-1]
    page = client.get(f"/donate?again={token}").get_data(as_text=True)
    assert 'value="33.50"' in page and 'value="Joe Hill"' in page and 'value="dana@example.org"' in page
    assert '<input checked id="frequency-1" name="frequency" type="radio" value="monthly">' in page
