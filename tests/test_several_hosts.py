"""Several hosts, shown (the README's "When one machine is not enough"): two gunicorn hosts and a `flask fund worker`
as processes of their own, over one PostgreSQL database and one Redis, behind a round-robin proxy
(tests/several_hosts.py), each host in a network namespace with its own address where the machine allows it, else on a
loopback address of its own. Everything goes through the proxy, as through a load balancer:

1. a trustee's sign-in moves between the hosts (password on one, the second factor's enrolment on the other) and
   each host then serves the signed-in pages; signing out on one ends the session on both, a copy of the old cookie
   included; the hosts see the visitor's address, passed on by the proxy (TRUSTED_PROXIES);
2. the sign-in limit counts in Redis across the hosts: ten wrong passwords alternating between them, and the eleventh
   try, the right password, is refused on both (429), not only after twenty;
3. donors give gifts through the local Stripe server while one host is killed (SIGKILL) part-way, its webhooks reaching
   the app through the proxy; the worker books them, then the hourly `fund reconcile-stripe` what a lost webhook
   missed: every charge the Stripe server made is booked once, no gift is charged twice, receipt numbers run without
   a gap or a repeat with one receipt mail each, and `fund check-books` passes.
"""
from __future__ import annotations

import os
import random
import re
import secrets
import signal
import subprocess  # nosec B404 # the test starts the hosts, the worker and the local Stripe server itself
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
import requests
import sqlalchemy as sa
import stripe

from fundapp.config import normalise_database_url
from tests.conftest import free_port, make_pg_database
from tests.processes import alive, descendants, wait_until
from tests.several_hosts import Browser, Places, RoundRobinProxy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = "redis://127.0.0.1:6379/13"  # this test's own database in Redis (the other tests use 15)
PASSWORD = "several hosts, one fund"  # nosec B105 # the test's own accounts, in a database made for the run
DONORS, GIFTS_EACH, KILL_AFTER = 4, 4, 5  # host A dies once five of the sixteen gifts are paid
TIMEOUT = 240  # seconds for any one wait: a host's start, the gifts, the books settling


def _services_or_skip() -> str:
    server = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
    if not server:
        pytest.skip("several hosts share one PostgreSQL database: this runs on the PostgreSQL run "
                    "(FUNDAPP_TEST_DATABASE_URL is not set)")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError:
        pytest.skip("several hosts share their sign-in limits in Redis, which does not answer at 127.0.0.1:6379")
    return normalise_database_url(server)


