"""The queue of Stripe events: the webhook stores, the worker applies.

The webhook answers Stripe as soon as a verified event is stored (one INSERT and
a commit), as Stripe asks of an endpoint; everything slow (fetching the real
objects back from Stripe, booking, the receipt PDF, mail) happens in the worker
(``flask fund worker``, or a thread of ``run-local``), one event per transaction.

An event that fails (Stripe unreachable, a fact not ready yet, a conflict, a bug)
is rolled back whole and tried again later, after 2, 4, 8 ... seconds (at most an
hour), up to ``MAX_ATTEMPTS`` times; then it waits on the treasurer's page until
someone asks for it again. Several workers may run: on PostgreSQL each claims
a different event (``FOR UPDATE SKIP LOCKED``); on SQLite the claim's UPDATE takes
the database's write lock, so they take turns. Applying is idempotent in any case
(each money movement is booked once by its own key), so an event applied twice
after a crash changes nothing.

Unlike the rest of the services, these functions commit: each event is its own
transaction.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from fundapp.donations import booking, giving, receipts
from fundapp.donations.models import StripeEvent
from fundapp.extensions import db, insert_or_merge, utcnow
from fundapp.funds.models import Fund
from fundapp.payments import gateway

MAX_ATTEMPTS = 20  # about ten hours of tries with the back-off below; Stripe itself retries for three days
MAX_BACKOFF_SECONDS = 3600


def store_event(fund: Fund, event: dict) -> bool:
    """Keep a verified event for the worker (flushes); False when its id is already kept (a re-delivery)."""
    if db.session.scalar(db.select(StripeEvent.id).where(StripeEvent.id == event["id"])) is not None:
        # A plain read: a re-delivery of an event the worker is applying right now is answered at once,
        # where the INSERT below would wait on the worker's lock on that row until its booking commits.
        return False
    statement = insert_or_merge(StripeEvent).values(
        id=event["id"], fund_id=fund.id, type=event["type"], payload=json.dumps(event, sort_keys=True),
        received_at=utcnow(), attempts=0)
    # A concurrent delivery of the same id waits for the other to commit, then inserts nothing.
    statement = statement.on_conflict_do_nothing(index_elements=["id"]).returning(StripeEvent.id)
    return db.session.execute(statement).scalar() is not None


@dataclass
class Applied:
    applied: int = 0
    ignored: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.applied + self.ignored + self.failed


def _waiting(now, *, again: bool):
    query = db.select(StripeEvent.id).where(StripeEvent.processed_at.is_(None))
    if not again:
        query = query.where(StripeEvent.attempts < MAX_ATTEMPTS,
                            sa.or_(StripeEvent.next_attempt_at.is_(None), StripeEvent.next_attempt_at <= now))
    return query.order_by(StripeEvent.received_at, StripeEvent.id)


def _claim(now, *, again: bool, skip: set[str]) -> StripeEvent | None:
    """Lock the oldest event that is due (one no other worker holds) and count the attempt."""
    query = _waiting(now, again=again)
    if skip:
        query = query.where(StripeEvent.id.not_in(skip))
    event_id = db.session.scalar(query.limit(1).with_for_update(skip_locked=True))
    if event_id is None:
        return None
    claimed = db.session.execute(
        db.update(StripeEvent).where(StripeEvent.id == event_id, StripeEvent.processed_at.is_(None))
        .values(attempts=StripeEvent.attempts + 1).execution_options(synchronize_session=False)).rowcount
    if not claimed:  # another worker finished it meanwhile (SQLite has no row locks)
        db.session.commit()
        skip.add(event_id)
        return _claim(now, again=again, skip=skip)
    return db.session.get(StripeEvent, event_id, populate_existing=True)


def apply_waiting_events(limit: int | None = None, *, again: bool = False) -> Applied:
    """Apply due events, oldest first, each in its own transaction; ``again`` retries those that gave up."""
    done = Applied()
    tried: set[str] = set()  # one try per event per call, so a failing event cannot spin
    while limit is None or done.total < limit:
        event = _claim(utcnow(), again=again, skip=tried)
        if event is None:
            db.session.commit()
            return done
        tried.add(event.id)
        payload = json.loads(event.payload)
        fund = db.session.get(Fund, event.fund_id) if event.fund_id else None
        try:
            with db.session.begin_nested():
                check_api_version(payload)
                outcome = booking.apply_event(fund, payload) if fund is not None else "ignored"
        except gateway.NotConfirmed as exc:  # nothing booked, and no later try would change that: kept to be seen
            current_app.logger.warning("Stripe event %s (%s) not booked: %s", event.id, event.type, exc)
            event.last_error = f"{booking.NOT_BOOKED}{exc}"[:500]
            event.attempts = max(event.attempts, MAX_ATTEMPTS)
            done.failed += 1
        except Exception as exc:  # noqa: BLE001 - any failure leaves the event for a later try, never the queue stuck
            current_app.logger.warning("Stripe event %s (%s) not applied, attempt %d: %s", event.id, event.type,
                                       event.attempts, exc, exc_info=not _expected(exc))
            event.last_error = f"{type(exc).__name__}: {exc}"[:500]
            event.next_attempt_at = utcnow() + timedelta(seconds=min(2 ** event.attempts, MAX_BACKOFF_SECONDS))
            done.failed += 1
        else:
            event.processed_at, event.outcome, event.last_error = utcnow(), outcome, None
            if outcome == "applied":
                done.applied += 1
            else:
                done.ignored += 1
        db.session.commit()
    return done


def check_api_version(event: dict) -> None:
    """In production, an event rendered in another API version than the one this code reads is refused
    (its objects may lack or rename fields): the endpoint must be set to ``gateway.API_VERSION``."""
    version = gateway.event_api_version(event)
    if current_app.config.get("ENV_NAME") == "production" and version != gateway.API_VERSION:
        raise gateway.WrongApiVersion(
            f"event {event.get('id')} is in Stripe API version {version or '(none)'}, but fundapp reads "
            f"{gateway.API_VERSION}: set the webhook endpoint's API version to {gateway.API_VERSION}")


def _expected(exc: Exception) -> bool:
    """Failures Stripe's side or a race explains (no traceback needed in the log)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from fundapp.ledger.services import LedgerError
    return isinstance(exc, (gateway.GatewayError, gateway.FactsIncomplete, LedgerError, IntegrityError,
                            OperationalError))


def waiting_events(limit: int = 20) -> tuple[int, list[StripeEvent]]:
    """How many events wait to be applied, and the latest that failed (for the treasurer's page)."""
    waiting = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)
                                .where(StripeEvent.processed_at.is_(None)))
    failed = db.session.scalars(db.select(StripeEvent).where(
        StripeEvent.processed_at.is_(None), StripeEvent.last_error.is_not(None))
        .order_by(StripeEvent.received_at.desc()).limit(limit)).all()
    return waiting or 0, list(failed)


#: How often (seconds) the worker tidies: closes checkouts left pending past Stripe's expiry, and mails the
#: receipts held while a fund's EIN or contact was a placeholder.
TIDY_EVERY = 60


def tidy_everywhere() -> tuple[int, int]:
    """For every fund: close the gifts left at an expired checkout (``giving.close_stale_checkouts``) and mail
    the receipts held until its details were set (``receipts.send_held_receipts``); commits. Returns both counts."""
    closed = released = 0
    for fund in db.session.scalars(db.select(Fund)).all():
        closed += giving.close_stale_checkouts(fund)
        released += receipts.send_held_receipts(fund)
    db.session.commit()
    return closed, released


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
            sent, failed = deliver_pending()
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
