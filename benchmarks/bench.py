"""``make bench``: each performance figure beside its ceiling, measured in the same run (issue 9).

    .venv/bin/python benchmarks/bench.py [--smoke] [--pg postgresql://postgres@127.0.0.1:5432/test]

The machines are shared and noisy, so every figure is printed with a ceiling taken
in the same run and the ratio between them (or, where the goal is absolute, the
goal itself). It makes its own PostgreSQL database (dropped at the end) and
scratch files. ``--smoke`` runs every part at a tiny size in well under a minute:
the test suite runs it to prove the benchmark works; its numbers mean nothing.

Parts: booking a settled gift (service, its receipt mail queued) against a bare ORM
insert and commit; a burst of 5,000 settled gifts booked by the worker, against the
same rows written bare, taking turns 5 times (benchmarks/booking_burst.py); the
receipt PDF with its data load against a bare canvas page; year-end statements
(measured on a sample, extrapolated to 50,000); the journal PDF against the same
rows drawn bare, the two taking turns 5 times each (benchmarks/journal_pdf.py:
median and spread); the donate page and the review queue under gunicorn (2 sync
workers) with wrk at 16 connections against the same pages on the bare stack
(benchmarks/page_ceilings.py), taking turns 5 times each, with the CPU time of a
request in this process beside it, and the database round trips of /donate, /
and the queue; the dashboard and the monthly report on seed-scale data.
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

#: The issue's goals for the worker booking a burst (issue 22): events/s, and the share of the bare batched ceiling.
BURST_GOAL = 500
BURST_RATIO_GOAL = 0.5
ROWS: list[tuple[str, str, str, str, str]] = []  # metric, ours, ceiling, ratio, goal


def row(metric: str, ours: str, ceiling: str = "-", ratio: str = "-", goal: str = "") -> None:
    ROWS.append((metric, ours, ceiling, ratio, goal))
    print(f"  {metric}: {ours} (ceiling {ceiling}, ratio {ratio}, goal {goal})", flush=True)


def median_seconds(call, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


_DATABASES = itertools.count()


@contextmanager
def pg_database(server: str):
    import psycopg

    name = f"fundapp_bench_{os.getpid()}_{next(_DATABASES)}"  # each part may hold its own
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str, scratch: Path):
    import flask_migrate

    from fundapp import create_app, init_migrations

    os.environ.update(DATABASE_URL=url, DOCUMENTS_DIR=str(scratch / "documents"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "WTF_CSRF_ENABLED": False})
    init_migrations(app)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        from fundapp.extensions import db
        from fundapp.setup import init_fund

        init_fund(app.config["FUND_DEFAULTS"])  # as `fund init` after the migrations
        db.session.commit()
    return app


def bench_booking(app, count: int) -> None:
    from fundapp.donations import booking
    from fundapp.extensions import db, utcnow
    from fundapp.funds.services import current_fund
    from fundapp.mail import OutboxMessage
    from fundapp.payments.facts import PaymentSettled

    with app.app_context():
        fund = current_fund()
        db.session.commit()
        started = time.perf_counter()
        for n in range(count):  # the ceiling: one small ORM row, inserted and committed
            db.session.add(OutboxMessage(to_address="bench@example.org", subject=str(n), body="x"))
            db.session.commit()
        bare = count / (time.perf_counter() - started)
        now = utcnow()  # Stripe gives the moment; the books date it on the fund's calendar
        started = time.perf_counter()
        for n in range(count):
            booking.record_settled_payment(fund, PaymentSettled(
                charge_id=f"ch_bench_{n}", payment_intent_id=None, invoice_id=None, subscription_id=None,
                customer_id=None, gross_cents=2_500, fee_cents=103, net_cents=2_397, currency=fund.currency,
                at=now, email=f"d{n % 50}@example.org", name=f"Donor {n % 50}"))  # its receipt mail queued
            db.session.commit()
        ours = count / (time.perf_counter() - started)
    row("booking a settled gift (gifts/s, PostgreSQL)", f"{ours:,.0f}", f"{bare:,.0f}", f"{ours / bare:.2f}",
        ">= 0.50")


def bench_receipt_and_statements(app, sample: int) -> None:
    from reportlab.pdfgen.canvas import Canvas

    from fundapp.donations import receipts
    from fundapp.donations.models import Donation, Donor
    from fundapp.extensions import db
    from fundapp.funds import clock
    from fundapp.funds.services import current_fund

    with app.app_context():
        fund = current_fund()
        gift_id = db.session.scalar(db.select(Donation.id).where(Donation.receipt_seq.is_not(None)).limit(1))

        def receipt():
            db.session.expire_all()  # the data load counts: gift, donor and fund read again each time
            return receipts.receipt_for(fund, db.session.get(Donation, gift_id))

        def bare_page():
            import io

            canvas = Canvas(io.BytesIO())
            for line in range(25):
                canvas.drawString(72, 720 - 14 * line, f"Receipt line {line}: Strike Hardship Fund 2026-000001")
            canvas.showPage()
            canvas.save()

        ours = median_seconds(receipt, 50)
        bare = median_seconds(bare_page, 50)
        row("receipt PDF with its data load (ms)", f"{ours * 1000:.1f}", f"{bare * 1000:.1f}", f"{ours / bare:.1f}",
            "<= 5 ms")
        donors = db.session.scalars(db.select(Donor).limit(sample)).all()
        year = clock.today(fund).year
        started = time.perf_counter()
        for donor in donors:
            receipts.statement_for(fund, donor, year)
        each = (time.perf_counter() - started) / max(len(donors), 1)
        row(f"50,000 year-end statements (s, from {len(donors)})", f"{each * 50_000:.0f}", "-", "-", "< 300 s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(module_dir: Path, module: str, env: dict, log: Path, workers: int = 2):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}",
         "--chdir", str(module_dir), "--log-level", "warning", module],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def wrk(url: str, seconds: int, cookie: str = "") -> float:
    import urllib.request

    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    for _ in range(4):  # warm both workers (imports, connections, templates) before measuring
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 200 or response.url != url:
                raise RuntimeError(f"{url} answered {response.status} at {response.url}")
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url} answered {non_2xx.group(1)} errors under load:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


HELLO = ('from flask import Flask\napp = Flask(__name__)\n\n\n@app.route("/", methods=["GET", "POST"])\n'
         'def hello():\n    return "hello"\n')


#: The pages' goal (issue 22, item 4): our requests a second at least this share of the bare stack's.
PAGES_GOAL = 0.8


def bench_pages(app, url: str, scratch: Path, repeats: int, seconds: int, calls: int) -> None:
    """The donate page and the review queue against their ceilings (benchmarks/page_ceilings.py: the same page
    on the bare stack), each pair taking ``repeats`` turns: wrk for ``seconds`` under gunicorn, and ``calls``
    requests in this process through the test client for the CPU time; then the round trips per page."""
    if shutil.which("wrk") is None:
        row("donate page and review queue under load", "not measured: wrk is missing (apt-get install wrk)")
        return
    import page_ceilings
    from journal_pdf import spread

    from fundapp import create_app

    cookie = _queue_of_fifty(app)
    ours = create_app()  # as wsgi.py makes it for gunicorn (CSRF on), from the environment make_app set
    page_ceilings.app.config["SECRET_KEY"] = ours.config["SECRET_KEY"]  # gunicorn gives both the same one
    pages = (("donate page", "/donate", {}), ("review queue, 50 rows", "/review/", {"Cookie": cookie}))
    cpu = {path: _cpu_turns(ours, page_ceilings.app, path, headers, repeats, calls) for _, path, headers in pages}
    trips = [(path, *round_trips(ours, path, headers)) for path, headers in (("/donate", {}), ("/", {}),
                                                                              ("/review/", {"Cookie": cookie}))]
    with ours.app_context():
        from fundapp.extensions import db

        db.engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "SECRET_KEY": app.config["SECRET_KEY"],
           "DOCUMENTS_DIR": str(scratch / "documents")}
    log = scratch / "gunicorn.log"
    with (gunicorn(ROOT, "wsgi:app", env, log) as ours_base,
          gunicorn(ROOT / "benchmarks", "page_ceilings:app", env, log) as ceiling_base):
        loads = {path: _wrk_turns(ours_base + path, ceiling_base + path, headers.get("Cookie", ""), repeats, seconds)
                 for _, path, headers in pages}
    for name, path, _headers in pages:
        mine, bare = loads[path]
        ratios = [m / b for m, b in zip(mine, bare, strict=True)]
        met = statistics.median(ratios) >= PAGES_GOAL
        row(f"{name} (req/s, wrk -c16, 2 workers)", spread(mine, 0), spread(bare, 0), spread(ratios, 2),
            f">= {PAGES_GOAL}: {'met' if met else 'not met'}")
        mine_ms, bare_ms = ([s * 1000 for s in runs] for runs in cpu[path])
        row(f"{name}, CPU per request in-process (ms)", spread(mine_ms, 2), spread(bare_ms, 2),
            spread([m / b for m, b in zip(mine_ms, bare_ms, strict=True)], 2), "-")
    for path, trips_each, statements in trips:
        row(f"round trips per request, {path} (statements)", f"{trips_each:g} ({statements:g})", "0", "-", "-")


def _queue_of_fifty(app) -> str:
    """A trustee and 50 submitted cases (the queue's page of 50); returns the trustee's session cookie."""
    from fundapp.accounts import services as accounts
    from fundapp.accounts import sessions as account_sessions
    from fundapp.accounts.models import Member, Role
    from fundapp.applications.models import Application
    from fundapp.applications.services import current_rules
    from fundapp.extensions import db
    from fundapp.funds.services import current_fund

    with app.app_context():
        fund = current_fund()
        trustee = accounts.create_user(fund, email="bench-trustee@example.org", name="Bench Trustee",
                                       password="bench-password-1", roles=[Role.TRUSTEE])
        rules = current_rules(fund)
        db.session.flush()
        for n in range(50):  # benchmarks/page_ceilings.py writes out the same 50 rows
            user = accounts.create_user(fund, email=f"bench-m{n}@example.org", name=f"Member {n}",
                                        password="bench-password-1", roles=[Role.APPLICANT])
            member = Member(fund_id=fund.id, member_id=f"B-{n}", first_name="Member", last_name=str(n),
                            worksite="North", unit="U", on_strike=True, user_id=user.id)
            db.session.add(member)
            db.session.flush()
            db.session.add(Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                                       rules_id=rules.id, status="submitted", category="rent",
                                       amount_requested_cents=10_000 + n, amount_paid_cents=0,
                                       address=f"{n} Elm St", submitted_at=db.func.now()))
        session_id = account_sessions.start_session(trustee)  # a server-side session, as signing in opens
        db.session.commit()
        cookie_value = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": session_id, "_fresh": True, "second_factor": True})
    return f"{app.config.get('SESSION_COOKIE_NAME', 'session')}={cookie_value}"


def _get(flask_app, path: str, headers: dict) -> None:
    """One GET through a cookieless test client, as wrk sends it (the same headers every time)."""
    response = flask_app.test_client(use_cookies=False).get(path, headers=headers)
    if response.status_code != 200:
        sys.exit(f"{path} answered {response.status_code}")


def _cpu_turns(ours, ceiling, path: str, headers: dict, repeats: int, calls: int) -> tuple[list[float], list[float]]:
    """CPU seconds per request (time.process_time over ``calls`` requests), ours and the ceiling taking turns."""
    mine, bare = [], []
    for flask_app in (ours, ceiling):  # warm: first requests, templates compiled, connections made
        for _ in range(5):
            _get(flask_app, path, headers)
    for _ in range(repeats):
        for runs, flask_app in ((mine, ours), (bare, ceiling)):
            started = time.process_time()
            for _ in range(calls):
                _get(flask_app, path, headers)
            runs.append((time.process_time() - started) / calls)
    return mine, bare


def _wrk_turns(ours: str, ceiling: str, cookie: str, repeats: int, seconds: int) -> tuple[list[float], list[float]]:
    """Requests a second under wrk, ours and the ceiling taking turns ``repeats`` times each."""
    mine, bare = [], []
    for _ in range(repeats):
        mine.append(wrk(ours, seconds, cookie))
        bare.append(wrk(ceiling, seconds, cookie))
    return mine, bare


def round_trips(flask_app, path: str, headers: dict, requests: int = 5) -> tuple[float, float]:
    """Round trips to the database per request of ``path`` once warm, and the SQL statements among them.

    The statements are counted as SQLAlchemy sends them (``before_cursor_execute`` on the app's engine); around
    them psycopg spends one round trip on each pooled connection's check-out (``pool_pre_ping``), one on a
    transaction's BEGIN (sent before its first statement) and one on its COMMIT or ROLLBACK, as libpq's trace
    of these pages shows."""
    from sqlalchemy import event

    from fundapp.extensions import db

    counts = {"statements": 0, "check-outs": 0, "transactions": 0}

    def statement(conn, *_args):
        counts["statements"] += 1
        if conn.info.pop("bench_begun", False):
            counts["transactions"] += 1  # its first statement: psycopg sends BEGIN, and later its end

    def begun(conn):
        conn.info["bench_begun"] = True

    def checked_out(*_args):
        counts["check-outs"] += 1

    for _ in range(2):  # warm: whatever a process keeps after its first request is kept
        _get(flask_app, path, headers)
    with flask_app.app_context():
        engine = db.engine
    listeners = ((engine, "before_cursor_execute", statement), (engine, "begin", begun),
                 (engine.pool, "checkout", checked_out))
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        for _ in range(requests):
            _get(flask_app, path, headers)
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    trips = counts["statements"] + counts["check-outs"] + 2 * counts["transactions"]
    return trips / requests, counts["statements"] / requests


def _send_all(url: str, bodies: list[tuple[bytes, dict]], senders: int = 16) -> tuple[float, list[float], int]:
    """POST every body from ``senders`` threads, retrying errors; (seconds, latencies, bodies not taken at
    the first attempt)."""
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def send(item):
        body, headers = item
        started = time.perf_counter()
        for attempt in range(4):  # as Stripe does, an event answered with an error is sent again
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=60) as r:
                    if 200 <= r.status < 300:
                        return time.perf_counter() - started, attempt == 0
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5 * (attempt + 1))
        return time.perf_counter() - started, False

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        results = list(pool.map(send, bodies))
    return time.perf_counter() - started, [t for t, _ok in results], sum(1 for _t, ok in results if not ok)


@contextmanager
def local_stripe_process():
    """The local Stripe server in a process of its own (in this one it would share the senders' GIL)."""
    port = free_port()
    code = (f"import signal, sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from fundapp.payments.local_server import LocalStripe\n"
            f"LocalStripe().start({port}); signal.pause()")
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError as exc:
                if time.time() > deadline:
                    raise RuntimeError("the local Stripe server did not start") from exc
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


@contextmanager
def workers(env: dict, count: int, log: Path):
    """``flask fund worker`` processes (applying what the webhook stored), stopped by their own pids."""
    processes = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "fund", "worker", "--interval",
                                   "0.2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
                                  start_new_session=True) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def bench_webhook(server: str, scratch: Path, events: int) -> None:
    """Signed payment_intent.succeeded events for real payments at the local Stripe server, sent by 16
    threads (every tenth twice, in shuffled order) to the app under gunicorn, which stores them; then two
    worker processes apply them, and the books are counted."""
    import json
    import random
    from concurrent.futures import ThreadPoolExecutor

    import stripe

    from fundapp.donations.models import Donation, StripeEvent
    from fundapp.extensions import db
    from fundapp.funds.services import current_fund
    from fundapp.ledger import services as ledger

    secret = "whsec_bench"
    with local_stripe_process() as stripe_base:
        api = stripe.StripeClient("sk_test_bench", base_addresses={"api": stripe_base}, max_network_retries=2).v1
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            intents = list(pool.map(lambda n: api.payment_intents.create(params={
                "amount": 1_000 + n, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}).id,
                range(events)))
        print(f"  ({events:,} payments made at the local Stripe server in {time.perf_counter() - started:.0f} s)",
              flush=True)
        expected = sum(1_000 + n for n in range(events))
        bodies = []
        for n, intent in enumerate(intents + intents[::10]):  # every tenth delivered twice
            payload = json.dumps({"id": f"evt_bench_{n}", "object": "event", "type": "payment_intent.succeeded",
                                  "created": int(time.time()), "livemode": False,
                                  "data": {"object": {"id": intent, "object": "payment_intent"}}})
            header = stripe.WebhookSignature.generate_signature_header(payload, secret)
            bodies.append((payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}))
        random.Random(3).shuffle(bodies)
        with pg_database(server) as url:
            app = make_app(url, scratch)
            env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "STRIPE_API_BASE": stripe_base,
                   "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": secret,
                   "DOCUMENTS_DIR": str(scratch / "documents")}
            (scratch / "hello.py").write_text(HELLO)
            with gunicorn(scratch, "hello:app", env, scratch / "gunicorn.log") as base:
                bare_seconds, _bare, _ = _send_all(base + "/", bodies)
            with gunicorn(ROOT, "wsgi:app", env, scratch / "gunicorn.log") as base:
                seconds, latencies, failed = _send_all(base + "/stripe/webhook", bodies)

            def waiting() -> int:
                with app.app_context():
                    count = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)
                                              .where(StripeEvent.processed_at.is_(None)))
                    db.session.remove()
                    return count

            started = time.perf_counter()
            with workers(env, 2, scratch / "worker.log"):
                while waiting():
                    time.sleep(0.5)
            applied_seconds = time.perf_counter() - started
            log = (scratch / "gunicorn.log").read_text(errors="replace") + (scratch / "worker.log").read_text(
                errors="replace")
            if "Traceback" in log:  # say what went wrong, for the note (the retried events still count above)
                print(log[-3000:], flush=True)
            with app.app_context():
                fund = current_fund()
                booked = db.session.scalar(db.select(db.func.count(Donation.id)).where(Donation.gross_cents.is_not(None)))
                income = -ledger.balance(fund, "Income:Donations")
                retried = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)
                                            .where(StripeEvent.attempts > 1))
                db.session.remove()
                db.engine.dispose()
    rate, bare_rate = len(bodies) / seconds, len(bodies) / bare_seconds
    p99 = sorted(latencies)[max(int(len(latencies) * 0.99) - 1, 0)]
    row(f"Stripe webhook, {len(bodies):,} signed events (events/s)", f"{rate:,.0f}", f"{bare_rate:,.0f}",
        f"{rate / bare_rate:.2f}", ">= 300/s")
    row("Stripe webhook p99 latency (ms)", f"{p99 * 1000:.0f}", "-", "-", "< 100 ms")
    row("events applied by 2 workers (events/s)", f"{len(bodies) / applied_seconds:,.0f}", "-", "-",
        f"({retried} tried again)")
    row("after it: gifts lost / doubled, cents off",
        f"{max(events - booked, 0)} / {max(booked - events, 0)}, {income - expected}", "-", "-",
        f"0 / 0, 0 ({failed} sent again)")


