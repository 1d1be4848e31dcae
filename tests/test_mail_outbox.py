"""No request waits on mail, /healthz answers at once and names what fails, and mail written to the log
carries no link that signs someone in."""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from datetime import timedelta

import pytest

from fundapp import create_app, health
from fundapp.config import ConfigError
from fundapp.donations.models import StripeEvent
from fundapp.extensions import db, utcnow
from fundapp.mail import REDACTED, OutboxMessage, deliver_pending, queue_mail
from fundapp.worker import start_worker_thread
from tests.conftest import free_port, production_env, sign_in, unprivileged_url, wait_for
from tests.security_figures import HEALTHZ_LIMIT_MS, QUEUEING_PAGE_LIMIT_MS


class HangingSmtpServer:
    """A real socket server on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging_smtp(app):
    server = HangingSmtpServer()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=3)
    yield server
    server.close()


def timed(call):
    start = time.perf_counter()
    response = call()
    return response, (time.perf_counter() - start) * 1000


def test_a_hanging_mail_server_holds_neither_a_page_nor_healthz_and_the_worker_gives_up_on_it(
        app, client, create_user, hanging_smtp):
    create_user("ana@example.org", "applicant")
    create_user("bob@example.org", "applicant")
    client.get("/healthz")  # the first request of a process loads templates and the like
    stop_worker = start_worker_thread(app, interval=0.05)
    try:
        assert wait_for(lambda: db.session.scalar(db.select(health.WorkerHeartbeat)))
        response, took = timed(lambda: client.post("/reset", data={"email": "ana@example.org"}))
        assert response.status_code == 302 and took < QUEUEING_PAGE_LIMIT_MS, took
        assert hanging_smtp.accepted.wait(5)  # the worker is now waiting for a greeting that never comes
        for _ in range(3):
            response, took = timed(lambda: client.get("/healthz"))
            assert response.status_code == 200 and took < HEALTHZ_LIMIT_MS, (took, response.get_json())
            assert response.get_json()["worker"]["status"] == "ok"
        response, took = timed(lambda: client.post("/reset", data={"email": "bob@example.org"}))
        assert response.status_code == 302 and took < QUEUEING_PAGE_LIMIT_MS, took
        gave_up = wait_for(lambda: db.session.scalar(db.select(OutboxMessage).where(
            OutboxMessage.to_address == "ana@example.org", OutboxMessage.last_error.is_not(None))), timeout=10)
        assert gave_up and "timed out" in gave_up.last_error and gave_up.sent_at is None
    finally:
        stop_worker()


def test_healthz_answers_503_naming_the_worker_when_its_heartbeat_is_stale(app, client):
    response = client.get("/healthz")  # no worker has ever run
    assert response.status_code == 503 and response.get_json()["failing"] == ["worker"]
    health.beat("host:1")
    assert client.get("/healthz").status_code == 200
    db.session.execute(db.update(health.WorkerHeartbeat).values(beat_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    response = client.get("/healthz")
    report = response.get_json()
    assert response.status_code == 503 and report["status"] == "error" and report["failing"] == ["worker"]
    assert report["worker"]["status"] == "stale" and report["worker"]["seconds_ago"] >= 299
    assert report["database"] == "ok"


def test_healthz_names_the_backlogs_above_their_thresholds(app, client, fund):
    health.beat("host:1")
    app.config.update(HEALTH_OUTBOX_MAX=1, HEALTH_EVENTS_MAX=0)
    queue_mail("x@example.org", "Hello", "Body")
    db.session.commit()
    assert client.get("/healthz").status_code == 200  # one message waiting is within the threshold
    queue_mail("y@example.org", "Hello", "Body")
    db.session.add(StripeEvent(id="evt_waiting", type="charge.succeeded", payload="{}"))
    db.session.commit()
    response = client.get("/healthz")
    report = response.get_json()
    assert response.status_code == 503 and report["failing"] == ["outbox", "stripe_events"]
    assert report["outbox"] == {"status": "backlog", "waiting": 2}
    assert report["stripe_events"] == {"status": "backlog", "waiting": 1}


def test_healthz_names_redis_when_it_does_not_answer_and_still_answers_at_once(app, client):
    health.beat("host:1")
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client.get("/healthz")
    response, took = timed(lambda: client.get("/healthz"))
    assert response.status_code == 503 and response.get_json()["failing"] == ["redis"]
    assert response.get_json()["redis"] == "unreachable" and took < HEALTHZ_LIMIT_MS


def test_healthz_reports_a_redis_that_answers(app, client):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    health.beat("host:1")
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["redis"] == "ok"


def test_production_refuses_to_start_without_a_mail_server_unless_told_to_log_mail(monkeypatch, database_url):
    production_env(monkeypatch, database_url)
    monkeypatch.delenv("MAIL_TO_LOG")
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    with pytest.raises(ConfigError, match="MAIL_SERVER"):
        create_app()
    monkeypatch.setenv("MAIL_TO_LOG", "0")
    with pytest.raises(ConfigError, match="MAIL_TO_LOG=1"):
        create_app()
    with unprivileged_url(database_url) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        for name, value in (("MAIL_TO_LOG", "1"), ("MAIL_SERVER", "smtp.local7.example.org")):
            monkeypatch.setenv(name, value)
            app = create_app()
            assert app.config["ENV_NAME"] == "production"
            with app.app_context():
                db.engine.dispose()


def test_mail_written_to_the_log_has_every_sign_in_link_redacted(app, client, create_user, fund, caplog):
    from fundapp.donations.giving import find_or_create_donor
    from fundapp.mail import answer_requests

    assert app.config["MAIL_SERVER"] is None
    caplog.set_level(logging.INFO)
    create_user("ana@example.org", "applicant")
    create_user("tess@example.org", "treasurer")
    find_or_create_donor(fund, "dora@example.org", "Dora")
    db.session.commit()
    client.post("/reset", data={"email": "ana@example.org"})  # a reset link
    client.post("/donor/login", data={"email": "dora@example.org"})  # a donor's sign-in link
    treasurer = app.test_client()
    sign_in(treasurer, "tess@example.org")
    treasurer.post("/admin/users/new", data={"email": "tom@example.org", "name": "Tom", "roles": ["trustee"],
                                             "language": "en"})  # a welcome link
    answer_requests()  # the worker's first half: the reset and donor links asked for become mail
    bodies = {m.to_address: m.body for m in db.session.scalars(db.select(OutboxMessage))}
    links = [re.search(r"https?://\S+", bodies[to]).group(0) for to in
             ("ana@example.org", "dora@example.org", "tom@example.org")]
    assert "/reset/" in links[0] and "/donor/link/" in links[1] and "/reset/" in links[2]
    assert deliver_pending() == (len(bodies), 0)  # the worker's turn: written to the log
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Reset your password" in logged and "sign-in link" in logged and "Your account at" in logged
    for link in links:
        token = link.rsplit("/", 1)[1]
        assert link not in logged and token not in logged
    assert logged.count(REDACTED) == 3
