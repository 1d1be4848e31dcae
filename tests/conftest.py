"""Test fixtures: one real database per run (SQLite, or PostgreSQL when
``FUNDAPP_TEST_DATABASE_URL`` points at a server), built by the real migrations.

Each test starts from empty tables: after a test every table is emptied
(TRUNCATE on PostgreSQL, DELETE on SQLite). We do this rather than rolling back
an outer transaction because requests in these tests commit for real, and the
concurrency tests need independent connections.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import threading
import time
import uuid
from email import message_from_bytes, policy

import pyotp
import pytest
import sqlalchemy as sa
import stripe
from aiosmtpd.controller import Controller
from flask.globals import _cv_app
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from fundapp import create_app, init_migrations, throttle
from fundapp.accounts import membership as roster_service
from fundapp.accounts import services as account_services
from fundapp.accounts import two_factor
from fundapp.extensions import db
from fundapp.payments.local_server import LocalStripe
from fundapp.setup import init_fund
from fundapp.worker import start_worker_thread

PASSWORD = "correct horse battery"
WEBHOOK_SECRET = "whsec_test_fundapp"
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def make_pg_database(server_url: str) -> tuple[str, callable]:
    """Create a fresh PostgreSQL database on the server; return its URL and a dropper."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"fundapp_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def base_config(database_url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH": FAST_HASH,
        "SERVER_NAME": "fund.test",
    }
    config.update(extra)
    return config


def production_env(monkeypatch, database_url: str) -> None:
    """Settings that production accepts (create_app() then reads them from the environment)."""
    monkeypatch.setenv("FUNDAPP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FUND_EIN", "12-3456789")
    monkeypatch.setenv("FUND_CONTACT_EMAIL", "fund@local7.example.org")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("MAIL_TO_LOG", "1")  # as before MAIL_SERVER was required: mail goes to the log
    monkeypatch.setenv("AUDIT_KEY", "y" * 48)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "k" * 24)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_" + "w" * 32)


def drop_roles(server_url: str, *roles: str) -> None:
    """Drop test roles (they are cluster-wide) and whatever they still own or were granted."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for role in roles:
            if conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
                conn.execute(sa.text(f'DROP ROLE "{role}"'))
    admin.dispose()


@contextlib.contextmanager
def unprivileged_url(database_url: str):
    """The URL as a role that owns nothing and is no superuser, as production insists on PostgreSQL
    (a new LOGIN role with a random name, dropped afterwards); on SQLite the URL itself."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        yield database_url
        return
    role = f"fundapp_plain_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    admin.dispose()
    try:
        yield url.set(username=role, password=None).render_as_string(hide_password=False)
    finally:
        drop_roles(database_url, role)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    server = os.environ.get("FUNDAPP_TEST_DATABASE_URL")
    if server:
        from fundapp.config import normalise_database_url

        url, drop = make_pg_database(normalise_database_url(server))
        yield url
        drop()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def _migrated_app(database_url, tmp_path_factory):
    import flask_migrate

    app = create_app(base_config(database_url, DOCUMENTS_DIR=str(tmp_path_factory.mktemp("documents"))))
    init_migrations(app)
    app.test_client_class = IsolatedClient
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@contextlib.contextmanager
def owner_connection():
    """A connection that can do what the database's owner can (committed at the end): on PostgreSQL the
    superuser with the tables' triggers off for its transaction (``session_replication_role = replica``), as
    someone who owns the server would; on SQLite, which has no triggers, any connection.

    The test's session commits before and starts afresh after, so it sees what the owner did."""
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield conn
    db.session.rollback()