def bench_burst(server: str, scratch: Path, count: int, repeats: int) -> None:
    """A burst of ``count`` settled-gift events booked by 2 worker processes (receipts rendered, mail sent), and
    the same rows written bare by 2 processes, 50 gifts per transaction and 1, taking turns ``repeats`` times
    (benchmarks/booking_burst.py)."""
    import booking_burst as burst
    from journal_pdf import spread

    with local_stripe_process() as stripe_base, pg_database(server) as template_url:
        app = make_app(template_url, scratch)
        started = time.perf_counter()
        total = burst.seed(app, stripe_base, count)
        print(f"  ({count:,} payments and their events made in {time.perf_counter() - started:.0f} s)", flush=True)
        template = template_url.rsplit("/", 1)[1]
        env = burst.env_for(stripe_base, scratch)
        facts_file = scratch / "burst-facts.pickle"
        with burst.clone(server, template) as url:
            pace = burst.stripe_pace(burst.app_for(url, stripe_base), count, facts_file)
        with burst.clone(server, template) as url:
            trips = burst.round_trips_per_gift(burst.app_for(url, stripe_base))
        worker, mails, in_hand, batched, single, ratios = [], [], [], [], [], []
        for turn in range(repeats):
            with burst.clone(server, template) as url:
                booked, sent = burst.run_ours(url, env, count, scratch / "worker.log", workers)
                problem = burst.check_books(url, count, total)
                if problem:
                    raise RuntimeError(f"turn {turn}: the books are wrong after the burst: {problem}")
            with burst.clone(server, template) as url:
                batched.append(burst.run_bare(url, count, burst.BATCH))
            with burst.clone(server, template) as url:
                in_hand.append(burst.run_in_hand(url, count, facts_file))
                problem = burst.check_books(url, count, total, mailed=False)
                if problem:
                    raise RuntimeError(f"turn {turn}: the books are wrong after booking in hand: {problem}")
            with burst.clone(server, template) as url:
                single.append(burst.run_bare(url, count, 1))
            worker.append(booked)
            mails.append(sent)
            ratios.append(in_hand[-1] / batched[-1])
            print(f"  turn {turn + 1}: worker {booked:,.0f} events/s ({sent:,.0f} mail/s); facts in hand "
                  f"{in_hand[-1]:,.0f}; bare {batched[-1]:,.0f} batched, {single[-1]:,.0f} one by one", flush=True)
    met = statistics.median(in_hand) >= BURST_GOAL and statistics.median(ratios) >= BURST_RATIO_GOAL
    row(f"booking a burst of {count:,} settled gifts, facts in hand, 2 processes, PostgreSQL (events/s)*",
        spread(in_hand, 0), f"{spread(batched, 0)} (same rows bare, 50 per transaction)", spread(ratios, 2),
        f">= {BURST_GOAL}/s and >= {BURST_RATIO_GOAL}: {'met' if met else 'not met'}")
    row("the same rows bare, one gift per transaction (gifts/s)*", spread(single, 0))
    row("the worker on that burst, fetching from the local Stripe server, 2 processes (events/s)*",
        spread(worker, 0), f"{pace:,.0f} (the local Stripe server's answers, 16 at a time)",
        f"{statistics.median(worker) / pace:.2f}")
    row("its receipts rendered and mail sent, counted from the start (mail/s)*", spread(mails, 0))
    row(f"round trips per booked gift, a batch of {burst.BATCH} (statements)", f"{trips:.2f}", "-", "-",
        f"<= 2: {'met' if trips <= 2 else 'not met'}")


def bench_journal(entries: int, repeats: int) -> None:
    """The report command and the bare canvas, taking turns ``repeats`` times each (benchmarks/journal_pdf.py)."""
    import journal_pdf

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        postings = journal_pdf.fill(scratch / "journal.db", entries)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{scratch / 'journal.db'}", "PYTHONPATH": str(ROOT)}
        mine, bare = journal_pdf.interleaved(*journal_pdf.commands(scratch, postings), env, repeats)
    for figure in journal_pdf.figures(entries, mine, bare):
        row(*figure)


def bench_scale(server: str, scratch: Path, donations: int, grants: int) -> None:
    from fundapp.extensions import db

    with pg_database(server) as url:  # an empty fund of its own
        app = make_app(url, scratch)
        user_id, seeded = seed_fund_at_scale(app, donations, grants)
        _measure_scale(app, user_id, donations, grants, seeded)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def seed_fund_at_scale(app, donations: int, grants: int) -> tuple[str, float]:
    """Fill the app's empty fund with seed-scale (and a treasurer, who decided the grants); returns the
    treasurer's session id and the seconds seeding took."""
    from scale import seed_scale  # benchmarks/scale.py

    from fundapp.accounts import services as accounts
    from fundapp.accounts import sessions as account_sessions
    from fundapp.accounts.models import Role
    from fundapp.extensions import db, utcnow
    from fundapp.funds.services import current_fund

    with app.app_context():
        fund = current_fund()
        treasurer = accounts.create_user(fund, email="bench-treasurer@example.org", name="Bench Treasurer",
                                         password="a long passphrase of the bench",
                                         roles=[Role.TREASURER, Role.TRUSTEE])
        user_id = account_sessions.start_session(treasurer)  # a server-side session, as signing in opens
        db.session.commit()
        started = time.perf_counter()
        seed_scale(fund, donations=donations, grants=grants, today=utcnow().date())
        seeded = time.perf_counter() - started
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return user_id, seeded


