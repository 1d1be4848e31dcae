"""The event queue: the webhook only stores; the worker applies each event once, retries what fails
later without holding up the rest, and leaves nothing half-written when the database fails mid-booking."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fundapp.donations import events
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db, utcnow
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.mail import OutboxMessage
from tests.conftest import WEBHOOK_SECRET, free_port, injected_fault
from tests.donations.conftest import signed_event
from tests.donations.helpers import books, pay, pending_gift

pytestmark = pytest.mark.no_worker  # each test here runs the worker itself


def post(client, event_type, obj, **kwargs):
    payload, headers = signed_event(event_type, obj, **kwargs)
    return client.post("/stripe/webhook", data=payload, headers=headers)


def paid_intent(fund, api, localstripe, cents=2_000, email="kim@example.org"):
    """A real payment at the local Stripe server whose own webhook is switched off (we deliver it)."""
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()
    donation = pending_gift(fund, cents=cents, email=email)
    return donation, pay(api, donation)


def test_the_webhook_answers_without_stripe_and_the_worker_books_it_when_stripe_is_back(
        app, client, fund, localstripe, api):
    donation, intent = paid_intent(fund, api, localstripe)
    reachable = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # Stripe's API down: nothing listens
    response = post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"},
                    event_id="evt_paid")
    assert response.status_code == 200 and response.get_json()["outcome"] == "stored"
    done = events.apply_waiting_events()
    assert (done.applied, done.failed) == (0, 1)
    event = db.session.get(StripeEvent, "evt_paid")
    assert event.processed_at is None and event.attempts == 1 and "GatewayError" in event.last_error
    assert event.next_attempt_at > utcnow()
    assert books(fund)[0] == 0 and db.session.get(Donation, donation.id).status == DonationStatus.PENDING

    app.config["STRIPE_API_BASE"] = reachable
    assert events.apply_waiting_events().total == 0  # not due yet: it waits its back-off
    event.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert events.apply_waiting_events().applied == 1
    assert books(fund) == (1, -2_000, 2_000)
    event = db.session.get(StripeEvent, "evt_paid")
    assert event.outcome == "applied" and event.attempts == 2 and event.last_error is None
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 1  # one receipt mail


def test_a_failing_event_waits_its_turn_again_and_holds_up_nothing(client, fund, localstripe, api):
    donation, intent = paid_intent(fund, api, localstripe)
    post(client, "charge.succeeded", {"id": "ch_nowhere", "object": "charge"}, event_id="evt_bad")
    post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, event_id="evt_good")
    done = events.apply_waiting_events()
    assert (done.applied, done.failed) == (1, 1)
    assert db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED
    waiting, failed = events.waiting_events()
    assert waiting == 1 and [e.id for e in failed] == ["evt_bad"]

    bad = db.session.get(StripeEvent, "evt_bad")
    bad.attempts = events.MAX_ATTEMPTS  # it gave up: only a person asking again retries it
    bad.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert events.apply_waiting_events().total == 0
    assert events.apply_waiting_events(again=True).failed == 1
    assert db.session.get(StripeEvent, "evt_bad").attempts == events.MAX_ATTEMPTS + 1


def test_a_database_error_in_the_middle_of_booking_leaves_nothing_and_the_retry_books_once(
        client, fund, localstripe, api):
    """A real fault inside the database: a trigger refuses the receipt-number update the first time,
    after the donation, the entry and the audit record were already written in the same transaction."""
    donation, intent = paid_intent(fund, api, localstripe, cents=3_300)
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE fault_once (armed INTEGER)"))
        conn.execute(sa.text("INSERT INTO fault_once VALUES (1)"))
    try:
        with injected_fault("fault_once", "ledger_day_totals", only_while="EXISTS (SELECT 1 FROM fault_once)"):
            post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, event_id="evt_1")
            assert events.apply_waiting_events().failed == 1
            assert "injected fault" in db.session.get(StripeEvent, "evt_1").last_error
            # nothing of the half-done booking stayed: no entry, no day total, no receipt number, no mail
            assert books(fund)[0] == 0
            assert db.session.get(Donation, donation.id).receipt_seq is None
            assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 0
            with db.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM fault_once"))
            post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, event_id="evt_2")
            db.session.get(StripeEvent, "evt_1").next_attempt_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
            assert events.apply_waiting_events().applied == 2  # the retry books; the second delivery finds it done
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE fault_once"))
    assert books(fund) == (1, -3_300, 3_300)
    assert ledger.check_day_totals(fund) == []
    assert db.session.get(Donation, donation.id).receipt_number == f"{utcnow().year}-000001"
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 1


def test_two_workers_apply_every_event_once(app, client, fund, localstripe, api):
    from localstripe import webhooks as localstripe_webhooks

    localstripe_webhooks._webhooks.clear()
    intents = []
    for n in range(12):
        donation = pending_gift(fund, cents=1_000 + n, email=f"giver{n}@example.org")
        intents.append(pay(api, donation).id)
    for n, intent in enumerate(intents + intents[:4]):  # four delivered twice under other event ids
        assert post(client, "payment_intent.succeeded", {"id": intent, "object": "payment_intent"},
                    event_id=f"evt_{n}").status_code == 200
    results = []

    def worker():
        with app.app_context():
            results.append(events.apply_waiting_events())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.rollback()
    assert sum(r.applied for r in results) == 16 and sum(r.failed for r in results) == 0
    assert books(fund) == (12, -sum(1_000 + n for n in range(12)), sum(1_000 + n for n in range(12)))
    attempts = db.session.scalars(db.select(StripeEvent.attempts)).all()
    assert len(attempts) == 16 and all(a == 1 for a in attempts)  # no event was claimed by both workers
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == 12


def test_the_worker_command_applies_and_sends_then_exits(client, fund, localstripe, api, runner, smtp):
    donation, intent = paid_intent(fund, api, localstripe, cents=4_000)
    post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, event_id="evt_cli")
    result = runner.invoke(args=["fund", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Stripe events: 1 applied, 0 ignored, 0 failed. Mail: 1 sent, 0 failed." in result.output
    assert db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED
    assert [m["Subject"].startswith("Thank you: receipt") for m in smtp.messages] == [True]


@pytest.mark.parametrize("delivered", ["once", "twice at once"])
def test_the_same_event_delivered_at_once_is_stored_once(app, fund, delivered):
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    payload, headers = signed_event("customer.created", {"id": "cus_1"}, event_id="evt_same")
    copies = 1 if delivered == "once" else 2
    answers = []
    start = threading.Barrier(copies)

    def send():
        with app.app_context():
            client = app.test_client()
            start.wait()
            answer = client.post("/stripe/webhook", data=payload, headers=headers)
            answers.append(answer.get_json().get("outcome") or answer.get_data(as_text=True))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == (["stored"] if copies == 1 else ["duplicate", "stored"])
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id))) == 1
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 0


def test_the_treasurer_sees_notices_that_failed_and_can_try_them_again(
        app, client, fund, localstripe, api, create_user):
    from tests.conftest import sign_in

    donation, intent = paid_intent(fund, api, localstripe, cents=2_600)
    reachable = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"
    post(client, "payment_intent.succeeded", {"id": intent.id, "object": "payment_intent"}, event_id="evt_late")
    events.apply_waiting_events()
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    assert "1 notice from Stripe is waiting to be booked." in page
    assert "payment_intent.succeeded" in page and "GatewayError" in page and "1 / 20" in page
    db.session.execute(db.update(StripeEvent).values(attempts=events.MAX_ATTEMPTS))  # it has given up
    db.session.commit()
    # The button never waits on Stripe (still unreachable here): it makes the notice due, the worker books it
    page = client.post("/admin/events/apply", follow_redirects=True).get_data(as_text=True)
    assert "1 notice will be booked within a few seconds." in page
    assert db.session.get(Donation, donation.id).status != DonationStatus.SUCCEEDED
    app.config["STRIPE_API_BASE"] = reachable
    assert events.apply_waiting_events().applied == 1  # the worker's next round
    page = client.get("/admin/").get_data(as_text=True)
    assert "Every notice from Stripe has been booked." in page
    assert db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED
