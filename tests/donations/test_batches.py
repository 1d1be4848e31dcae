"""The worker books Stripe's events in batches: leased in a short transaction, fetched from Stripe with no
transaction open, booked set-based and committed once. A batch books like one event at a time (each gift once,
receipt numbers gapless, the audit chain whole, the day totals equal to the postings) at a bounded number of
round trips per gift; an event that fails is retried alone, and workers leasing at once never share an event."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from fundapp.audit.services import verify_chain
from fundapp.donations import events
from fundapp.donations.models import Donation, StripeEvent
from fundapp.extensions import db, utcnow
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.mail import OutboxMessage, deliver_pending
from fundapp.payments.events import received
from tests.donations.conftest import signed_event
from tests.donations.helpers import books, pay, pending_gift

pytestmark = pytest.mark.no_worker  # each test here runs the worker itself

#: The issue's goal: round trips per booked gift in a batch of 50.
ROUND_TRIPS_PER_GIFT = 2


def post_payment(client, intent_id: str, event_id: str) -> None:
    payload, headers = signed_event("payment_intent.succeeded", {"id": intent_id, "object": "payment_intent"},
                                    event_id=event_id)
    assert client.post("/stripe/webhook", data=payload, headers=headers).status_code == 200


def paid_gifts(fund, api, count: int, start: int = 0) -> list[tuple[Donation, str]]:
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()  # we deliver the events ourselves
    gifts = []
    for n in range(start, start + count):
        donation = pending_gift(fund, cents=1_000 + n, email=f"giver{n}@example.org")
        gifts.append((donation, pay(api, donation).id))
    return gifts


def statements_in_this_thread():
    """A counter of the statements this thread sends (the live server's threads are not counted)."""
    me = threading.get_ident()
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if threading.get_ident() == me:
            seen.append(statement)

    return seen, count


def test_a_batch_of_fifty_payments_books_each_gift_once_in_few_round_trips(app, client, fund, localstripe, api):
    gifts = paid_gifts(fund, api, 50)
    for n, (_donation, intent) in enumerate(gifts):
        post_payment(client, intent, f"evt_batch_{n}")
    for n, (_donation, intent) in enumerate(gifts[:5]):  # five delivered twice, under other ids, in the same batch
        post_payment(client, intent, f"evt_again_{n}")
    db.session.commit()

    seen, count = statements_in_this_thread()
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        done = events.apply_waiting_events(batch=55)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert (done.applied, done.failed, done.alone) == (55, 0, 0)
    total = sum(1_000 + n for n in range(50))
    assert books(fund) == (50, -total, total)
    if db.engine.dialect.name == "postgresql":
        # Each statement is one round trip to the server; a batch of 50 gifts with its receipt mail costs at most
        # 2 per gift (one gift at a time cost about 25). SQLite has no round trips (it runs in this process),
        # and its ORM inserts row by row, since it cannot say in which order RETURNING gives the new ids.
        assert len(seen) <= ROUND_TRIPS_PER_GIFT * 50, f"{len(seen)} statements for 50 gifts"

    year = utcnow().year
    numbers = db.session.scalars(db.select(Donation.receipt_seq).where(Donation.receipt_year.is_not(None))
                                 .order_by(Donation.receipt_seq)).all()
    assert numbers == list(range(1, 51))  # gapless, once each
    by_id = {donation.id: db.session.get(Donation, donation.id) for donation, _intent in gifts}
    assert [by_id[donation.id].receipt_number for donation, _intent in gifts] == [
        f"{year}-{n:06d}" for n in range(1, 51)]  # numbered in the order the events came
    assert all(by_id[donation.id].gross_cents == donation.total_cents for donation, _intent in gifts)
    assert ledger.check_day_totals(fund) == []
    chain = verify_chain()
    assert chain.first_broken_id is None and chain.checked >= 100  # an entry and a settlement per gift

    mails = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(mails) == 50 and all(m.attachment is None and m.receipt_donation_id for m in mails)
    assert deliver_pending() == (50, 0)  # the sender renders each receipt after the booking committed
    db.session.expire_all()
    assert all(m.attachment.startswith(b"%PDF") for m in db.session.scalars(db.select(OutboxMessage)))


def test_an_event_that_fails_in_a_batch_is_retried_alone_and_the_rest_are_booked(app, client, fund, localstripe,
                                                                                   api):
    gifts = paid_gifts(fund, api, 4)
    euros = api.payment_intents.create(params={"amount": 5_000, "currency": "eur", "payment_method": "pm_card_visa",
                                               "confirm": True})  # the fund keeps dollars: never booked as such
    for n, (_donation, intent) in enumerate(gifts[:2]):
        post_payment(client, intent, f"evt_good_{n}")
    post_payment(client, euros.id, "evt_euros")
    for n, (_donation, intent) in enumerate(gifts[2:], start=2):
        post_payment(client, intent, f"evt_good_{n}")
    db.session.commit()

    done = events.apply_waiting_events()
    assert (done.applied, done.failed, done.alone) == (4, 1, 5)  # the batch failed: each of its five booked alone
    total = sum(1_000 + n for n in range(4))
    assert books(fund) == (4, -total, total)
    assert db.session.scalars(db.select(Donation.receipt_seq).where(Donation.receipt_seq.is_not(None))
                              .order_by(Donation.receipt_seq)).all() == [1, 2, 3, 4]
    bad = db.session.get(StripeEvent, "evt_euros")
    assert bad.processed_at is None and bad.last_error.startswith("DonationError")
    assert bad.next_attempt_at > utcnow()  # its own back-off; the others did not wait for it
    assert all(db.session.get(StripeEvent, f"evt_good_{n}").processed_at is not None for n in range(4))
    assert verify_chain().first_broken_id is None


def test_an_event_stripe_cannot_show_keeps_its_error_when_its_batch_fails(app, client, fund, localstripe, api):
    """An event whose fetch fails is written down before the batch is booked: the batch's rollback (here, an
    event in euros) must not wipe that record, or the event would come back every lease with no back-off and
    never show on the treasurer's list."""
    gifts = paid_gifts(fund, api, 2)
    euros = api.payment_intents.create(params={"amount": 5_000, "currency": "eur", "payment_method": "pm_card_visa",
                                               "confirm": True})
    post_payment(client, gifts[0][1], "evt_good_0")
    post_payment(client, "pi_stripe_never_made", "evt_unknown")  # Stripe answers 404 when asked for it
    post_payment(client, euros.id, "evt_euros")
    post_payment(client, gifts[1][1], "evt_good_1")
    db.session.commit()

    done = events.apply_waiting_events()
    assert (done.applied, done.failed) == (2, 2)
    unknown = db.session.get(StripeEvent, "evt_unknown")
    assert unknown.processed_at is None
    assert unknown.last_error, "the failed fetch's record was rolled back with the batch"
    assert db.session.get(StripeEvent, "evt_euros").last_error.startswith("DonationError")


def post(client, event_type: str, obj: dict, event_id: str) -> None:
    payload, headers = signed_event(event_type, obj, event_id=event_id)
    assert client.post("/stripe/webhook", data=payload, headers=headers).status_code == 200


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_batch_of_events_in_any_order_books_what_one_at_a_time_would(app, client, fund, localstripe, api, seed):
    """Payments, the same payments told again by their charges, a refund, and a charge made outside the app, in
    a shuffled order, all in one batch: each charge booked once, the refund once, receipt numbers gapless."""
    import random

    gifts = paid_gifts(fund, api, 4)
    outside = api.payment_intents.create(params={"amount": 7_700, "currency": "usd", "payment_method": "pm_card_visa",
                                                 "confirm": True})
    charges = [getattr(charge, "id", charge) for charge in (api.payment_intents.retrieve(intent).latest_charge
                                                            for _donation, intent in gifts)]
    api.refunds.create(params={"charge": charges[0], "amount": 300})
    deliveries = [("payment_intent.succeeded", {"id": intent, "object": "payment_intent"})
                  for _donation, intent in gifts]
    deliveries += [("charge.succeeded", {"id": charge, "object": "charge"}) for charge in charges[1:3]]
    deliveries += [("charge.refunded", {"id": charges[0], "object": "charge"}),
                   ("payment_intent.succeeded", {"id": outside.id, "object": "payment_intent"})]
    random.Random(seed).shuffle(deliveries)
    for n, (event_type, obj) in enumerate(deliveries):
        post(client, event_type, obj, f"evt_mixed_{n}")
    db.session.commit()

    done = events.apply_waiting_events()
    assert (done.applied, done.failed, done.alone) == (len(deliveries), 0, 0)  # booked together, as one batch
    total = sum(1_000 + n for n in range(4)) + 7_700
    stripe_side = ledger.balance(fund, "Assets:Stripe") + ledger.balance(fund, "Expenses:PaymentFees")
    assert (ledger.balance(fund, "Income:Donations"), stripe_side) == (-total + 300, total - 300)
    assert db.session.scalar(db.select(db.func.count()).select_from(JournalEntry)) == 6  # 5 gifts, 1 refund
    assert db.session.get(Donation, gifts[0][0].id).refunded_cents == 300
    assert sorted(db.session.scalars(db.select(Donation.receipt_seq).where(
        Donation.receipt_seq.is_not(None)))) == [1, 2, 3, 4, 5]
    assert ledger.check_day_totals(fund) == [] and verify_chain().first_broken_id is None
    assert events.apply_waiting_events().total == 0  # nothing left over, nothing to do again


ROUNDS = 50
WORKERS = 3
EVENTS_PER_ROUND = 12


def test_workers_leasing_at_once_never_share_an_event(app, fund):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    for trial in range(ROUNDS):
        for n in range(EVENTS_PER_ROUND):
            events.store_event(fund, received({"id": f"evt_{trial}_{n}", "type": "customer.created",
                                               "data": {"object": {"id": f"cus_{n}"}}}))
        db.session.commit()
        barrier = threading.Barrier(WORKERS)
        results: list[events.Applied] = []

        def worker(barrier=barrier, results=results):
            with app.app_context():
                barrier.wait(10)
                results.append(events.apply_waiting_events(batch=4))
                db.session.remove()

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        db.session.rollback()
        assert sum(result.total for result in results) == EVENTS_PER_ROUND, trial
        attempts = db.session.execute(db.select(StripeEvent.attempts, StripeEvent.outcome).where(
            StripeEvent.id.startswith(f"evt_{trial}_"))).all()
        assert sorted(attempts) == [(1, "ignored")] * EVENTS_PER_ROUND, trial  # each leased by one worker, once
