"""A burst of settled gifts booked by the worker, beside the same rows written bare (``make bench``, issue 22).

Set up once: real payments at the local Stripe server (each naming its pending gift, as Checkout's do), and a
PostgreSQL template database holding the fund, those pending gifts with their donors' emails, and one stored
``payment_intent.succeeded`` event per payment. Each turn then clones the template (``CREATE DATABASE ...
TEMPLATE``, so every turn starts alike) and either

- runs 2 ``flask fund worker`` processes, as production does: they fetch each payment back from the local
  Stripe server, book the gifts, queue the receipt mail and send it (rendering each receipt PDF); timed until
  every event is applied, and until every message is sent; or
- runs the ceiling: 2 processes writing the same rows with bare psycopg (each gift's donation settled, its
  receipt number from the year's counter, its entry and postings, its two audit records, its day totals, its
  outbox message, its event marked applied), one gift per transaction or 50 per transaction.

The turns interleave (ours, ceiling, ours, ceiling ...); each figure is the median with the lowest and highest.
The local Stripe server is one Python process on the same cores: the time it takes to answer is printed as its
own figure (every event's payment fetched, 16 at a time), since no booking can go faster than it.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 50
AUDIT_LOCK = int("46554E44", 16)  # the advisory lock the audit trail's appends take ("FUND")


def _admin(server: str):
    import psycopg

    return psycopg.connect(server, autocommit=True)


@contextmanager
def clone(server: str, template: str):
    """A fresh database copied from ``template`` (which nobody may be connected to)."""
    name = f"{template}_run_{time.monotonic_ns()}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with _admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(app, stripe_base: str, count: int) -> int:
    """The pending gifts, their payments at the local Stripe server and one stored event each; returns the cents."""
    import stripe

    from fundapp.donations import giving
    from fundapp.donations.models import Donation, Donor, StripeEvent
    from fundapp.extensions import db
    from fundapp.funds.services import current_fund

    api = stripe.StripeClient("sk_test_bench", base_addresses={"api": stripe_base}, max_network_retries=2).v1
    with app.app_context():
        fund = current_fund()
        donations = []
        for n in range(count):
            donor = Donor(fund_id=fund.id, email=f"giver{n}@example.org", name=f"Giver {n}", language="en")
            donations.append(Donation(fund_id=fund.id, donor=donor, amount_cents=1_000 + n, fee_cover_cents=0,
                                      refunded_cents=0, currency=fund.currency, language="en"))
        db.session.add_all(donations)
        db.session.commit()
        metadata = [giving.checkout_metadata(donation) for donation in donations]
        total = sum(donation.amount_cents for donation in donations)
        with ThreadPoolExecutor(8) as pool:
            intents = list(pool.map(lambda n: api.payment_intents.create(params={
                "amount": 1_000 + n, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
                "metadata": metadata[n]}).id, range(count)))
        start = datetime.now(UTC) - timedelta(minutes=5)
        db.session.execute(db.insert(StripeEvent), [
            {"id": f"evt_burst_{n}", "fund_id": fund.id, "type": "payment_intent.succeeded", "attempts": 0,
             "received_at": start + timedelta(milliseconds=n),
             "payload": json.dumps({"id": f"evt_burst_{n}", "object": "event", "type": "payment_intent.succeeded",
                                    "data": {"object": {"id": intent, "object": "payment_intent"}}})}
            for n, intent in enumerate(intents)])
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return total


def _count(url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def run_ours(url: str, env: dict, count: int, log: Path, workers) -> tuple[float, float]:
    """2 worker processes on a clone: (events/s until every event is applied, mail/s until every one is sent)."""
    env = {**env, "DATABASE_URL": url}
    started = time.perf_counter()
    booked_at = None
    with workers(env, 2, log):
        while True:
            if booked_at is None and not _count(url, "SELECT count(*) FROM stripe_events WHERE processed_at IS NULL"):
                booked_at = time.perf_counter()
            if booked_at is not None and not _count(url, "SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL"):
                break
            time.sleep(0.1)
    sent_at = time.perf_counter()
    return count / (booked_at - started), count / (sent_at - started)


def check_books(url: str, count: int, total: int, *, mailed: bool = True) -> str:
    """What a turn left: gifts booked, cents, receipt numbers (gapless), mail; '' when all is as it must be."""
    import psycopg

    with psycopg.connect(url) as conn:
        gifts, cents, numbers, top = conn.execute(
            "SELECT count(*), coalesce(sum(gross_cents), 0), count(DISTINCT receipt_seq), coalesce(max(receipt_seq), 0) "
            "FROM donations WHERE status = 'succeeded'").fetchone()
        entries = conn.execute("SELECT count(*) FROM journal_entries WHERE source_kind = 'stripe.charge'").fetchone()[0]
        mails = conn.execute("SELECT count(*) FROM outbox_messages").fetchone()[0]
    problems = []
    if (gifts, cents, entries, mails) != (count, total, count, count if mailed else mails):
        problems.append(f"{gifts} gifts, {cents} cents, {entries} entries, {mails} mails")
    if numbers != count or top != count:
        problems.append(f"receipt numbers: {numbers} distinct, up to {top}")
    return "; ".join(problems)


# --- the ceiling: the same rows, bare ------------------------------------------------------------------------


def bare_worker(url: str, part: int, parts: int, batch: int) -> None:
    """Write the rows a booked gift writes for this process's share of the gifts, ``batch`` gifts per transaction."""
    import psycopg

    with psycopg.connect(url) as conn:
        fund_id, = conn.execute("SELECT id FROM funds").fetchone()
        accounts = dict(conn.execute("SELECT name, id FROM ledger_accounts WHERE fund_id = %s", (fund_id,)).fetchall())
        conn.commit()
        gifts = conn.execute("SELECT d.id, d.amount_cents, e.id, o.email FROM donations d JOIN donors o ON "
                             "o.id = d.donor_id JOIN stripe_events e ON e.id = 'evt_burst_' || (d.id - 1) "
                             "WHERE d.id %% %s = %s ORDER BY d.id", (parts, part)).fetchall()
        conn.commit()
        today = datetime.now(UTC).date()
        for start in range(0, len(gifts), batch):
            chunk = gifts[start:start + batch]
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "UPDATE donations SET stripe_charge_id = %s, status = 'succeeded', gross_cents = %s, "
                    "fee_cents = %s, net_cents = %s, received_on = %s, settled_at = now(), receipt_year = %s "
                    "WHERE id = %s AND stripe_charge_id IS NULL",
                    [(f"ch_bare_{gid}", cents, 59, cents - 59, today, today.year, gid) for gid, cents, _e, _m in chunk])
                last, = cur.execute(
                    "INSERT INTO receipt_counters (fund_id, year, last) VALUES (%s, %s, %s) ON CONFLICT (fund_id, year) "
                    "DO UPDATE SET last = receipt_counters.last + excluded.last RETURNING last",
                    (fund_id, today.year, len(chunk))).fetchone()
                cur.executemany("UPDATE donations SET receipt_seq = %s WHERE id = %s",
                                [(last - len(chunk) + 1 + n, gid) for n, (gid, _c, _e, _m) in enumerate(chunk)])
                cur.executemany(
                    "INSERT INTO journal_entries (fund_id, entry_date, memo, source_kind, source_id, created_at) "
                    "VALUES (%s, %s, %s, 'stripe.charge', %s, now()) RETURNING id",
                    [(fund_id, today, f"Gift {gid} by card", f"ch_bare_{gid}") for gid, _c, _e, _m in chunk],
                    returning=True)
                entry_ids = []
                while True:
                    entry_ids.append(cur.fetchone()[0])
                    if not cur.nextset():
                        break
                postings = []
                for entry_id, (_gid, cents, _e, _m) in zip(entry_ids, chunk, strict=True):
                    postings += [(entry_id, accounts["Assets:Stripe"], cents - 59),
                                 (entry_id, accounts["Expenses:PaymentFees"], 59),
                                 (entry_id, accounts["Income:Donations"], -cents)]
                cur.executemany("INSERT INTO postings (entry_id, account_id, amount_cents) VALUES (%s, %s, %s)",
                                postings)
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
                head = cur.execute("SELECT hash FROM audit_records ORDER BY id DESC LIMIT 1").fetchone()
                prev = head[0] if head else "0" * 64
                audits = []
                for entry_id, (gid, cents, _e, _m) in zip(entry_ids, chunk, strict=True):
                    for action, kind, object_id in (("ledger.post", "journal_entry", entry_id),
                                                    ("donation.settled", "donation", gid)):
                        digest = hashlib.sha256(f"{prev}{action}{object_id}{cents}".encode()).hexdigest()
                        audits.append((fund_id, "system", action, kind, str(object_id),
                                       json.dumps({"gross_cents": cents}), prev, digest, digest))
                        prev = digest
                cur.executemany(
                    "INSERT INTO audit_records (fund_id, actor_label, action, object_type, object_id, after, "
                    "created_at, prev_hash, hash, mac) VALUES (%s, %s, %s, %s, %s, %s, now(), %s, %s, %s)", audits)
                totals: dict[tuple[int, int], int] = {}
                for entry_id, (_gid, cents, _e, _m) in zip(entry_ids, chunk, strict=True):
                    for account, amount in (("Assets:Stripe", cents - 59), ("Expenses:PaymentFees", 59),
                                            ("Income:Donations", -cents)):
                        key = (accounts[account], entry_id % 8)
                        totals[key] = totals.get(key, 0) + amount
                cur.executemany(
                    "INSERT INTO ledger_day_totals (fund_id, account_id, day, slot, cents, credits) "
                    "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT (fund_id, account_id, day, slot) DO UPDATE SET "
                    "cents = ledger_day_totals.cents + excluded.cents, credits = ledger_day_totals.credits + 1",
                    [(fund_id, account, today, slot, cents) for (account, slot), cents in sorted(totals.items())])
                cur.executemany(
                    "INSERT INTO outbox_messages (to_address, subject, body, created_at, attempts, language, "
                    "attachment_name, receipt_donation_id) VALUES (%s, 'Thank you', 'Thank you for your gift.', now(), "
                    "0, 'en', %s, %s)", [(email, f"receipt-{gid}.pdf", gid) for gid, _c, _e, email in chunk])
                cur.execute("UPDATE stripe_events SET processed_at = now(), outcome = 'applied', attempts = 1 "
                            "WHERE id = ANY(%s)", ([event for _g, _c, event, _m in chunk],))


