"""Reads stay reads: every GET route, asked by each role over the demo's books, issues no INSERT, UPDATE or
DELETE (issue 20). The fund, its rules and its chart are made by ``flask fund init``, an application's draft
by the member's first save, and nothing a page shows is written by showing it.

The routes come from the app's URL map, so a new GET route is covered as soon as it exists; its path
arguments are filled with real ids of the demo (``REAL``) or every value the route knows (``EVERY``).
The statements are seen by an SQLAlchemy ``before_cursor_execute`` listener on the engine, the last place
before the database, so no write can hide behind a service or a raw ``text()`` query.

Writes a GET still makes on purpose are named in ``ALLOWED`` with the reason, each tied to the table it
writes; everything else fails the test with the URL and the statement. Two GETs write by design and are
outside what this test asks: following a real emailed link (``/donor/link/<token>``, ``/register/<token>``)
signs in or confirms, once (the test follows made-up tokens; the donor's real link is followed before the
watch starts), and a trustee's session restored without its second factor is ended (``policy``), a
sign-out, which no session signed in here lacks.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import url_for

from fundapp.accounts.models import User
from fundapp.applications.models import Application, ApplicationDocument
from fundapp.applications.states import OPEN
from fundapp.demo import DEMO_USERS
from fundapp.donations.models import Donation, Donor
from fundapp.extensions import db
from fundapp.reporting import documents as report_documents
from fundapp.reporting import exports as report_exports
from fundapp.reporting.views import DASHBOARD_CHARTS
from tests.conftest import PASSWORD, run_worker_once, sign_in

ROLES = ("anonymous", "donor", "member", "trustee", "treasurer")

WRITE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE|REPLACE|UPSERT|MERGE|TRUNCATE)\b",
                   re.IGNORECASE | re.DOTALL)

#: Writes a GET makes on purpose, as (endpoint or "*", table): the reason is the value. Kept to the minimum.
ALLOWED = {
    ("*", "user_sessions"): "a signed-in session's last_seen_at (the idle timeout), written at most once a "
                            "minute (accounts.services.SEEN_EVERY), not by the page",
    ("applications.document", "audit_records"): "every view of a member's document is on the audit trail: who "
                                                 "saw which private paper, and when",
    ("applications.my_data", "audit_records"): "a person's download of everything held about them is on the "
                                               "audit trail",
}

#: Arguments no demo id fills: every value the route serves. One-time tokens are made up (a real emailed
#: link is an action, not a read: following it signs in or confirms, once), so those pages show "expired".
EVERY = {
    "kind": list(report_documents.KINDS),
    "table": list(report_exports.TABLES),
    "filename": ["favicon.svg"],
}
MADE_UP_TOKEN = "not-a-real-token-0000000000000000"


class WriteWatch:
    """Every INSERT/UPDATE/DELETE the engine sends while watching, with the URL being asked, from this thread
    (the test client's requests run in it; the local Stripe's webhooks reach the live server in another, and
    are Stripe's POSTs, not the page's doing)."""

    def __init__(self, engine):
        self.engine = engine
        self.thread = threading.get_ident()
        self.writes: list[tuple[str, str, str]] = []  # (endpoint, url, statement)
        self.asking = ("", "")

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == self.thread and WRITE.match(statement):
            self.writes.append((*self.asking, " ".join(statement.split())[:200]))

    @contextmanager
    def watching(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield self
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", self._seen)


def table_of(statement: str) -> str:
    found = re.search(r"\b(?:INTO|UPDATE|FROM)\s+\"?(\w+)\"?", statement, re.IGNORECASE)
    return found.group(1) if found else "?"


def unexplained(writes) -> list[str]:
    return [f"{url}: {statement}" for endpoint, url, statement in writes
            if ("*", table_of(statement)) not in ALLOWED and (endpoint, table_of(statement)) not in ALLOWED]


def real_ids(fund) -> dict:
    """From the demo: a member with a paid grant and nothing open (so /apply shows its empty form), their
    application and user, the demo's lease (a document), a gift of the demo donor and its thanks token."""
    open_members = db.select(Application.member_id).where(Application.status.in_(OPEN))
    paid = db.session.scalars(db.select(Application).where(
        Application.fund_id == fund.id, Application.status == "paid", Application.member_id.not_in(open_members))
        .order_by(Application.id)).first()
    document = db.session.scalars(db.select(ApplicationDocument).order_by(ApplicationDocument.id)).first()
    donor = db.session.scalar(db.select(Donor).filter_by(email=DEMO_USERS[4][0]))
    gift = db.session.scalars(db.select(Donation).filter_by(donor_id=donor.id).order_by(Donation.id)).first()
    member = db.session.get(User, paid.applicant_id)
    return {"application_id": paid.id, "user_id": member.id, "document_id": document.id, "donation_id": gift.id,
            "year": (gift.settled_at or gift.created_at).year, "token": gift.token,
            "member_email": member.email, "donor_email": donor.email}


