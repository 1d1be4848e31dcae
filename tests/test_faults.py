"""Faults, with real processes: the app under gunicorn and the event worker as their own processes,
real payments at the local Stripe server, events replayed and reordered, web workers killed (SIGKILL)
while Stripe's deliveries arrive, the event worker killed in the middle of booking. Afterwards the
books equal those of a clean run of the same payments, compared entry by entry."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
import stripe

from fundapp import create_app, init_migrations
from fundapp.config import normalise_database_url
from fundapp.donations import events
from fundapp.donations.models import Donation, StripeEvent
from fundapp.extensions import db
from fundapp.ledger.models import Account, JournalEntry, Posting
from fundapp.payments import events as stripe_events
from fundapp.setup import init_fund
from tests.conftest import WEBHOOK_SECRET, base_config, free_port, make_pg_database
from tests.security_figures import (
    DELIVERIES,
    EVENT_WORKERS_KILLED,
    PAYMENTS,
    REPLAY_EVERY,
    SAME_MONEY_EVERY,
    WEB_WORKERS_KILLED,
)

ROOT = Path(__file__).resolve().parent.parent


def charge_id(intent) -> str:
    charge = intent.latest_charge
    return charge if isinstance(charge, str) else charge.id


def canonical_books(fund) -> list:
    """Every entry as (source, its postings by account), ignoring ids, memos and receipt numbers (which
    follow the order events happen to be applied in)."""
    db.session.rollback()
    rows = db.session.execute(
        sa.select(JournalEntry.source_kind, JournalEntry.source_id, Account.name, Posting.amount_cents)
        .join(Posting, Posting.entry_id == JournalEntry.id).join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.fund_id == fund.id))
    entries = defaultdict(list)
    for kind, source, account, cents in rows:
        entries[(kind, source)].append((account, cents))
    return sorted((key, sorted(postings)) for key, postings in entries.items())


def signed(event: dict) -> tuple[bytes, dict]:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def wait_for_port(port: int, process) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def deliver_like_stripe(url: str, bodies, senders: int = 4, pace: float = 0.1) -> int:
    """POST each event (each sender one every ``pace`` seconds); on an error or a dropped connection,
    deliver it again a little later (as Stripe does). Returns how many deliveries were repeated."""
    again = [0]

    def send(item):
        body, headers = item
        time.sleep(pace)
        for attempt in range(40):
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError, ConnectionError):
                pass
            again[0] += 1
            time.sleep(min(0.2 * (attempt + 1), 1.0))
        raise AssertionError("an event was never taken")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, bodies))
    return again[0]


def test_killed_processes_and_replayed_events_leave_the_books_as_a_clean_run(app, fund, _localstripe, database_url,
                                                                             tmp_path):
    _localstripe.reset()  # no webhooks of its own: we are Stripe's delivery here
    api = stripe.StripeClient("sk_test_fundapp", base_addresses={"api": _localstripe.base_url},
                              max_network_retries=0).v1
    intents = [api.payment_intents.create(params={"amount": 1_000 + 7 * n, "currency": "usd",
                                                  "payment_method": "pm_card_visa", "confirm": True})
               for n in range(PAYMENTS)]
    created = int(time.time())
    unique = [{"id": f"evt_pi_{n}", "object": "event", "type": "payment_intent.succeeded", "created": created,
               "livemode": False, "data": {"object": {"id": intent.id, "object": "payment_intent"}}}
              for n, intent in enumerate(intents)]
    replays = [dict(e) for e in unique[::REPLAY_EVERY]]  # the same event delivered again
    same_money = [{**e, "id": e["id"].replace("pi", "ch"), "type": "charge.succeeded",  # the same money again
                   "data": {"object": {"id": charge_id(intent), "object": "charge"}}}
                  for e, intent in list(zip(unique, intents, strict=True))[::SAME_MONEY_EVERY]]
    deliveries = [signed(e) for e in unique + replays + same_money]
    assert len(deliveries) == DELIVERIES
    random.Random(8).shuffle(deliveries)

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "SECRET_KEY": "x" * 40,
           "STRIPE_API_BASE": _localstripe.base_url, "STRIPE_SECRET_KEY": "sk_test_fundapp",
           "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "DOCUMENTS_DIR": str(tmp_path / "documents")}
    env.pop("FUNDAPP_ENV", None)
    port = free_port()
    log = open(tmp_path / "processes.log", "ab")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2", "-k", "sync",
                            "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log,
                           start_new_session=True)
    workers: list[subprocess.Popen] = []

    def start_worker():
        workers.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "fund", "worker",
                                         "--interval", "0.1"], cwd=ROOT, env=env, stdout=log, stderr=log,
                                        start_new_session=True))

    pg = db.engine.dialect.name == "postgresql"
    try:
        wait_for_port(port, web)
        if pg:  # booking stalls inside its transaction until we let it go: the kill lands mid-booking
            with db.engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE stall (on_ INTEGER)"))
                conn.execute(sa.text("INSERT INTO stall VALUES (1)"))
                conn.execute(sa.text(
                    "CREATE FUNCTION stall() RETURNS trigger AS $$ BEGIN "
                    "IF EXISTS (SELECT 1 FROM stall) THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"))
                conn.execute(sa.text("CREATE TRIGGER stall BEFORE INSERT ON ledger_day_totals "
                                     "FOR EACH ROW EXECUTE FUNCTION stall()"))
        start_worker()

        url = f"http://127.0.0.1:{port}/stripe/webhook"
        half = len(deliveries) // 2
        resent = deliver_like_stripe(url, deliveries[:half])
        # A delivery cut off in the middle: the body half sent when both web workers are killed
        body, headers = deliveries[half]
        cut = socket.create_connection(("127.0.0.1", port), 5)
        cut.sendall(("POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\n\r\n").encode()
            + body[:len(body) // 2])
        time.sleep(0.3)  # a web worker is now reading this request
        kills = 0
        for child in subprocess.run(["pgrep", "-P", str(web.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(child), signal.SIGKILL)
            kills += 1
        cut.settimeout(5)
        try:
            assert cut.recv(100) == b""  # no answer: the connection died with its worker
        except ConnectionResetError:
            pass
        cut.close()
        assert kills == WEB_WORKERS_KILLED
        # Stripe delivers that event again, and the rest, while gunicorn starts new web workers
        resent += deliver_like_stripe(url, deliveries[half:])

        if pg:  # wait until the worker is stuck inside a booking, then kill it there
            deadline = time.time() + 20
            while not db.session.execute(sa.text(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "  # this run's database only
                    "AND query LIKE '%ledger_day_totals%' AND wait_event = 'PgSleep'")).first():
                db.session.rollback()
                assert time.time() < deadline, "the worker never reached the stalled booking"
                time.sleep(0.1)
            db.session.rollback()
        else:
            time.sleep(0.3)
        for victim in workers[-EVENT_WORKERS_KILLED:]:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
        if pg:
            with db.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM stall"))
                # The server would end the dead client's session when its sleeping statement next speaks to
                # it (up to 30 s here); end it now, as a keepalive timeout would, rolling its booking back.
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND wait_event = 'PgSleep' "
                                     "AND query LIKE '%ledger_day_totals%'"))
        start_worker()
        deadline = time.time() + 60
        while True:
            db.session.rollback()
            waiting = db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)
                                        .where(StripeEvent.processed_at.is_(None)))
            if not waiting:
                break
            assert time.time() < deadline, f"{waiting} events never applied"
            time.sleep(0.2)
    finally:
        if pg:
            db.session.rollback()
            with db.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM stall"))
        for process in [web, *workers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
        log.close()
        if pg:
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP TRIGGER IF EXISTS stall ON ledger_day_totals"))
                conn.execute(sa.text("DROP FUNCTION IF EXISTS stall()"))
                conn.execute(sa.text("DROP TABLE IF EXISTS stall"))

    books = canonical_books(fund)
    assert len(books) == PAYMENTS
    assert db.session.scalar(sa.select(sa.func.count(Donation.id))) == PAYMENTS
    assert db.session.scalar(sa.select(sa.func.count(StripeEvent.id))) == len(unique) + len(same_money)
    log_text = (tmp_path / "processes.log").read_text(errors="replace")
    assert "Traceback" not in log_text.replace("SystemExit", ""), log_text[-2000:]

    # the clean run: the same payments, each event once, in order, in a database of its own
    server = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
    url, drop = (make_pg_database(normalise_database_url(server)) if server
                 else ("sqlite:///" + str(tmp_path / "clean.sqlite3"), lambda: None))
    clean = create_app(base_config(url, STRIPE_API_BASE=_localstripe.base_url, STRIPE_SECRET_KEY="sk_test_fundapp"))
    init_migrations(clean)
    try:
        with clean.app_context():
            import flask_migrate

            flask_migrate.upgrade(directory=str(ROOT / "migrations"))
            clean_fund = init_fund(clean.config["FUND_DEFAULTS"]).fund
            for event in unique:
                events.store_event(clean_fund, stripe_events.received(event))
                db.session.commit()
            assert events.apply_waiting_events().applied == PAYMENTS
            assert canonical_books(clean_fund) == books
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
    print(f"{len(deliveries)} deliveries, {kills} web workers killed mid-request, {resent} deliveries sent again, "
          f"the event worker killed {'mid-booking' if pg else 'while applying'}: books as a clean run")