@contextlib.contextmanager
def injected_fault(name: str, table: str, only_while: str = "TRUE"):
    """A real fault inside the database while the block runs: a trigger ``name`` refuses every INSERT into
    ``table`` with "injected fault" (while the SQL condition ``only_while`` holds), then is dropped."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text(f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN IF {only_while} THEN "
                                 "RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(sa.text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION "
                                 f"{name}()"))
        else:
            conn.execute(sa.text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {only_while} "
                                 "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))
    try:
        yield
    finally:
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"DROP TRIGGER {name} ON {table}" if dialect == "postgresql"
                                 else f"DROP TRIGGER {name}"))
            if dialect == "postgresql":
                conn.execute(sa.text(f"DROP FUNCTION {name}()"))


def empty_all_tables() -> None:
    db.session.remove()
    tables = [t.name for t in db.metadata.sorted_tables]
    with owner_connection() as conn:  # the books and the audit trail refuse TRUNCATE to anyone else
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test itself holds an app context for its own queries; without this,
    requests would reuse it and share ``g`` (the signed-in user, cached roles)
    and the test's database session. The test's transaction is closed around
    each request so both sides see each other's commits.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        context = contextvars.copy_context()

        def request_alone():
            _cv_app.set(None)  # Flask then pushes a fresh app context for the request
            response = FlaskClient.open(self, *args, **kwargs)
            response.make_sequence()  # a streamed body is read here, in the request's own context
            return response

        response = context.run(request_alone)
        db.session.commit()
        return response


@pytest.fixture
def app(_migrated_app):
    """The app over empty tables but for what `flask fund init` makes (the fund, its rules, its chart), as an
    installation is after its deploy steps: pages never create these."""
    saved = dict(_migrated_app.config)
    with _migrated_app.app_context():
        init_fund(_migrated_app.config["FUND_DEFAULTS"])
        db.session.commit()
        yield _migrated_app
        empty_all_tables()
        throttle.limiter_of(_migrated_app).reset()  # each test starts with no tries counted
    _migrated_app.config.clear()
    _migrated_app.config.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def fund(app):
    """The installation's fund, set up as `flask fund init` does (its first rules and chart of accounts too)."""
    fund = init_fund(app.config["FUND_DEFAULTS"]).fund
    db.session.commit()
    return fund


@pytest.fixture
def create_user(app, fund):
    """Make a user with roles in the test fund: create_user("t@x.org", "trustee")."""

    def make(email: str, *roles: str, password: str = PASSWORD, name: str = "Test Person", language="en"):
        user = account_services.create_user(fund, email=email, name=name, password=password,
                                            roles=roles or ("applicant",), language=language)
        if two_factor.required_for(user):
            enrol(user)
        db.session.commit()
        return user

    return make


def enrol(user) -> None:
    """As if the person had connected their authenticator app at a first sign-in (with the code of the step
    just gone, so this moment's codes are left for signing in)."""
    secret = two_factor.new_secret()
    totp = pyotp.TOTP(secret)
    assert two_factor.confirm_enrolment(user, secret, totp.at(time.time() - totp.interval)) is not None