def get_urls(app, ids) -> list[tuple[str, str]]:
    """(endpoint, url) for every GET route, once per value of an argument that has several."""
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        choices = [{}]
        for argument in sorted(rule.arguments):
            if argument == "name":
                values = list(DASHBOARD_CHARTS) if rule.endpoint == "reporting.dashboard_chart" else \
                    ["periods", "categories"]
            elif argument == "token" and rule.endpoint in ("donations.thanks", "donations.thanks_status",
                                                           "donations.receipt"):
                values = [ids["token"]]
            elif argument == "token":
                values = [MADE_UP_TOKEN]
            elif argument in EVERY:
                values = EVERY[argument]
            else:
                values = [ids[argument]]
            choices = [{**chosen, argument: value} for chosen in choices for value in values]
        with app.test_request_context():
            urls.extend((rule.endpoint, url_for(rule.endpoint, **chosen)) for chosen in choices)
    return urls


def sign_in_as(role: str, client, ids, smtp) -> None:
    if role == "donor":
        client.post("/donor/login", data={"email": ids["donor_email"]})  # the emailed sign-in link
        run_worker_once()
        link = re.search(r"https?://[^/\s]+(/donor/link/\S+)", smtp.messages[-1].get_body(("plain",)).get_content()).group(1)
        client.get(link)
        assert client.get("/donor/").status_code == 200
    elif role != "anonymous":
        email = {"member": ids["member_email"], "trustee": "tom@example.org", "treasurer": "tess@example.org"}[role]
        assert sign_in(client, email, PASSWORD).status_code == 302


@pytest.mark.no_worker  # the worker writes (events, mail, heartbeat) by design, and not on anyone's GET
@pytest.mark.parametrize("role", ROLES)
def test_no_get_route_writes(app, client, fund, demo_fund, smtp, localstripe, role):
    ids = real_ids(fund)
    sign_in_as(role, client, ids, smtp)
    applications_before = db.session.scalar(db.select(db.func.count(Application.id)))
    watch = WriteWatch(db.engine)
    answered = {}
    with watch.watching():
        for endpoint, url in get_urls(app, ids):
            watch.asking = (endpoint, url)
            answered[url] = client.get(url).status_code
    assert unexplained(watch.writes) == []
    assert db.session.scalar(db.select(db.func.count(Application.id))) == applications_before
    failed = {url: status for url, status in answered.items() if status >= 500 and url != "/healthz"}
    assert failed == {}  # (/healthz answers 503 here: no worker has written its heartbeat)
    if role == "member":
        assert answered["/apply"] == 200  # the empty form, no draft made
    if role == "trustee":
        assert answered[f"/documents/{ids['document_id']}"] == 200  # the audited read did happen


def test_the_watch_sees_a_write(app, client, fund, demo_fund):
    """The listener is not blind: a member's first save on /apply (a POST) makes the draft, and it is seen."""
    ids = real_ids(fund)
    sign_in(client, ids["member_email"], PASSWORD)
    watch = WriteWatch(db.engine)
    with watch.watching():
        watch.asking = ("applications.apply", "/apply")
        response = client.post("/apply", data={"category": "food", "amount": "50.00", "save": "1"})
    assert response.status_code == 302
    assert any(table_of(statement) == "applications" and statement.upper().startswith("INSERT")
               for _endpoint, _url, statement in watch.writes)
    assert unexplained(watch.writes) != []


def test_a_page_before_fund_init_says_to_run_it(app, client):
    """No fund: the pages answer 503 naming the command, and create nothing."""
    from tests.conftest import empty_all_tables

    empty_all_tables()
    watch = WriteWatch(db.engine)
    with watch.watching():
        response = client.get("/")
    assert response.status_code == 503
    assert b"flask --app wsgi fund init" in response.data
    assert watch.writes == []
    assert db.session.scalar(db.select(db.func.count()).select_from(sa.table("funds"))) == 0