def _timed_pair(codes: list[str], url: str, count: int, booked_sql: str, what: str) -> float:
    """Run the two processes' ``codes`` at once until both end; gifts (events) a second, once ``booked_sql``
    counts all ``count`` of them done."""
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", code]) for code in codes]
    for process in processes:
        if process.wait(timeout=1800):
            raise RuntimeError(f"a process of {what} failed")
    seconds = time.perf_counter() - started
    booked = _count(url, booked_sql)
    if booked != count:
        raise RuntimeError(f"{what} booked {booked} of {count}")
    return count / seconds


def run_bare(url: str, count: int, batch: int) -> float:
    """2 bare processes writing every gift's rows: gifts/s."""
    code = ("import sys; sys.path.insert(0, {root!r}); from booking_burst import bare_worker; "
            "bare_worker({url!r}, {part}, 2, {batch})")
    return _timed_pair([code.format(root=str(ROOT / "benchmarks"), url=url, part=part, batch=batch)
                        for part in range(2)], url, count,
                       "SELECT count(*) FROM stripe_events WHERE processed_at IS NOT NULL", "the bare ceiling")


def stripe_pace(app, count: int, facts_file: Path) -> float:
    """Every stored event's payment fetched back from the local Stripe server, 16 at a time: events/s. The facts
    are kept in ``facts_file`` for ``run_in_hand``."""
    from fundapp.extensions import db
    from fundapp.payments import events as stripe_events

    with app.app_context():
        stored = db.session.execute(db.text("SELECT id, payload FROM stripe_events")).all()
        db.session.remove()

    def fetch(event: tuple[str, str]) -> tuple[str, list]:
        with app.app_context():
            return event[0], list(stripe_events.facts_of(event[1]))

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        facts = dict(pool.map(fetch, stored))
    seconds = time.perf_counter() - started
    if sum(len(each) for each in facts.values()) != count:
        raise RuntimeError(f"payments of {count} events not all fetched")
    facts_file.write_bytes(pickle.dumps(facts))
    return count / seconds