def authenticator_code(email: str) -> str:
    """What the person's authenticator app shows: the code of the newest step not used yet (waiting for
    the clock, as a person would, when the codes of this moment are spent)."""
    db.session.rollback()
    user = account_services.find_user_by_email(email)
    totp = pyotp.TOTP(user.totp_secret)
    step = max(int(time.time()) // totp.interval, (user.totp_last_step or -1) + 1)
    wait = (step - 1) * totp.interval - time.time()
    if wait > 0:
        time.sleep(wait + 0.05)
    return totp.at(step * totp.interval)


def sign_in(client, email: str, password: str = PASSWORD):
    """Sign in through the pages, with the second factor for trustees and the treasurer."""
    response = client.post("/login", data={"email": email, "password": password})
    if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
        response = client.post("/login/code", data={"code": authenticator_code(email)})
    return response


def run_worker_once() -> None:
    """The worker's next turn, as ``flask fund worker`` takes it: answer the reset and sign-in link requests the
    pages stored, then send what waits in the outbox."""
    from fundapp.mail import answer_requests, deliver_pending

    answer_requests()
    deliver_pending()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """What reached the SMTP server. Requests only queue mail and the worker sends it, so reading
    ``messages`` first lets the worker take its turn: one round of its mail sending (``deliver_pending``, what
    ``run_worker`` does every second), here in the test's thread so the test need not wait for a thread."""

    def __init__(self):
        self.arrived = []

    @property
    def messages(self):
        from flask import has_app_context

        from fundapp.mail import deliver_pending

        if has_app_context():  # (pytest looks at the fixture's attributes outside the test too)
            deliver_pending()
        return self.arrived

    async def handle_DATA(self, server, session, envelope):
        self.arrived.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(app):
    """A real SMTP server on 127.0.0.1; the app sends to it. ``smtp.messages`` holds what arrived."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    controller.stop()


@pytest.fixture
def live_server(app):
    """Serve the test app on a free loopback port for the length of one test."""
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def wait_for(check, timeout: float = 8.0, interval: float = 0.1):
    """Poll ``check()`` until it returns something truthy (another thread commits what it looks for)."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # end our snapshot so the other thread's commits are visible
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


# --- Stripe: the real SDK against localstripe served in this process on 127.0.0.1 ---------------


@pytest.fixture(scope="session")
def _localstripe():
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(request, app, _localstripe, live_server):
    """A fresh local Stripe server wired to the app: the SDK calls it, its webhooks reach the live app,
    and a worker thread applies them (unless the test is marked ``no_worker``)."""
    _localstripe.reset()
    app.config.update(STRIPE_API_BASE=_localstripe.base_url, STRIPE_SECRET_KEY="sk_test_fundapp",
                      STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    _localstripe.register_webhook(f"{live_server}/stripe/webhook", WEBHOOK_SECRET)
    _localstripe.app_url = live_server
    stop_worker = (start_worker_thread(app, interval=0.05)  # applies what the webhook stores, as run-local does
                   if request.node.get_closest_marker("no_worker") is None else lambda: None)
    yield _localstripe
    stop_worker()
    _localstripe.reset()


@pytest.fixture
def api(localstripe):
    """The Stripe SDK pointed at the local server, as an outside party (the dashboard, a Payment Link)."""
    return stripe.StripeClient("sk_test_fundapp", base_addresses={"api": localstripe.base_url},
                               max_network_retries=0).v1


@pytest.fixture
def demo_fund(fund, create_user):
    """The demo's roster, three months of books and cases, with a treasurer and two trustees who can sign in
    here (enrolled second factor); returns the email to sign in with for each role."""
    from fundapp.accounts.models import Member, User
    from fundapp.demo import demo_roster_csv, seed_demo_books, seed_demo_cases
    from fundapp.funds import clock

    treasurer = create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    tom = create_user("tom@example.org", "trustee", name="Tom Trustee")
    tina = create_user("tina@example.org", "trustee", name="Tina Trustee")
    roster_service.import_roster(fund, demo_roster_csv())
    seed_demo_books(fund, clock.today(fund))
    seed_demo_cases(fund, clock.today(fund), treasurer=treasurer, trustees=[tom, tina], password=PASSWORD)
    db.session.commit()
    member = db.session.scalar(db.select(User).join(Member, Member.user_id == User.id).order_by(Member.id))
    return {"treasurer": "tess@example.org", "trustee": "tom@example.org", "member": member.email}


@pytest.fixture
def roster(fund):
    """The fund with the roster of tests.factories.GOOD imported (Rosa on strike, Luis not)."""
    from tests.factories import GOOD

    roster_service.import_roster(fund, GOOD.encode())
    db.session.commit()
    return fund


@pytest.fixture
def grants(fund, create_user):
    """grants(cents, category, worksite, day, paid=False, status="submitted"): a member's application,
    approved on ``day`` (unless the status says it waits) and paid two days later if asked."""
    from datetime import timedelta

    from fundapp.accounts.models import Member
    from fundapp.applications.models import Application
    from fundapp.applications.services import current_rules
    from fundapp.funds import clock
    from fundapp.review import services as review
    from tests.factories import TODAY, figures_time

    made = [0]
    tom = create_user("tom@example.org", "trustee")

    def make(cents, category="rent", worksite="North", day=TODAY, paid=False, approve=True):
        made[0] += 1
        user = create_user(f"m{made[0]}@example.org", "applicant")
        member = Member(fund_id=fund.id, member_id=f"M-{made[0]}", first_name="M", last_name=str(made[0]),
                        worksite=worksite, unit="U", on_strike=True, user_id=user.id)
        db.session.add(member)
        db.session.flush()
        application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                                  rules_id=current_rules(fund).id, status="submitted", category=category,
                                  amount_requested_cents=cents, amount_paid_cents=0,
                                  submitted_at=figures_time(day))
        db.session.add(application)
        db.session.flush()
        if approve:
            review.approve(fund, application, cents, actor=tom, decided_on=day)
            if paid:
                review.record_payment(fund, application, amount_cents=cents, method="cheque", reference="1",
                                      paid_on=min(day + timedelta(days=2), clock.today(fund)), actor=tom)
        db.session.commit()
        return application

    return make
