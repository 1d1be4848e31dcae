"""The queue of Stripe events: the webhook stores, the worker (``fundapp/worker.py``) applies.

The webhook answers Stripe as soon as a verified event is stored (one INSERT and
a commit), as Stripe asks of an endpoint; everything slow (fetching the real
objects back from Stripe, booking, mail) happens in the worker (``flask fund
worker``, or a thread of ``run-local``), in batches of up to ``BATCH`` events:

1. lease: the oldest due events are claimed in a short transaction of their own
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers take different ones; the
   UPDATE's own condition on SQLite) and made due again only after ``LEASE``;
2. fetch: each event's objects are fetched back from Stripe, ``FETCHERS`` at a
   time, with no transaction open (``payments.events.facts_of``);
3. book: one transaction books them all, settled payments set-based
   (``booking.record_payments``), the rest fact by fact (``booking.apply_fact``),
   marks the events applied and commits once. The receipt mail is queued there;
   the sender renders its PDF after the commit.

If a batch fails, each of its events is booked alone, so an event that fails
(Stripe unreachable, a fact not ready yet, a conflict, a bug) is rolled back by
itself and tried again later, after 2, 4, 8 ... seconds (at most an hour), up to
``MAX_ATTEMPTS`` times; then it waits on the treasurer's page until someone asks
for it again. Applying is idempotent in any case (each money movement is booked
once by its own key), so an event applied twice after a crash changes nothing.

Unlike the rest of the services, these functions commit.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from fundapp.donations import booking, filing, giving, receipts
from fundapp.donations.models import StripeEvent
from fundapp.extensions import begin_write, db, insert_or_merge, utcnow
from fundapp.funds.models import Fund
from fundapp.metrics import STRIPE_EVENTS_APPLIED, STRIPE_EVENTS_FAILED, STRIPE_EVENTS_STORED, count_on_commit
from fundapp.payments import events as stripe_events
from fundapp.payments.facts import ChargeHistory, Fact, NotConfirmed, PaymentSettled, ReceivedEvent, RetryLater

#: Events one worker leases, fetches and books per transaction, and how many it fetches from Stripe at once.
BATCH = 50
FETCHERS = 8
#: How long a leased event is the worker's before another may take it (that worker died mid-batch). Short, so a
#: dead worker's events wait little; a batch slower than this (Stripe hanging) may be taken again meanwhile,
#: which costs only work: booking is idempotent, each movement booked once by its own key.
LEASE = timedelta(seconds=30)
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
    #: Events booked one by one because the batch they came in failed.
    alone: int = 0
    #: Payments that named no fund, put on the host's "to be assigned" list (also counted as ignored).
    unassigned: int = 0

    @property
    def total(self) -> int:
        return self.applied + self.ignored + self.failed


def _waiting(now, *, again: bool):
    query = db.select(StripeEvent.id).where(StripeEvent.processed_at.is_(None))
    if not again:
        query = query.where(StripeEvent.attempts < MAX_ATTEMPTS,
                            sa.or_(StripeEvent.next_attempt_at.is_(None), StripeEvent.next_attempt_at <= now))
    return query.order_by(StripeEvent.received_at, StripeEvent.id)


@dataclass
class _Claimed:
    """An event a worker leased, what it stands for once fetched from Stripe, and how applying it went."""

    id: str
    fund_id: int | None
    type: str
    payload: str
    attempts: int
    #: "assigned" for a payment the host filed under ``fund_id`` (``filing.assign_event``); else None.
    outcome: str | None = None
    facts: list[Fact] | None = None  #: None: a type fundapp does not read
    error: Exception | None = None
    #: The fund its facts were booked in (``filing.fund_for_event``), when not the one it was stored under.
    filed_fund_id: int | None = None


def _claim_batch(now, *, again: bool, skip: set[str], size: int) -> list[_Claimed]:
    """Lease up to ``size`` of the oldest due events (none another worker holds) and count the attempt, in a short
    transaction of their own: no lock is held while Stripe is asked. The lease is the event's next try, so a
    worker that dies mid-batch leaves them to be taken again when it ends (on SQLite, which has no row locks,
    the UPDATE's own condition lets one worker take each)."""
    begin_write()
    query = _waiting(now, again=again)
    if skip:
        query = query.where(StripeEvent.id.not_in(skip))
    ids = db.session.scalars(query.limit(size).with_for_update(skip_locked=True)).all()
    if not ids:
        db.session.commit()
        return []
    due = StripeEvent.processed_at.is_(None)
    if not again:
        due = sa.and_(due, sa.or_(StripeEvent.next_attempt_at.is_(None), StripeEvent.next_attempt_at <= now))
    rows = db.session.execute(
        db.update(StripeEvent).where(StripeEvent.id.in_(ids), due)
        .values(attempts=StripeEvent.attempts + 1, next_attempt_at=now + LEASE)
        .returning(StripeEvent.id, StripeEvent.fund_id, StripeEvent.type, StripeEvent.payload, StripeEvent.attempts,
                   StripeEvent.outcome)
        .execution_options(synchronize_session=False)).all()
    db.session.commit()
    order = {event_id: n for n, event_id in enumerate(ids)}
    return sorted((_Claimed(*row) for row in rows), key=lambda claimed: order[claimed.id])


def _fetch(app, claimed: _Claimed) -> None:
    """What one event stands for, fetched back from Stripe (outside any transaction); an error is kept."""
    with app.app_context():
        try:
            facts = stripe_events.facts_of(claimed.payload)  # checks the event's API version first
            claimed.facts = None if facts is None else list(facts)
        except Exception as exc:  # noqa: BLE001 - kept with the event: it fails alone, the batch goes on
            claimed.error = exc


def _fetch_all(batch: list[_Claimed]) -> None:
    """Fetch every event's facts, in parallel on the shared Stripe client (one at a time for a batch of one)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if len(batch) == 1:
        _fetch(app, batch[0])
        return
    list(_fetch_pool().map(lambda claimed: _fetch(app, claimed), batch))


@functools.cache
def _fetch_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(FETCHERS, thread_name_prefix="fundapp-stripe-fetch")


def apply_waiting_events(limit: int | None = None, *, again: bool = False, batch: int = BATCH,
                         fetch: Callable[[list[_Claimed]], None] | None = None) -> Applied:
    """Apply due events, oldest first, up to ``batch`` per transaction; ``again`` retries those that gave up.
    ``fetch`` fills in each leased event's facts (by default from Stripe, ``_fetch_all``; the benchmark hands in
    facts fetched before, to time the booking alone).

    Each batch is leased (a short commit), its facts fetched from Stripe with no transaction open, then booked
    together and committed once (``_book_together``). If that fails, each event of the batch is booked alone, so
    one bad event never holds back the others: it alone is rolled back and tried again later."""
    done = Applied()
    tried: set[str] = set()  # one try per event per call, so a failing event cannot spin
    while limit is None or done.total < limit:
        size = batch if limit is None else min(batch, limit - done.total)
        claimed = _claim_batch(utcnow(), again=again, skip=tried, size=size)
        if not claimed:
            return done
        tried.update(event.id for event in claimed)
        (fetch or _fetch_all)(claimed)
        fetched = [event for event in claimed if event.error is None]
        for event in claimed:
            if event.error is not None:
                _failed(event, event.error, done)
        db.session.commit()  # before the booking: a failed batch's rollback must not take these records with it
        if fetched and not _commit_together(fetched, done) and len(fetched) > 1:
            done.alone += len(fetched)
            for event in fetched:
                _commit_together([event], done)
        db.session.commit()
    return done


def _commit_together(batch: list[_Claimed], done: Applied) -> bool:
    """Book the batch's facts and mark its events applied, in one transaction; False (rolled back) if it failed.
    A batch of one that fails is marked failed, to be tried again later."""
    try:
        outcomes = _book_together(batch)
        now = utcnow()
        filing.mark_unassigned([(event.id, event.facts or []) for event in batch
                                if outcomes[event.id] == filing.UNASSIGNED])
        for fund_id in {event.filed_fund_id for event in batch if event.filed_fund_id is not None}:
            # each event under the fund it was booked in: that fund's treasurer sees it on their queue page
            db.session.execute(db.update(StripeEvent).where(StripeEvent.id.in_(
                [event.id for event in batch if event.filed_fund_id == fund_id])).values(fund_id=fund_id)
                .execution_options(synchronize_session=False))
        unassigned = sum(1 for event in batch if outcomes[event.id] == filing.UNASSIGNED)
        done.unassigned += unassigned
        done.ignored += unassigned
        for outcome in ("applied", "ignored"):
            ids = [event.id for event in batch if outcomes[event.id] == outcome]
            if ids:
                db.session.execute(db.update(StripeEvent).where(StripeEvent.id.in_(ids)).values(
                    processed_at=now, outcome=outcome, last_error=None).execution_options(synchronize_session=False))
                setattr(done, outcome, getattr(done, outcome) + len(ids))
                for _id in ids:
                    count_on_commit(STRIPE_EVENTS_APPLIED, outcome=outcome)
        db.session.commit()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure leaves the events for a later try, never the queue stuck
        db.session.rollback()
        if len(batch) == 1:
            _failed(batch[0], exc, done)
            db.session.commit()
        else:
            current_app.logger.info("A batch of %d Stripe events failed (%s: %s); booking each alone", len(batch),
                                    type(exc).__name__, str(exc)[:200])
        return False


def _book_together(batch: list[_Claimed]) -> dict[str, str]:
    """Book what the batch's events say, in their order (flushes): consecutive settled payments of one fund in
    one set-based booking (``booking.record_payments``), anything else fact by fact, each in the fund it belongs
    to (``filing.fund_for_event``). Returns each event's outcome: "applied", "ignored" (a type fundapp does not
    read, or no fund), or ``filing.UNASSIGNED`` (a payment naming no fund, on an installation of several)."""
    outcomes: dict[str, str] = {}
    payments: list[Fact] = []
    payments_fund: Fund | None = None
    funds: dict[int, Fund] = {}
    fund_ids = filing.FundIds()

    def book_payments() -> None:
        if payments:
            booking.record_payments(payments_fund, payments)  # type: ignore[arg-type]
            payments.clear()

    for event in batch:
        if event.facts is None:
            outcomes[event.id] = "ignored"
            continue
        fund_id = filing.fund_for_event(event.facts, stored_fund_id=event.fund_id,
                                        assigned=event.outcome == filing.ASSIGNED, funds=fund_ids)
        if fund_id is None or fund_id == filing.UNASSIGNED:
            outcomes[event.id] = "ignored" if fund_id is None else filing.UNASSIGNED
            continue
        if fund_id != event.fund_id:
            event.filed_fund_id = fund_id  # type: ignore[assignment]
        fund = funds.get(fund_id) or funds.setdefault(fund_id, db.session.get(Fund, fund_id))  # type: ignore[arg-type]
        if all(isinstance(fact, (PaymentSettled, ChargeHistory)) for fact in event.facts):
            if payments_fund is not None and payments_fund.id != fund.id:
                book_payments()
            payments.extend(event.facts)
            payments_fund = fund
        else:
            book_payments()
            for fact in event.facts:
                booking.apply_fact(fund, fact)
        outcomes[event.id] = "applied"
    book_payments()
    return outcomes


def _failed(event: _Claimed, exc: Exception, done: Applied) -> None:
    """Write down why an event was not applied (flushes): never, for what Stripe does not confirm; else it is
    tried again after its back-off."""
    if isinstance(exc, NotConfirmed):  # nothing booked, and no later try would change that: kept to be seen
        current_app.logger.warning("Stripe event %s (%s) not booked: %s", event.id, event.type, exc)
        values = {"last_error": f"{booking.NOT_BOOKED}{exc}"[:500],
                  "attempts": max(event.attempts, MAX_ATTEMPTS)}
    else:
        current_app.logger.warning("Stripe event %s (%s) not applied, attempt %d: %s", event.id, event.type,
                                   event.attempts, exc, exc_info=not _expected(exc))
        values = {"last_error": f"{type(exc).__name__}: {exc}"[:500],
                  "next_attempt_at": utcnow() + timedelta(seconds=min(2 ** event.attempts, MAX_BACKOFF_SECONDS))}
    filed = _filed_fund(event)
    if filed is not None:  # under the fund its facts name, so that fund's treasurer sees it fail
        values["fund_id"] = filed
    db.session.execute(db.update(StripeEvent).where(StripeEvent.id == event.id).values(**values)
                       .execution_options(synchronize_session=False))
    done.failed += 1
    count_on_commit(STRIPE_EVENTS_FAILED)


def _filed_fund(event: _Claimed) -> int | None:
    """The fund a failed event's facts name, when it is not the one the event is stored under (None if unknown)."""
    if not event.facts or event.outcome == filing.ASSIGNED:
        return None
    try:
        found = filing.fund_for_event(event.facts, stored_fund_id=event.fund_id, assigned=False,
                                      funds=filing.FundIds())
    except Exception:  # noqa: BLE001 - only where the failure is listed; the failure itself is recorded
        db.session.rollback()
        return None
    return found if isinstance(found, int) and found != event.fund_id else None


def _expected(exc: Exception) -> bool:
    """Failures Stripe's side or a race explains (no traceback needed in the log)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    return isinstance(exc, (RetryLater, giving.DonationError, IntegrityError, OperationalError))


def waiting_events(limit: int = 20, *, fund_id: int | None = None) -> tuple[int, list[StripeEvent]]:
    """How many events wait to be applied, and the latest that failed: those delivered to the fund ``fund_id``'s
    webhook address (the treasurer's page; the account's own address is the installation's fund's), or every one
    (the host's page)."""
    unapplied = StripeEvent.processed_at.is_(None)
    if fund_id is not None:
        unapplied = sa.and_(unapplied, StripeEvent.fund_id == fund_id)
    waiting = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent).where(unapplied))
    failed = db.session.scalars(db.select(StripeEvent).where(unapplied, StripeEvent.last_error.is_not(None))
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
