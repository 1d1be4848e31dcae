"""The webhook under duplicates, replays, reordering and forgery, with events signed by the SDK's own
helper for what localstripe cannot send (Checkout completion, charge.refunded), built on real objects."""
from __future__ import annotations

import time
from datetime import date

import pytest
from localstripe import webhooks as localstripe_webhooks

from fundapp.donations import booking, giving, receipts
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.mail import OutboxMessage
from fundapp.payments.facts import RetryLater
from tests.conftest import wait_for
from tests.donations.conftest import signed_event
from tests.donations.helpers import books, deliver, fact, pay, pending_gift


@pytest.mark.parametrize("tamper", ["wrong secret", "old", "no header", "not json"])
def test_bad_or_old_signatures_are_refused_and_nothing_is_stored(client, fund, localstripe, tamper):
    if tamper == "wrong secret":
        payload, headers = signed_event("charge.succeeded", {"id": "ch_1"}, secret="whsec_someone_else")
    elif tamper == "old":  # a replay of a genuine event, outside the 5-minute window
        payload, headers = signed_event("charge.succeeded", {"id": "ch_1"}, timestamp=int(time.time()) - 3600)
    elif tamper == "no header":
        payload, headers = signed_event("charge.succeeded", {"id": "ch_1"})
        headers.pop("Stripe-Signature")
    else:
        payload, headers = b"{not json", {"Stripe-Signature": "t=1,v1=00"}
    response = client.post("/stripe/webhook", data=payload, headers=headers)
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) == 0


def test_unknown_event_types_are_acknowledged_and_stored_once(client, fund, localstripe):
    first = deliver(client, "customer.tax_id.created", {"id": "txi_1"}, event_id="evt_unknown")
    again = deliver(client, "customer.tax_id.created", {"id": "txi_1"}, event_id="evt_unknown")
    assert first.get_json()["outcome"] == "stored" and again.get_json()["outcome"] == "duplicate"
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) == 1
    stored = db.session.get(StripeEvent, "evt_unknown")
    assert stored.outcome == "ignored" and stored.processed_at is not None and stored.attempts == 1


def test_checkout_completion_links_the_session_and_books_no_money(client, fund, localstripe):
    donation = pending_gift(fund)
    session = {"id": "cs_test_1", "object": "checkout.session", "client_reference_id": donation.token,
               "payment_intent": "pi_not_yet", "customer": "cus_1", "payment_status": "paid",
               "metadata": giving.checkout_metadata(donation), "amount_total": 2_000}
    assert deliver(client, "checkout.session.completed", session).status_code == 200
    db.session.refresh(donation)
    assert donation.stripe_checkout_session_id == "cs_test_1"
    assert donation.stripe_payment_intent_id == "pi_not_yet"
    assert donation.status == DonationStatus.PENDING and books(fund)[0] == 0


