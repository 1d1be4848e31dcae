"""Year-end statements sent in bulk while everything else runs (issue 17, item 7).

The treasurer's page sends the statements 25 at a time while ``flask fund send-statements`` runs in another
process against the same database, the app's worker thread and a ``flask fund worker`` process both deliver
the outbox to a real SMTP server: nobody may be mailed twice, no page may fail, and every donor due a
statement gets exactly one.
"""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess  # nosec B404 # runs the flask command of this project, no shell
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from fundapp.donations import offline, receipts
from fundapp.donations.models import StatementSent
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.mail import OutboxMessage
from fundapp.worker import start_worker_thread
from tests.conftest import sign_in, wait_for

ROOT = Path(__file__).resolve().parents[2]
DONORS = 200


class _Browser:
    """A real HTTP client with cookies, answering as the test client does for ``sign_in``."""

    def __init__(self, base_url: str):
        self.base_url, self.http = base_url, requests.Session()

    def post(self, path: str, data: dict) -> requests.Response:
        return self.http.post(self.base_url + path, data=data, allow_redirects=False, timeout=60)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base_url + path, allow_redirects=False, timeout=60)


def _flask(database_url: str, mail_port: int, *args: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port),
               FLASK_APP="wsgi", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "fund", *args], cwd=ROOT, env=env,  # nosec B603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_statements_sent_from_the_page_the_command_and_two_workers_at_once_reach_everyone_once(
        app, fund, create_user, live_server, smtp):
    year = clock.today(fund).year
    for n in range(DONORS):
        offline.record_offline_gift(fund, name=f"Donor {n}", email=f"donor{n}@example.org", amount_cents=1_000 + n,
                                      method="cash", received_on=clock.today(fund), notify=False)
    db.session.commit()
    create_user("tess@example.org", "treasurer")
    browser = _Browser(live_server)
    assert sign_in(browser, "tess@example.org").status_code == 302

    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    stop_worker = start_worker_thread(app, interval=0.05)  # the app's own worker, as run-local runs it
    worker = _flask(database_url, smtp_port(app), "worker", "--interval", "0.05")
    command = _flask(database_url, smtp_port(app), "send-statements", "--year", str(year))
    statuses, pages = [], 0
    try:
        # the page starts once the command is under way, so the two surely send at the same time
        assert wait_for(lambda: db.session.scalar(db.select(db.func.count(StatementSent.id))), timeout=60)
        while pages < 60:  # 200 donors at 25 a page, shared with the command: a dozen pages at most
            response = browser.post("/reports/statements", data={"year": year, "all": "1"})
            statuses.append(response.status_code)
            pages += 1
            if response.status_code != 302 or "continue=1" not in response.headers["Location"]:
                break
            statuses.append(browser.get(response.headers["Location"]).status_code)  # the page the script reloads
        command_output, _ = command.communicate(timeout=180)
        delivered = wait_for(lambda: db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(
            OutboxMessage.sent_at.is_not(None))) >= DONORS and len(smtp.messages) >= DONORS, timeout=120)
        time.sleep(1)  # a duplicate still on its way would arrive now
    finally:
        stop_worker()
        worker.terminate()
        worker_output, _ = worker.communicate(timeout=30)

    assert command.returncode == 0, command_output
    by_command = int(re.search(r"Queued (\d+) statements", command_output)[1])
    assert 0 < by_command < DONORS, command_output  # the page and the command each queued some, together
    assert "locked" not in command_output and "locked" not in worker_output, (command_output, worker_output)
    assert all(status < 500 for status in statuses), statuses
    assert delivered, f"{len(smtp.messages)} of {DONORS} statements delivered"
    received = Counter(message["To"] for message in smtp.messages)
    assert received == Counter({f"donor{n}@example.org": 1 for n in range(DONORS)}), \
        [(to, count) for to, count in received.items() if count != 1]
    assert all(message.get_payload()[1].get_filename() == f"statement-{year}.pdf" for message in smtp.messages)
    assert db.session.scalar(db.select(db.func.count(StatementSent.id))) == DONORS
    page = browser.get(f"/reports/?year={year}").text
    assert re.search(rf"{year}: {DONORS} of {DONORS} queued, {DONORS} delivered", page), page


def smtp_port(app) -> int:
    return int(app.config["MAIL_PORT"])


def _gifts(fund, count: int) -> list:
    gifts = [offline.record_offline_gift(fund, name=f"Donor {n}", email=f"donor{n}@example.org", amount_cents=1_000,
                                           method="cash", received_on=clock.today(fund), notify=False)
             for n in range(count)]
    db.session.commit()  # as between two donors of a run: the fund and the donor are read afresh
    return gifts


def test_a_statement_is_marked_queued_only_with_its_mail(app, fund, monkeypatch):
    """The mark and the outbox message are one transaction: a statement whose mail could not be queued is not
    marked (on SQLite a SAVEPOINT that opened the transaction committed the mark on RELEASE)."""
    donor = _gifts(fund, 1)[0].donor

    def refuse(*_args, **_kwargs):
        raise RuntimeError("the outbox is full")

    monkeypatch.setattr(receipts, "queue_mail", refuse)
    with pytest.raises(RuntimeError):
        receipts.send_statement(fund, donor, clock.today(fund).year)
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(StatementSent.id))) == 0
    assert receipts.donors_due_a_statement(fund, clock.today(fund).year) == [donor.id]


def test_a_statement_waits_for_another_writer_on_sqlite_instead_of_failing(app, fund):
    """While another process holds SQLite's write lock for a second, queuing a statement waits (busy_timeout)
    and then succeeds, where a transaction that had read first was refused at once ("database is locked")."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        pytest.skip("SQLite's single write lock")
    donor = _gifts(fund, 1)[0].donor
    other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(1.0, lambda: other.execute("COMMIT"))
    releaser.start()
    try:
        started = time.monotonic()
        assert receipts.send_statement(fund, donor, clock.today(fund).year) is True
        db.session.commit()
        assert time.monotonic() - started >= 0.9  # it waited for the lock
    finally:
        releaser.join()
        other.close()
    assert db.session.scalar(db.select(db.func.count(StatementSent.id))) == 1