class Processes:
    """The processes this test starts, each in a process group of its own, with their logs; ``seen`` is every pid
    of theirs met, their children included, so the end can show none is left."""

    def __init__(self, logs: Path, env: dict[str, str]):
        self.logs, self.env = logs, env
        self.running: dict[str, subprocess.Popen] = {}
        self.seen: set[int] = set()

    def run(self, *args: str, **extra: str) -> str:
        """A `flask --app wsgi` command to its end (as an operator or a timer runs it)."""
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env={**self.env, **extra},  # nosec B603 # our own command
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, name: str, argv: list[str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log,  # nosec B603 # our own
                                                  stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def note(self) -> None:
        for process in self.running.values():
            self.seen |= {process.pid} | descendants(process.pid)

    def kill(self, name: str) -> None:
        """The host's machine dies: every process of it at once, no goodbye (SIGKILL to its process group);
        returns once none of them runs."""
        self.note()
        process = self.running.pop(name)
        tree = {process.pid} | descendants(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in tree), f"{name} did not die", 10)

    def stop_all(self) -> None:
        self.note()
        for process in self.running.values():
            _signal_group(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(10)
        for pid in self.seen:  # a child that left its group
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.running = {}


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # it ended already, and nothing of it is left
        pass


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


def _host(response: requests.Response) -> str:
    return response.headers["X-Served-By"]


def _count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def test_two_hosts_share_sessions_limits_and_books_and_lose_nothing_when_one_dies(tmp_path):
    server = _services_or_skip()
    began = time.monotonic()
    run = uuid.uuid4().hex[:6]
    visitors = f"127.{random.randint(100, 254)}.{random.randint(0, 255)}"  # nosec B311 # this run's visitors' addresses
    trustee, member = f"trustee-{run}@example.org", f"member-{run}@example.org"
    database_url, drop = make_pg_database(server)
    engine = sa.create_engine(database_url)
    stripe_port = free_port()
    proxy = RoundRobinProxy()
    processes = Processes(tmp_path, {
        **os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "FUNDAPP_ENV": "development", "LOG_FORMAT": "json",
        "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(24), "AUDIT_KEY": secrets.token_hex(24),
        "BASE_URL": proxy.url, "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}", "REDIS_URL": REDIS_URL,
        "TRUSTED_PROXIES": "1"})  # the one key, database, Redis and Stripe server of every host; the proxy in front
    places = None
    try:
        processes.run("db", "upgrade")
        processes.run("fund", "init")
        processes.run("fund", "create-user", "--email", trustee, "--name", "Tom Trustee", "--role", "trustee",
                      FUNDAPP_PASSWORD=PASSWORD)
        processes.run("fund", "create-user", "--email", member, "--name", "Rosa Member", "--role", "applicant",
                      FUNDAPP_PASSWORD=PASSWORD)
        flask = [str(BIN / "flask"), "--app", "wsgi", "fund"]
        processes.start("stripe", flask + ["local-stripe", "--port", str(stripe_port),
                                           "--webhook-url", f"{proxy.url}/stripe/webhook"])
        processes.start("worker", flask + ["worker", "--interval", "0.2"])
        database = sa.engine.make_url(database_url)
        places = Places(run, 2, [database.port or 5432, 6379, stripe_port],
                        namespaces=database.host in ("127.0.0.1", "localhost"))
        print(f"\nseveral hosts: {places.mode}")
        for name, place in zip("AB", places.places, strict=True):
            processes.start(f"host-{name}", place.command([
                str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "--no-control-socket",
                "--bind", f"{place.address}:{place.port}", "--workers", "2", "wsgi:app"]))
            proxy.hosts.append((name, place))
        for name, place in proxy.hosts:
            wait_until(lambda place=place, name=name: _healthy(place, processes, f"host-{name}"), f"host {name} did not start", TIMEOUT)

        _sessions_cross_hosts(proxy, engine, trustee, f"{visitors}.1")
        _sign_in_limit_spans_hosts(proxy, member, f"{visitors}.2")
        _gifts_survive_a_dead_host(proxy, engine, processes, stripe_port, visitors, run)
    except BaseException:
        for log in sorted(tmp_path.glob("*.log")):  # what each process said, shown with the failure
            print(f"--- {log.stem} (last lines)\n{processes.log(log.stem)}")
        raise
    finally:
        processes.stop_all()
        proxy.close()
        if places is not None:
            places.close()
        try:
            with engine.connect() as conn:
                accounts = conn.scalars(sa.text("SELECT id FROM users")).all()
        except sa.exc.SQLAlchemyError:  # stopped before the tables were made
            accounts = []
        engine.dispose()
        drop()
        store = redis.Redis.from_url(REDIS_URL)  # the counts of this run's visitors and accounts (by email and id)
        for pattern in (f"*{run}*", f"*/{visitors}.*", *(f"*:{n}/*" for n in accounts)):
            for key in store.scan_iter(pattern):
                store.delete(key)
    left = sorted(pid for pid in processes.seen if alive(pid))
    assert not left, f"processes left behind: {left}"
    print(f"several hosts: done in {time.monotonic() - began:.0f} s")


def _healthy(place, processes: Processes, name: str) -> bool:
    assert processes.running[name].poll() is None, f"{name} ended early:\n{processes.log(name)}"
    try:
        answer = requests.get(f"http://{place.address}:{place.port}/healthz", timeout=10)
    except requests.RequestException:
        return False
    health = answer.json() if answer.status_code == 200 else {}
    return health.get("database") == "ok" and health.get("redis") == "ok" and health["worker"]["status"] == "ok"


def _sessions_cross_hosts(proxy: RoundRobinProxy, engine, trustee: str, address: str) -> None:
    """Signed in on one host, signed in on the other; signed out on one, signed out on both."""
    browser = Browser(proxy.url, address)
    form = browser.get("/login")
    asked = browser.post("/login", allow_redirects=False, data={
        "csrf_token": _field(form.text, "csrf_token"), "email": trustee, "password": PASSWORD})
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/login/setup"), asked.text
    setup = browser.get("/login/setup")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text).group(1)
    done = browser.post("/login/setup", data={"csrf_token": _field(setup.text, "csrf_token"),
                                              "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and 'class="recovery-codes"' in done.text, done.text
    assert {_host(r) for r in (form, asked, setup, done)} == {"A", "B"}  # the sign-in itself moved between hosts

    pages = {}
    for _ in range(4):
        page = browser.get("/review/", allow_redirects=False)
        assert page.status_code == 200 and 'action="/logout"' in page.text, (page.status_code, page.text[:500])
        pages[_host(page)] = page
    assert set(pages) == {"A", "B"}  # both hosts served the trustee's queue on the one session

    with engine.connect() as conn:
        seen_from = conn.scalars(sa.text("SELECT s.ip FROM user_sessions s JOIN users u ON u.id = s.user_id "
                                         "WHERE u.email = :email"), {"email": trustee}).all()
    assert seen_from == [address]  # the visitor's address from X-Forwarded-For, not the proxy's

    copy = browser.cookies.get_dict()
    signed_out = browser.post("/logout", allow_redirects=False,
                              data={"csrf_token": _field(pages["A"].text, "csrf_token")})
    assert signed_out.status_code == 302, signed_out.text
    refused = set()
    for _ in range(4):  # the old cookie, replayed as a thief would, on each host
        stale = Browser(proxy.url, address)
        stale.cookies.update(copy)
        page = stale.get("/review/", allow_redirects=False)
        assert page.status_code == 302 and "/login" in page.headers["Location"], (_host(page), page.status_code)
        refused.add(_host(page))
    assert refused == {"A", "B"}  # signed out on one host, refused on both


def _sign_in_limit_spans_hosts(proxy: RoundRobinProxy, member: str, address: str) -> None:
    """Ten tries in 15 minutes per account (throttle.SIGN_INS_PER_ACCOUNT), counted in Redis by every host."""
    browser = Browser(proxy.url, address)
    token = _field(browser.get("/login").text, "csrf_token")
    served = []
    for _ in range(10):
        wrong = browser.post("/login", data={"csrf_token": token, "email": member, "password": "not it"})
        assert wrong.status_code == 422, wrong.status_code
        served.append(_host(wrong))
    assert served.count("A") >= 3 and served.count("B") >= 3, served
    refused = set()
    for _ in range(4):
        right = browser.post("/login", allow_redirects=False,
                             data={"csrf_token": token, "email": member, "password": PASSWORD})
        assert right.status_code == 429, (_host(right), right.status_code)  # from the eleventh on, on either host
        refused.add(_host(right))
    assert refused == {"A", "B"}


def _give(browser: Browser, cents: int, name: str, email: str) -> tuple[str, str | None]:
    """One gift as a donor gives it (the form, then the test card): ("paid", its token), or ("interrupted", its
    token if it had one) when a request came back 502 because its host died under it."""
    form = browser.get("/donate")
    if form.status_code == 502:
        return "interrupted", None
    started = browser.post("/donate", allow_redirects=False, data={
        "csrf_token": _field(form.text, "csrf_token"), "amount": "other", "other_amount": f"{cents / 100:.2f}",
        "frequency": "one_time", "name": name, "email": email})
    if started.status_code == 502:
        return "interrupted", None
    assert started.status_code == 302, (started.status_code, started.text[:500])
    checkout = urlsplit(started.headers["Location"]).path
    token = checkout.rsplit("/", 1)[1]
    page = browser.get(checkout)
    if page.status_code == 502:
        return "interrupted", token
    paid = browser.post(checkout, allow_redirects=False, data={
        "csrf_token": _field(page.text, "csrf_token"), "attempt": _field(page.text, "attempt"),
        "card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"})
    if paid.status_code == 502:
        return "interrupted", token
    assert paid.status_code == 302 and f"/thanks/{token}" in paid.headers["Location"], (paid.status_code, paid.text)
    return "paid", token


def _gifts_survive_a_dead_host(proxy: RoundRobinProxy, engine, processes: Processes, stripe_port: int,
                               visitors: str, run: str) -> None:
    gifts: list[tuple[float, str, str | None]] = []  # (when it started, how it ended, its token)

    def donor(n: int) -> None:
        browser = Browser(proxy.url, f"{visitors}.{10 + n}")  # each donor on an address of their own
        for g in range(GIFTS_EACH):
            at = time.monotonic()
            outcome, token = _give(browser, 1_000 + 100 * n + g, f"Donor {n}", f"donor{n}-{run}@example.org")
            gifts.append((at, outcome, token))
            time.sleep(0.5)  # reads the thanks page: the gifts are spread over the kill, not all given before it

    with ThreadPoolExecutor(DONORS) as pool:
        donors = [pool.submit(donor, n) for n in range(DONORS)]
        wait_until(lambda: len(gifts) >= KILL_AFTER or any(d.done() for d in donors), "the first gifts were not given", TIMEOUT)
        processes.kill("host-A")
        killed_at, before = time.monotonic(), len(gifts)
        for done in donors:
            done.result(TIMEOUT)  # a donor's failed assertion fails the test here
    assert len(gifts) == DONORS * GIFTS_EACH and proxy.down == {"A"}
    assert any(s.host == "A" and s.path.startswith("/donate") for s in proxy.served)  # A took gifts before it died
    assert all(s.host == "B" for s in proxy.served if s.at > killed_at)
    after = [outcome for at, outcome, _ in gifts if at > killed_at]
    assert after and all(outcome == "paid" for outcome in after)  # B took every gift given after
    interrupted = [token for _, outcome, token in gifts if outcome == "interrupted"]
    lost_webhooks = [s for s in proxy.failed if s.path == "/stripe/webhook"]
    print(f"several hosts: host A killed after {before} of {len(gifts)} gifts; {len(interrupted)} gifts and "
          f"{len(lost_webhooks)} webhooks were cut off with it")

    api = stripe.StripeClient("sk_test_local", base_addresses={"api": f"http://127.0.0.1:{stripe_port}"},
                              max_network_retries=0).v1
    intents = [i for i in api.payment_intents.list(params={"limit": 100}).auto_paging_iter()
               if i.status == "succeeded"]
    charges = {c.id: c.amount for c in api.charges.list(params={"limit": 100}).auto_paging_iter()
               if c.status == "succeeded"}
    paid_tokens = [i.metadata["donation"] for i in intents]
    assert len(paid_tokens) == len(set(paid_tokens)) == len(charges)  # no gift charged twice
    assert {token for _, outcome, token in gifts if outcome == "paid"} <= set(paid_tokens)

    given = time.monotonic()

    def settled() -> bool:  # the worker has applied every stored event, and no webhook came for a while
        last = max([given] + [s.at for s in proxy.served + proxy.failed if s.path == "/stripe/webhook"])
        return (_count(engine, "SELECT count(*) FROM stripe_events WHERE processed_at IS NULL") == 0
                and time.monotonic() - last > 5)  # the local Stripe server sends each event a second after it

    wait_until(settled, "the worker did not apply the stored Stripe events", TIMEOUT)
    charge_entries = "SELECT count(*) FROM journal_entries WHERE source_kind = 'stripe.charge'"
    booked = _count(engine, charge_entries)
    assert booked >= len(charges) - len(lost_webhooks)  # only a webhook cut off with host A may have missed a gift
    reconciled = processes.run("fund", "reconcile-stripe")  # the hourly timer (deploy/systemd): lost webhooks
    assert f"booked {len(charges) - booked} payments" in reconciled, reconciled

    with engine.connect() as conn:
        entries = dict(conn.execute(sa.text("SELECT source_id, count(*) FROM journal_entries "
                                            "WHERE source_kind = 'stripe.charge' GROUP BY source_id")).all())
        donations = conn.execute(sa.text("SELECT token, stripe_charge_id, gross_cents, receipt_year, receipt_seq "
                                         "FROM donations WHERE status = 'succeeded'")).all()
        income = conn.scalar(sa.text("SELECT -sum(p.amount_cents) FROM postings p JOIN ledger_accounts a "
                                     "ON a.id = p.account_id WHERE a.name = 'Income:Donations'"))
        mails = dict(conn.execute(sa.text("SELECT attachment_name, count(*) FROM outbox_messages "
                                          "WHERE attachment_name LIKE 'receipt-%' GROUP BY 1")).all())
    assert entries == dict.fromkeys(charges, 1)  # every charge booked, once
    assert sorted(d.stripe_charge_id for d in donations) == sorted(charges)
    assert sorted(d.token for d in donations) == sorted(paid_tokens)
    assert sum(d.gross_cents for d in donations) == income == sum(charges.values())
    numbers = sorted((d.receipt_year, d.receipt_seq) for d in donations)
    assert numbers == [(year, seq) for year in sorted({y for y, _ in numbers})
                       for seq in range(1, 1 + sum(1 for y, _ in numbers if y == year))]  # no gap, no repeat
    assert mails == {f"receipt-{year}-{seq:06d}.pdf": 1 for year, seq in numbers}
    processes.run("fund", "check-books")
    print(f"several hosts: {len(charges)} gifts charged, {booked} booked from webhooks, "
          f"{len(charges) - booked} by the reconciliation")