def test_duplicate_and_repeated_events_leave_the_books_unchanged(client, fund, localstripe, api):
    donation = pending_gift(fund)
    intent = pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    before = books(fund)
    assert before == (1, -2_000, 2_000)
    charge_id = db.session.get(Donation, donation.id).stripe_charge_id
    for event_type, obj in [("payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}),
                            ("charge.succeeded", {"id": charge_id, "object": "charge"}),
                            ("invoice.paid", {"id": "in_none", "object": "invoice", "charge": charge_id})]:
        for n in range(2):  # two deliveries of the same event, and the same money under another event
            response = deliver(client, event_type, obj, event_id=f"evt_{event_type}_{n}")
            assert response.status_code == 200, response.get_data(as_text=True)
    assert books(fund) == before
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 1


def test_refunds_are_booked_once_each_and_mail_a_corrected_receipt(client, fund, localstripe, api):
    donation = pending_gift(fund, cents=5_000)
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    charge_id = db.session.get(Donation, donation.id).stripe_charge_id
    api.refunds.create(params={"charge": charge_id, "amount": 1_500})  # localstripe sends no refund event
    charge = {"id": charge_id, "object": "charge"}
    assert deliver(client, "charge.refunded", charge, event_id="evt_r1").status_code == 200
    assert deliver(client, "charge.refunded", charge, event_id="evt_r1_again").status_code == 200
    assert books(fund) == (2, -3_500, 3_500)
    api.refunds.create(params={"charge": charge_id, "amount": 3_500})
    deliver(client, "charge.refund.updated", {"id": "re_x", "object": "refund", "charge": charge_id})
    assert books(fund) == (3, 0, 0)
    refunded = db.session.get(Donation, donation.id)
    assert refunded.status == DonationStatus.REFUNDED and refunded.refunded_cents == 5_000
    subjects = list(db.session.scalars(db.select(OutboxMessage.subject).order_by(OutboxMessage.id)))
    assert subjects[0].startswith("Thank you: receipt") and subjects[-1].startswith("Corrected receipt")


def test_a_charge_history_fetched_before_a_later_refund_never_lowers_the_refunded_total(client, fund, localstripe,
                                                                                          api):
    """The worker fetches a batch's facts before it books them, so a charge's history can be older than a refund
    booked meanwhile (the treasurer's, or another worker's). Booking it must not set the gift's refunded total
    back, nor mail a wrong corrected receipt: a booked refund stays in the books, so the total only grows."""
    from fundapp.payments import events as stripe_events

    donation = pending_gift(fund, cents=5_000)
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    charge_id = db.session.get(Donation, donation.id).stripe_charge_id
    api.refunds.create(params={"charge": charge_id, "amount": 1_000})
    payload, _headers = signed_event("charge.refunded", {"id": charge_id, "object": "charge"}, event_id="evt_old")
    stale = list(stripe_events.facts_of(payload))  # fetched now: one refund of 10.00
    api.refunds.create(params={"charge": charge_id, "amount": 2_000})
    deliver(client, "charge.refunded", {"id": charge_id, "object": "charge"}, event_id="evt_new")
    assert db.session.get(Donation, donation.id).refunded_cents == 3_000
    mail_before = db.session.scalar(db.select(db.func.count(OutboxMessage.id)))

    for old in stale:  # the slow worker's batch commits last
        booking.apply_fact(fund, old)
    db.session.commit()

    assert db.session.get(Donation, donation.id).refunded_cents == 3_000
    assert books(fund) == (3, -2_000, 2_000)
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == mail_before


def test_a_refund_arriving_before_its_payment_books_both_in_order(client, fund, localstripe, api):
    localstripe_webhooks._webhooks.clear()  # nothing from localstripe: our events only, in the wrong order
    donation = pending_gift(fund, cents=3_000)
    intent = pay(api, donation)
    charge_id = api.payment_intents.retrieve(intent.id).latest_charge
    charge_id = charge_id if isinstance(charge_id, str) else charge_id.id
    api.refunds.create(params={"charge": charge_id, "amount": 1_000})
    assert deliver(client, "charge.refunded", {"id": charge_id, "object": "charge"}).status_code == 200
    assert books(fund) == (2, -2_000, 2_000)
    deliver(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"})
    assert books(fund) == (2, -2_000, 2_000)
    assert db.session.get(Donation, donation.id).status == DonationStatus.PARTIALLY_REFUNDED


def test_a_declined_payment_event_marks_the_gift_failed(client, fund, localstripe):
    donation = pending_gift(fund)
    intent = {"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method",
              "metadata": giving.checkout_metadata(donation),
              "last_payment_error": {"message": "Your card was declined."}}
    deliver(client, "payment_intent.payment_failed", intent)
    db.session.refresh(donation)
    assert donation.status == DonationStatus.FAILED and donation.failure_message == "Your card was declined."
    assert "Your card was declined. Nothing was charged." in client.get(f"/thanks/{donation.token}").get_data(
        as_text=True)


def test_stripe_fees_are_booked_as_an_expense(fund, app):
    """localstripe's fees are always 0, so the fact Stripe would give is built here, at the network's edge."""
    donation = booking.record_settled_payment(fund, fact())
    db.session.commit()
    entry = ledger.find_entry(fund, "stripe.charge", "ch_fee")
    assert {(p.account.name, p.amount_cents) for p in entry.postings} == {
        ("Assets:Stripe", 9_680), ("Expenses:PaymentFees", 320), ("Income:Donations", -10_000)}
    assert (donation.gross_cents, donation.fee_cents, donation.net_cents) == (10_000, 320, 9_680)
    assert donation.origin == "stripe" and donation.anonymous  # not started by us: kept off public pages


def test_a_late_payment_for_a_closed_month_is_booked_in_the_open_month(fund, app):
    ledger.close_month(fund, "2026-10")
    donation = booking.record_settled_payment(fund, fact(charge_id="ch_late", day=date(2026, 10, 30)))
    db.session.commit()
    entry = ledger.find_entry(fund, "stripe.charge", "ch_late")
    assert entry.entry_date > date(2026, 10, 31)
    assert donation.received_on == date(2026, 10, 30)  # the receipt keeps the day the donor gave


def test_receipt_numbers_run_per_year_and_a_reissue_is_the_same_file(fund, app):
    first = booking.record_settled_payment(fund, fact(charge_id="ch_a", day=date(2026, 3, 1)))
    second = booking.record_settled_payment(fund, fact(charge_id="ch_b", day=date(2026, 3, 2)))
    next_year = booking.record_settled_payment(fund, fact(charge_id="ch_c", day=date(2027, 1, 2)))
    db.session.commit()
    assert [first.receipt_number, second.receipt_number, next_year.receipt_number] == [
        "2026-000001", "2026-000002", "2027-000001"]
    assert receipts.receipt_for(fund, first) == receipts.receipt_for(fund, db.session.get(Donation, first.id))


def test_two_deliveries_of_the_same_payment_at_once_book_it_once(app, fund):
    """Two workers apply the same charge at the same moment (e.g. payment_intent.succeeded and
    invoice.paid): one books it; the other waits, or fails and is retried as Stripe would, and
    then finds it done. One entry, one receipt number, one receipt mail."""
    import threading

    from sqlalchemy.exc import DBAPIError

    donation = pending_gift(fund, cents=4_200)
    same = fact(charge_id="ch_race", gross=4_200, fee=0, metadata={"donation": donation.token})
    start = threading.Barrier(2)
    errors = []

    def worker():
        with app.app_context():
            from fundapp.funds.models import Fund

            for attempt in range(5):  # Stripe would deliver again after a failure
                try:
                    if attempt == 0:
                        start.wait()
                    booking.record_settled_payment(db.session.get(Fund, fund.id), same)
                    db.session.commit()
                    return
                except (DBAPIError, RetryLater) as exc:
                    db.session.rollback()
                    errors.append(type(exc).__name__)
                    time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    db.session.rollback()
    booked = db.session.get(Donation, donation.id)
    assert booked.status == DonationStatus.SUCCEEDED and booked.receipt_number == "2026-000001"
    assert books(fund) == (1, -4_200, 4_200)
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 1


def booked_gift(fund, api, cents):
    donation = pending_gift(fund, cents=cents)
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    return db.session.get(Donation, donation.id)


DISPUTED_CARD = "4000000000000259"  # the local Stripe server disputes a charge paid with it, as Stripe's test mode


def disputed_gift(fund, api, cents):
    """A gift paid with the disputed test card: booked, then its dispute opened and the money withdrawn."""
    donation = pending_gift(fund, cents=cents)
    pay(api, donation, card=DISPUTED_CARD)
    assert wait_for(lambda: books(fund)[0] == 2, timeout=15)  # the gift, the withdrawal
    dispute = api.disputes.list().data[0]
    assert dispute.status == "needs_response" and dispute.charge == db.session.get(Donation, donation.id).stripe_charge_id
    return db.session.get(Donation, donation.id), dispute


def test_a_dispute_opened_then_won_is_booked_once_per_movement_whatever_arrives(client, fund, localstripe, api,
                                                                                  runner):
    gift, dispute = disputed_gift(fund, api, 8_000)
    assert books(fund) == (2, 0, -1_500)  # withdrawn: the gift no longer counts, and the fee is spent
    decided = runner.invoke(args=["fund", "test-dispute", dispute.id, "--won"])  # as the bank decides it
    assert decided.exit_code == 0 and "is won" in decided.output
    assert wait_for(lambda: books(fund)[0] == 3, timeout=15)
    # Repeats and stale events name only the dispute: what is booked is what Stripe lists now.
    for n, kind in enumerate(("charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed")):
        deliver(client, kind, {"id": dispute.id, "object": "dispute", "charge": gift.stripe_charge_id},
                event_id=f"evt_dp_again_{n}")
    count, income, stripe_cash = books(fund)
    assert count == 3  # the gift, the withdrawal, the reinstatement
    assert income == -8_000 and stripe_cash == 8_000 - 1_500  # won: the gift counts again; the fee is spent
    assert ledger.balance(fund, "Expenses:PaymentFees") == 1_500


def test_a_lost_dispute_takes_the_gift_and_the_fee(client, fund, localstripe, api):
    _gift, dispute = disputed_gift(fund, api, 8_000)
    api.disputes.close(dispute.id)
    assert wait_for(lambda: db.session.scalar(db.select(db.func.count(StripeEvent.id)).filter_by(
        type="charge.dispute.closed").where(StripeEvent.processed_at.is_not(None))), timeout=15)
    assert books(fund) == (2, 0, -1_500)  # the fund is out the dispute fee
    assert api.disputes.retrieve(dispute.id).status == "lost"


def test_payouts_move_money_to_the_bank_once_and_a_failed_one_comes_back(client, fund, localstripe, api):
    booked_gift(fund, api, 9_000)
    payout = api.payouts.create(params={"amount": 9_000, "currency": "usd"})
    assert wait_for(lambda: ledger.balance(fund, "Assets:Bank") == 9_000, timeout=15)
    deliver(client, "payout.paid", {"id": payout.id, "object": "payout"}, event_id="evt_po_again")
    assert ledger.balance(fund, "Assets:Bank") == 9_000 and ledger.balance(fund, "Assets:Stripe") == 0
    assert books(fund)[0] == 2  # the gift, the payout
    localstripe.fail_payout(payout.id)
    assert wait_for(lambda: ledger.balance(fund, "Assets:Bank") == 0, timeout=15)
    deliver(client, "payout.failed", {"id": payout.id, "object": "payout"}, event_id="evt_po_failed_again")
    assert ledger.balance(fund, "Assets:Bank") == 0 and ledger.balance(fund, "Assets:Stripe") == 9_000
    assert books(fund)[0] == 3  # the gift, the payout, its reversal
