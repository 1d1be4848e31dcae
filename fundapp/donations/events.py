"""The queue of Stripe events: the webhook stores, the worker (``fundapp/worker.py``) applies.

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
after a crash changes nothing. Applying an event is: ``payments.events.facts_of`` turns
it into facts (fetching its objects back from Stripe), ``booking.apply_fact`` books each.

Unlike the rest of the services, these functions commit: each event is its own
transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from fundapp.donations import booking, giving, receipts
from fundapp.donations.models import StripeEvent
from fundapp.extensions import db, insert_or_merge, utcnow
from fundapp.funds.models import Fund
from fundapp.metrics import STRIPE_EVENTS_APPLIED, STRIPE_EVENTS_FAILED, STRIPE_EVENTS_STORED, count_on_commit
from fundapp.payments import events as stripe_events
from fundapp.payments.facts import NotConfirmed, ReceivedEvent, RetryLater

MAX_ATTEMPTS = 20  # about ten hours of tries with the back-off below; Stripe itself retries for three days
MAX_BACKOFF_SECONDS = 3600


def store_event(fund: Fund, event: ReceivedEvent) -> bool:
    """Keep a verified event for the worker (flushes); False when its id is already kept (a re-delivery)."""
    if db.session.scalar(db.select(StripeEvent.id).where(StripeEvent.id == event.event_id)) is not None:
        # A plain read: a re-delivery of an event the worker is applying right now is answered at once,
        # where the INSERT below would wait on the worker's lock on that row until its booking commits.
        return False
    statement = insert_or_merge(StripeEvent).values(
        id=event.event_id, fund_id=fund.id, type=event.type, payload=event.payload,
        received_at=utcnow(), attempts=0)
    # A concurrent delivery of the same id waits for the other to commit, then inserts nothing.
    statement = statement.on_conflict_do_nothing(index_elements=["id"]).returning(StripeEvent.id)
    stored = db.session.execute(statement).scalar() is not None
    if stored:
        count_on_commit(STRIPE_EVENTS_STORED)
    return stored


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
        fund = db.session.get(Fund, event.fund_id) if event.fund_id else None
        try:
            with db.session.begin_nested():
                outcome = _apply(fund, event.payload)
        except NotConfirmed as exc:  # nothing booked, and no later try would change that: kept to be seen
            current_app.logger.warning("Stripe event %s (%s) not booked: %s", event.id, event.type, exc)
            event.last_error = f"{booking.NOT_BOOKED}{exc}"[:500]
            event.attempts = max(event.attempts, MAX_ATTEMPTS)
            done.failed += 1
            count_on_commit(STRIPE_EVENTS_FAILED)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the event for a later try, never the queue stuck
            current_app.logger.warning("Stripe event %s (%s) not applied, attempt %d: %s", event.id, event.type,
                                       event.attempts, exc, exc_info=not _expected(exc))
            event.last_error = f"{type(exc).__name__}: {exc}"[:500]
            event.next_attempt_at = utcnow() + timedelta(seconds=min(2 ** event.attempts, MAX_BACKOFF_SECONDS))
            done.failed += 1
            count_on_commit(STRIPE_EVENTS_FAILED)
        else:
            event.processed_at, event.outcome, event.last_error = utcnow(), outcome, None
            if outcome == "applied":
                done.applied += 1
            else:
                done.ignored += 1
            count_on_commit(STRIPE_EVENTS_APPLIED, outcome=outcome)
        db.session.commit()
    return done


def _apply(fund: Fund | None, payload: str) -> str:
    """Book what one stored event says: "applied", or "ignored" (a type fundapp does not read, or no fund)."""
    facts = stripe_events.facts_of(payload)  # checks the event's API version first
    if facts is None or fund is None:
        return "ignored"
    for fact in facts:  # each fetched back from Stripe just before it is booked
        booking.apply_fact(fund, fact)
    return "applied"


def _expected(exc: Exception) -> bool:
    """Failures Stripe's side or a race explains (no traceback needed in the log)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    return isinstance(exc, (RetryLater, giving.DonationError, IntegrityError, OperationalError))


def waiting_events(limit: int = 20) -> tuple[int, list[StripeEvent]]:
    """How many events wait to be applied, and the latest that failed (for the treasurer's page)."""
    waiting = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)
                                .where(StripeEvent.processed_at.is_(None)))
    failed = db.session.scalars(db.select(StripeEvent).where(
        StripeEvent.processed_at.is_(None), StripeEvent.last_error.is_not(None))
        .order_by(StripeEvent.received_at.desc()).limit(limit)).all()
    return waiting or 0, list(failed)


def retry_now() -> int:
    """Make every waiting event due at once, those that gave up getting one more try (the treasurer's "try
    again now"): the worker books them on its next round, so the page never waits on Stripe. Flushes; returns
    how many wait."""
    waiting = StripeEvent.processed_at.is_(None)
    db.session.execute(db.update(StripeEvent).where(waiting, StripeEvent.attempts >= MAX_ATTEMPTS)
                       .values(attempts=MAX_ATTEMPTS - 1).execution_options(synchronize_session=False))
    db.session.execute(db.update(StripeEvent).where(waiting).values(next_attempt_at=None)
                       .execution_options(synchronize_session=False))
    return db.session.scalar(db.select(db.func.count()).select_from(StripeEvent).where(waiting)) or 0


def tidy_everywhere() -> tuple[int, int]:
    """For every fund: close the gifts left at an expired checkout (``giving.close_stale_checkouts``) and mail
    the receipts held until its details were set (``receipts.send_held_receipts``); commits. Returns both counts."""
    closed = released = 0
    for fund in db.session.scalars(db.select(Fund)).all():
        closed += giving.close_stale_checkouts(fund)
        released += receipts.send_held_receipts(fund)
    db.session.commit()
    return closed, released