def book_in_hand(url: str, facts_file: str) -> None:
    """One worker process's booking with each event's facts handed in (fetched before): the worker's own lease,
    booking transaction and commit, at the database's pace."""
    from fundapp.donations import events

    facts = pickle.loads(Path(facts_file).read_bytes())

    def handed_in(batch) -> None:
        for claimed in batch:
            claimed.facts = facts[claimed.id]

    app = app_for(url, "http://127.0.0.1:9")  # nothing here may ask Stripe: a closed port says so at once
    with app.app_context():
        while events.apply_waiting_events(limit=events.BATCH, fetch=handed_in).total:
            pass


def run_in_hand(url: str, count: int, facts_file: Path) -> float:
    """2 processes booking the burst with its facts in hand (``book_in_hand``): events/s."""
    code = ("import sys; sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r}); "
            "from booking_burst import book_in_hand; book_in_hand({url!r}, {facts!r})")
    return _timed_pair([code.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), url=url,
                                    facts=str(facts_file))] * 2, url, count,
                       "SELECT count(*) FROM stripe_events WHERE outcome = 'applied'", "booking with facts in hand")


def round_trips_per_gift(app, count: int = BATCH) -> float:
    """Statements the worker sends per gift, booking ``count`` events in this process (one batch)."""
    import threading

    import sqlalchemy as sa

    from fundapp.donations import events
    from fundapp.extensions import db

    me = threading.get_ident()
    seen = []

    def counted(*_args):
        if threading.get_ident() == me:
            seen.append(1)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", counted)
        try:
            done = events.apply_waiting_events(limit=count, batch=count)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counted)
        db.session.remove()
        db.engine.dispose()
    if done.applied != count:
        raise RuntimeError(f"{done.applied} of {count} events applied")
    return len(seen) / count


def app_for(url: str, stripe_base: str):
    """The app on a cloned database (migrated already, as the template was), talking to the local Stripe server."""
    from fundapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "WTF_CSRF_ENABLED": False,
                       "STRIPE_API_BASE": stripe_base, "STRIPE_SECRET_KEY": "sk_test_bench"})


def env_for(stripe_base: str, scratch: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "STRIPE_API_BASE": stripe_base,
            "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
            "DOCUMENTS_DIR": str(scratch / "documents")}
