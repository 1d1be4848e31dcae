"""No page tells who has an account (issue 18, item 6): registering an address that has an account, asking for a
password reset and asking for a donor's sign-in link answer with the same page, and do the same database and mail
work, whether or not the address is known; what differs (the mail) is decided in the mail or by the worker.

Timing itself is too noisy on a shared 2-core machine to pin in a test: these tests pin its cause (the same
statements, in the same order, on the request path), and ``benchmarks/enumeration.py`` prints the medians."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from fundapp.accounts.models import PendingRegistration, User
from fundapp.donations import offline
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.mail import MailRequest, OutboxMessage
from tests.conftest import PASSWORD, run_worker_once


def statements_of(request) -> tuple[object, list[str]]:
    """The response to ``request()`` and the SQL it ran, each statement's text without its values."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _many):
        seen.append(re.sub(r"\s+", " ", statement))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = request()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return response, seen


def page(response, typed: str = "") -> bytes:
    """A response's status, location and body, with the CSRF token (and what the visitor typed) taken out."""
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', response.data)
    if typed:
        body = body.replace(typed.encode(), b"TYPED")
    return b"%d %s\n" % (response.status_code, response.headers.get("Location", "").encode()) + body


def outbox_to(address: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(db.select(OutboxMessage).filter_by(to_address=address).order_by(OutboxMessage.id)))


def register(client, email):
    return client.post("/register", data={"name": "Rosa Parks", "email": email, "password": PASSWORD,
                                          "confirm": PASSWORD, "language": "en"})


def test_registering_a_taken_address_shows_the_same_page_does_the_same_work_and_warns_its_owner(
        app, create_user, smtp):
    create_user("rosa@example.org", "applicant")
    register(app.test_client(), "warmup@example.org")  # first request of the process fills caches
    taken, taken_sql = statements_of(lambda: register(app.test_client(), "rosa@example.org"))
    new, new_sql = statements_of(lambda: register(app.test_client(), "anew@example.org"))
    assert taken.status_code == new.status_code == 200
    assert page(taken, "rosa@example.org") == page(new, "anew@example.org")
    assert taken_sql == new_sql  # the same statements, in the same order
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1  # no second account, none made yet
    assert db.session.scalar(db.select(db.func.count(PendingRegistration.id))) == 3
    warning, = [m for m in smtp.messages if m["To"] == "rosa@example.org"]
    assert warning["Subject"] == "Someone tried to create an account with your address"
    text = warning.get_body(("plain",)).get_content()
    assert "/login" in text and "/reset" in text and "/register/" not in text
    welcome, = [m for m in smtp.messages if m["To"] == "anew@example.org"]
    assert welcome["Subject"] == "Finish creating your account" and "/register/" in welcome.get_body(("plain",)).get_content()


@pytest.mark.parametrize("url, known, expected_subject", [
    ("/reset", "ana@example.org", "Reset your password"),
    ("/donor/login", "dana@example.org", "Your gifts to Strike Hardship Fund: sign-in link"),
])
def test_a_link_asked_for_a_known_or_unknown_address_answers_alike_and_the_worker_mails_it(
        app, fund, create_user, smtp, url, known, expected_subject):
    create_user("ana@example.org", "applicant")
    offline.record_offline_gift(fund, name="Dana", email="dana@example.org", amount_cents=2_000, method="cash",
                                  received_on=clock.today(fund), notify=False)
    db.session.commit()
    app.test_client().post(url, data={"email": "warmup@example.org"})
    known_response, known_sql = statements_of(lambda: app.test_client().post(url, data={"email": known}))
    unknown_response, unknown_sql = statements_of(lambda: app.test_client().post(url, data={"email": "x@example.org"}))
    assert page(known_response, known) == page(unknown_response, "x@example.org")
    assert known_sql == unknown_sql
    assert not any("users" in s or "donors" in s for s in known_sql)  # the page never looks the address up
    assert outbox_to(known) == [] and smtp.messages == []  # nothing is mailed on the request path
    assert db.session.scalar(db.select(db.func.count(MailRequest.id))) == 3
    run_worker_once()
    assert [m["Subject"] for m in smtp.messages] == [expected_subject]
    assert smtp.messages[0]["To"] == known
    assert db.session.scalar(db.select(db.func.count(MailRequest.id))) == 0  # typed addresses are not kept


def test_the_followed_pages_read_the_same_too(client, create_user, fund):
    create_user("ana@example.org", "applicant")
    known = client.post("/reset", data={"email": "ana@example.org"}, follow_redirects=True)
    unknown = client.post("/reset", data={"email": "nobody@example.org"}, follow_redirects=True)
    assert page(known) == page(unknown)
