"""Odd input gets a clear answer, never a 500 (issue 18, item 5, and the download part of item 3): names in
any script in downloads, digits of any script in codes, integers beyond the database's, control characters
in redirects, a signed webhook body that is not an event, and a runway for any amount."""
from __future__ import annotations

import io
import json
import re
import time
from datetime import date
from urllib.parse import unquote

import stripe

from fundapp.applications.models import ApplicationDocument
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.reporting.figures import RUNWAY_MAX_DAYS, runway
from tests.conftest import PASSWORD, WEBHOOK_SECRET, authenticator_code, sign_in
from tests.factories import PDF, send, striker


def test_a_document_named_in_any_script_downloads_with_a_latin1_header(client, create_user, roster):  # noqa: F811
    name = "Recibo de luz – junio Łódź 東京 🏠.pdf"
    striker(client, create_user, roster)
    sent = send(client, amount="100", documents=(io.BytesIO(PDF), name))
    assert sent.status_code == 302, re.findall(r'class="error[^"]*"[^>]*>([^<]+)', sent.get_data(as_text=True))
    document = db.session.scalar(db.select(ApplicationDocument))
    response = client.get(f"/documents/{document.id}")
    assert response.status_code == 200 and response.data == PDF
    header = response.headers["Content-Disposition"]
    header.encode("latin-1")  # what a server (gunicorn) requires of every header
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]  # for old clients: plain ASCII
    assert fallback.isascii() and fallback.startswith("Recibo de luz") and fallback.endswith(".pdf")
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="document.view")) == 1


def test_a_code_typed_with_arabic_indic_digits_signs_in(client, create_user):
    create_user("tom@example.org", "trustee")
    assert client.post("/login", data={"email": "tom@example.org", "password": PASSWORD}).status_code == 302
    code = authenticator_code("tom@example.org")
    arabic = "".join(chr(0x660 + int(digit)) for digit in code)
    assert client.post("/login/code", data={"code": arabic}).status_code == 302
    assert client.get("/review/").status_code == 200
    client.post("/logout")
    client.post("/login", data={"email": "tom@example.org", "password": PASSWORD})
    assert client.post("/login/code", data={"code": "١٢٣٤٥٦"}).status_code == 422  # wrong, in the same script


def test_integers_beyond_the_database_in_the_query_are_ignored(client, create_user):
    create_user("tess@example.org", "treasurer", "trustee")
    sign_in(client, "tess@example.org")
    huge = str(2**70)
    for path in (f"/audit/?before={huge}", f"/audit/?actor={huge}", f"/admin/users?page={huge}",
                 f"/admin/donations/?page={huge}", "/audit/?before=-5"):
        assert client.get(path).status_code == 200, path


def test_a_next_link_with_a_line_break_is_not_followed(client, create_user):
    create_user("rosa@example.org", "applicant")
    response = client.post("/login?next=/my%0d%0aSet-Cookie:%20x=1",
                           data={"email": "rosa@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert "\r" not in response.headers["Location"] and "Set-Cookie" not in response.headers["Location"]


def test_a_signed_webhook_body_that_is_not_an_event_object_gets_400(client, fund, app):
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    for body in ("[]", "3", '"evt"', "{}", '{"id": 5, "type": []}'):
        header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET, timestamp=int(time.time()))
        response = client.post("/stripe/webhook", data=body.encode(), headers={"Stripe-Signature": header,
                                                                                "Content-Type": "application/json"})
        assert response.status_code == 400, (body, response.status_code)
    event = json.dumps({"id": "evt_ok", "type": "ping.test", "object": "event", "data": {"object": {}}})
    header = stripe.WebhookSignature.generate_signature_header(event, WEBHOOK_SECRET, timestamp=int(time.time()))
    assert client.post("/stripe/webhook", data=event.encode(), headers={"Stripe-Signature": header}).status_code == 200


def test_the_runway_stays_on_the_calendar_for_any_amount(client, create_user, fund):
    today = date(2026, 11, 30)
    assert runway(99_999_999_999_999, 1, 28, today) == date.fromordinal(today.toordinal() + RUNWAY_MAX_DAYS)
    assert runway(28_000, 1_000, 28, today) == date(2029, 1, 22)  # 784 days later
    ledger.post_entry(fund, entry_date=today, memo="a very large cheque", source_kind="t", source_id="big",
                      postings=[("Assets:Bank", 99_999_999_999_999), ("Income:Donations", -99_999_999_999_999)])
    ledger.post_entry(fund, entry_date=today, memo="a grant", source_kind="t", source_id="grant",
                      postings=[("Expenses:HardshipGrants", 100), ("Assets:Bank", -100)])
    db.session.commit()
    create_user("tess@example.org", "treasurer", "trustee")
    sign_in(client, "tess@example.org")
    assert client.get("/review/dashboard").status_code == 200


def test_an_offline_gift_above_the_configured_most_is_refused_and_nothing_is_kept(app, fund):
    from fundapp.donations import giving, offline
    from fundapp.donations.models import Donation
    from fundapp.funds import clock

    app.config["OFFLINE_GIFT_MAX_CENTS"] = 50_000_00
    try:
        offline.record_offline_gift(fund, name="Typo", email="t@example.org", amount_cents=999_999_999_999_99,
                                      received_on=clock.today(fund), method="cheque", postal_address="1 Main St")
    except giving.DonationError as exc:
        assert "A gift above $50,000.00 is refused here" in str(exc) and exc.field == "amount"
    else:
        raise AssertionError("a trillion-dollar cheque was recorded")
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 0
