"""The worker: what happens off the request, in ``flask fund worker`` (beside gunicorn) or a thread of
``run-local`` and the tests' live server.

Each round it beats (``/healthz`` reports a worker whose heart stopped), applies the Stripe events the webhook
stored (``donations.events.apply_waiting_events``: in batches, each booked in one transaction, an event that
fails tried again alone, later), answers the mail requests the pages queued (sign-in and reset links), sends
the outbox (a few messages per round while events are being booked), and every
``TIDY_EVERY`` seconds tidies (``donations.events.tidy_everywhere``). It never dies: a round that fails (the
database went away, a message would not build) is rolled back and tried again a little later.

An event that fails is the queue's business, not the loop's: ``payments.facts.RetryLater`` is the one error that
means "Stripe cannot say yet, try again" (``NotConfirmed`` means "never"); anything else is retried too, with its
traceback in the log.
"""
from __future__ import annotations

import time

from flask import current_app

from fundapp.donations.events import Applied, apply_waiting_events, tidy_everywhere
from fundapp.extensions import db

#: How often (seconds) the worker tidies: closes checkouts left pending past Stripe's expiry, and mails the
#: receipts held while a fund's EIN or contact was a placeholder.
TIDY_EVERY = 60
#: Messages sent per round while events are being booked (100 when none are).
MAIL_WHILE_BOOKING = 10


def run_worker(*, interval: float = 1.0, stop=None, batch: int = 100) -> None:
    """Apply events and send mail until ``stop`` (a threading.Event) is set; sleep ``interval`` when idle."""
    from fundapp import health
    from fundapp.mail import answer_requests, deliver_pending

    next_tidy = 0.0
    last_beat = 0.0
    while stop is None or not stop.is_set():
        try:
            if time.monotonic() - last_beat >= health.HEARTBEAT_EVERY.total_seconds():
                health.beat()  # /healthz reports a worker whose heart stopped
                last_beat = time.monotonic()
            done = apply_waiting_events(limit=batch)
            answer_requests()  # reset and sign-in links asked for on the pages
            # Money first: while a burst of events is being booked, each round sends only a few messages (each
            # receipt is rendered as it is sent), so the books keep up and the mail follows.
            sent, failed = deliver_pending(MAIL_WHILE_BOOKING if done.total else 100)
            if time.monotonic() >= next_tidy:
                tidy_everywhere()
                next_tidy = time.monotonic() + TIDY_EVERY
        except Exception:  # noqa: BLE001 - the database went away, a message would not build: never die
            db.session.rollback()
            current_app.logger.exception("worker: trying again in %.0f s", interval * 5)
            done, sent, failed = Applied(), 0, 0
            _sleep(interval * 5, stop)
        if done.total == 0 and sent == 0:
            _sleep(interval, stop)
        elif failed:
            _sleep(interval, stop)


def start_worker_thread(app, interval: float = 0.5):
    """The worker in a thread of this process (local mode and the tests' live server); returns its stopper."""
    import threading

    stop = threading.Event()

    def work():
        with app.app_context():
            run_worker(interval=interval, stop=stop)

    thread = threading.Thread(target=work, name="fundapp-worker", daemon=True)
    thread.start()

    def stopper():
        stop.set()
        thread.join(10)

    return stopper


def _sleep(seconds: float, stop) -> None:
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)
