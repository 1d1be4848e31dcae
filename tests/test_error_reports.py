"""Error reports (SENTRY_DSN): the app reports to a real HTTP server on 127.0.0.1 that speaks Sentry's envelope
protocol, and what arrives carries the request id and the route's rule, and no email address, name, cookie, session
id, form, query string or token from the path; the worker's failures arrive too; with SENTRY_DSN empty nothing is
set up."""
from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
import sqlalchemy as sa
from flask import current_app, request
from flask_login import current_user

from fundapp import create_app, mail
from fundapp.extensions import db
from fundapp.policy import signed_in
from fundapp.worker import start_worker_thread
from tests.conftest import base_config, sign_in

MEMBER_EMAIL = "rosalind.picket@example.org"
MEMBER_NAME = "Rosalind Picketline"
PAYEE = "Dolores Huertaville"  # typed into the form
NAME_IN_THE_DATABASE = "Cesar Chavezmont"  # a value of a failed SQL statement
PATH_TOKEN = "tok3nInThePath9f8e7d"
QUERY_VALUE = "query-value-Q81Z"
FAILING_REQUEST = "test-fails"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers.get("Content-Encoding", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args) -> None:
        pass


def _items(body: bytes) -> list[tuple[dict, bytes]]:
    """The items of one envelope: a header line, then each item's header line and its payload."""
    _header, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        if "length" in header:
            payload, rest = rest[:header["length"]], rest[header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


class SentryServer:
    """What reached the server: ``bodies`` (decoded) and the ``events`` in them."""

    def __init__(self) -> None:
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.http.received = []
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.dsn = f"http://publickey@127.0.0.1:{self.http.server_port}/1"

    @property
    def bodies(self) -> list[bytes]:
        """Every envelope received so far (what the SDK still holds is sent first), decoded."""
        sentry_sdk.flush(timeout=5)
        assert all(path == "/api/1/envelope/" for path, _, _ in self.http.received)
        assert {encoding for _, encoding, _ in self.http.received} <= {"", "gzip"}, "decode the SDK's new encoding"
        return [gzip.decompress(body) if encoding == "gzip" else body for _, encoding, body in self.http.received]

    def events(self) -> list[dict]:
        return [json.loads(payload) for body in self.bodies for header, payload in _items(body)
                if header["type"] == "event"]


@pytest.fixture
def sentry_server():
    server = SentryServer()
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()
    server.thread.join(5)


@pytest.fixture
def reporting_app(app, database_url, tmp_path, sentry_server):
    """A second app on the test database, reporting to the local server, with two routes that fail."""
    reporting = create_app(base_config(database_url, SENTRY_DSN=sentry_server.dsn, PROPAGATE_EXCEPTIONS=False,
                                       DOCUMENTS_DIR=str(tmp_path)))

    @signed_in
    def pay(token):
        payee = request.form["payee"]
        current_app.logger.warning("paying %s at %s", payee, current_user.email)  # a breadcrumb
        raise RuntimeError(f"could not pay {payee} for {current_user.name} <{current_user.email}> ({token})")

    @signed_in
    def record():
        db.session.execute(sa.text("INSERT INTO no_such_table (who) VALUES (:who)"), {"who": NAME_IN_THE_DATABASE})

    reporting.add_url_rule("/test-only/pay/<token>", view_func=pay, methods=["POST"])
    reporting.add_url_rule("/test-only/record", view_func=record, methods=["POST"])
    yield reporting
    client = sentry_sdk.get_client()
    client.close()  # no other test reports
    sentry_sdk.get_global_scope().set_client(None)
    with reporting.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_500_reaches_the_server_with_its_request_id_and_nothing_personal(reporting_app, sentry_server,
                                                                           create_user, database_url):
    user = create_user(MEMBER_EMAIL, name=MEMBER_NAME)
    client = reporting_app.test_client()
    assert sign_in(client, MEMBER_EMAIL).status_code == 302
    cookie = client.get_cookie("session", domain="fund.test").value
    session_id = reporting_app.session_interface.get_signing_serializer(reporting_app).loads(cookie)["_user_id"]

    answer = client.post(f"/test-only/pay/{PATH_TOKEN}", query_string={"ref": QUERY_VALUE},
                         data={"payee": PAYEE, "note": f"for {MEMBER_NAME}, {MEMBER_EMAIL}"})
    assert answer.status_code == 500
    (event,) = [event for event in sentry_server.events() if event.get("transaction") == "/test-only/pay/<token>"]
    assert event["tags"]["request_id"] == answer.headers["X-Request-ID"]
    assert event["tags"]["route"] == "/test-only/pay/<token>" and event["tags"]["fund"] == "hardship-fund"
    assert event["user"] == {"id": str(user.id)}
    assert event["request"]["url"] == "/test-only/pay/<token>" and event["request"]["method"] == "POST"
    assert set(event["request"]) == {"url", "method", "headers"}  # no cookies, data, query string or env
    assert {name.lower() for name in event["request"]["headers"]} <= {"host", "user-agent", "content-type",
                                                                       "content-length"}
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "could not pay [removed] for [removed] <[email removed]> ([removed])"
    assert not any("vars" in frame for frame in exception["stacktrace"]["frames"])
    assert [crumb["message"] for crumb in event["breadcrumbs"]["values"]] == ["paying [removed] at [email removed]"]

    sent = b"\n".join(sentry_server.bodies).decode()
    for personal in (MEMBER_EMAIL, "@example.org", MEMBER_NAME, *MEMBER_NAME.split(), PAYEE, *PAYEE.split(),
                     cookie, session_id, PATH_TOKEN, QUERY_VALUE):
        assert personal not in sent, f"{personal!r} was sent"

    second = create_app(base_config(database_url, SENTRY_DSN=sentry_server.dsn))
    assert sentry_sdk.get_client().dsn == sentry_server.dsn and second.config["SENTRY_DSN"] == sentry_server.dsn
    with second.app_context():
        db.engine.dispose()


def test_a_database_error_is_reported_with_its_sql_and_without_its_values(reporting_app, sentry_server,
                                                                           create_user):
    create_user(MEMBER_EMAIL, name=MEMBER_NAME)
    client = reporting_app.test_client()
    assert sign_in(client, MEMBER_EMAIL).status_code == 302
    answer = client.post("/test-only/record")
    assert answer.status_code == 500
    (event,) = [event for event in sentry_server.events() if event.get("transaction") == "/test-only/record"]
    assert event["tags"]["request_id"] == answer.headers["X-Request-ID"]
    exception = event["exception"]["values"][-1]  # SQLAlchemy's, after the driver's it was raised from
    assert exception["type"] in ("OperationalError", "ProgrammingError")  # SQLite's, PostgreSQL's
    assert "no_such_table" in exception["value"] and "hidden" in exception["value"]
    assert NAME_IN_THE_DATABASE not in b"\n".join(sentry_server.bodies).decode()


def test_the_worker_reports_a_failed_round_without_the_address(reporting_app, sentry_server, fund):
    @mail.request_handler(FAILING_REQUEST)
    def fail(fund_id, email, language):
        raise ValueError(f"no account for {email}")

    try:
        mail.queue_request(FAILING_REQUEST, fund.id, MEMBER_EMAIL)
        db.session.commit()
        stop = start_worker_thread(reporting_app, interval=0.05)
        try:
            deadline = time.monotonic() + 10
            while not sentry_server.events() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop()
    finally:
        mail.REQUEST_HANDLERS.pop(FAILING_REQUEST)
    event = sentry_server.events()[0]
    assert event["logentry"]["message"].startswith("worker: trying again")
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError" and exception["value"] == "no account for [email removed]"
    assert event["tags"]["fund"] == "hardship-fund" and "request_id" not in event["tags"]
    sent = b"\n".join(sentry_server.bodies).decode()
    assert MEMBER_EMAIL not in sent and "@example.org" not in sent


def test_without_sentry_dsn_nothing_is_set_up(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("SENTRY_DSN", "")
    app = create_app(base_config(database_url, DOCUMENTS_DIR=str(tmp_path)))
    assert app.config["SENTRY_DSN"] == ""
    assert not sentry_sdk.get_client().is_active()
    with app.app_context():
        db.engine.dispose()