def signed_in_client(app, user_id: str):
    """A test client holding a signed-in trustee's session (signing in itself is not what is measured);
    ``user_id`` is the id of a server-side session (``accounts.sessions.start_session``)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"], session["second_factor"] = user_id, True, True
    return client


def _measure_scale(app, user_id: str, donations: int, grants: int, seeded: float) -> None:
    row(f"seed-scale, {donations:,} gifts + {grants:,} grants (s)", f"{seeded:.0f}")
    client = signed_in_client(app, user_id)

    def get(path):
        return lambda: client.get(path).status_code == 200 or sys.exit(f"{path} failed")

    with app.app_context():
        from fundapp import health as heartbeat

        heartbeat.beat("bench")  # /healthz answers 200 only while a worker beats
    app.config["HEALTH_OUTBOX_MAX"] = 10**9  # the booking bench left its receipts' mail unsent, on purpose
    health = median_seconds(get("/healthz"), 5)
    dashboard = median_seconds(get("/review/dashboard"), 5)
    from fundapp.funds import clock
    from fundapp.funds.services import current_fund

    with app.app_context():
        month = clock.month(current_fund())  # the fund's month: a later one "has not begun" there
    report = median_seconds(get(f"/reports/monthly.pdf?month={month}"), 1)
    row("dashboard server time (ms)", f"{dashboard * 1000:.0f}", f"{health * 1000:.1f}",
        f"{dashboard / health:.0f}", f"< 100 ms: {'met' if dashboard < 0.1 else 'not met'}")
    row("monthly report PDF (s)", f"{report:.2f}", "-", "-", "< 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves it runs, measures nothing")
    parser.add_argument("--only", default="booking,receipt,pages,webhook,burst,journal,scale",
                        help="comma-separated parts to run (default: all)")
    parser.add_argument("--pg", default=os.environ.get("PG_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    smoke = args.smoke
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, pg_database(args.pg) as url:
        scratch = Path(scratch)
        app = make_app(url, scratch)
        print(f"== fundapp benchmarks ({'smoke' if smoke else 'full'}), {date.today().isoformat()} ==", flush=True)
        parts = set(args.only.split(","))
        if "booking" in parts or "receipt" in parts:
            bench_booking(app, 20 if smoke else 1_000)  # the receipts and statements need its gifts
        if "receipt" in parts:
            bench_receipt_and_statements(app, 5 if smoke else 200)
        if "pages" in parts:
            bench_pages(app, url, scratch, *((2, 1, 20) if smoke else (5, 8, 200)))
        if "webhook" in parts:
            bench_webhook(args.pg, scratch, 20 if smoke else 2_000)
        if "burst" in parts:
            bench_burst(args.pg, scratch, *((60, 2) if smoke else (5_000, 5)))
        if "journal" in parts:
            bench_journal(*((500, 2) if smoke else (100_000, 5)))
        with app.app_context():
            from fundapp.extensions import db

            db.session.remove()
            db.engine.dispose()
        if "scale" in parts:
            bench_scale(args.pg, scratch, *((2_000, 200) if smoke else (1_000_000, 100_000)))
    widths = [max(len(r[i]) for r in [("metric", "ours", "ceiling", "ratio", "goal"), *ROWS]) for i in range(5)]
    print()
    for line in [("metric", "ours", "ceiling", "ratio", "goal"), *ROWS]:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
    print(f"\n(all measured in this run, {time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
