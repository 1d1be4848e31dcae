"""The donor portal: an emailed one-time link, own gifts only, statements, stopping a monthly gift;
and year-end statements mailed once each, even when the run is interrupted."""
from __future__ import annotations

import io
import re
from datetime import date

from pypdf import PdfReader

from fundapp.donations import booking, giving, receipts
from fundapp.donations.models import MonthlyGift, StatementSent
from fundapp.extensions import db
from fundapp.mail import OutboxMessage
from tests.conftest import run_worker_once
from tests.donations.helpers import fact


def gift(fund, charge_id, email, day, cents=2_500, **extra):
    donor = giving.find_or_create_donor(fund, email, email.split("@")[0].title())
    pending = giving.start_donation(fund, giving.GiftRequest(amount_cents=cents, monthly=False, cover_fee=False,
                                                                 name=donor.name, email=email))
    db.session.commit()
    done = booking.record_settled_payment(fund, fact(charge_id=charge_id, gross=cents, fee=0, day=day,
                                                      metadata={"donation": pending.token}, **extra))
    db.session.commit()
    return done


def without_token(page: str) -> str:
    tokens = re.findall(r'name="csrf_token"[^>]*?value="([^"]+)"', page)
    assert tokens, "the page has a form"
    for token in tokens:
        page = page.replace(token, "CSRF")
    return page


def link_from_outbox(to: str) -> str:
    body = db.session.scalars(db.select(OutboxMessage.body).filter_by(to_address=to)
                              .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"https?://[^/\s]+(/donor/link/\S+)", body).group(1)


def test_donor_signs_in_by_a_one_time_link_and_sees_only_their_own_gifts(client, fund):
    mine = gift(fund, "ch_p1", "dana@example.org", date(2026, 3, 1))
    gift(fund, "ch_p2", "dana@example.org", date(2026, 9, 1), cents=4_000)
    theirs = gift(fund, "ch_p3", "other@example.org", date(2026, 3, 2))
    assert client.get("/donor/").headers["Location"].endswith("/donor/login")
    unknown = client.post("/donor/login", data={"email": "nobody@example.org"}).get_data(as_text=True)
    known = client.post("/donor/login", data={"email": "Dana@Example.org"}).get_data(as_text=True)
    # the same page either way (the CSRF token carries the second it was made: two requests may straddle one)
    assert without_token(unknown.replace("nobody@example.org", "Dana@Example.org")) == without_token(known)
    run_worker_once()  # the worker answers the requests, off the page
    assert "a sign-in link is on its way" in unknown and "a sign-in link is on its way" in known  # says nothing
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id)).filter_by(
        to_address="nobody@example.org")) == 0
    link = link_from_outbox("dana@example.org")
    assert client.get(link).headers["Location"].endswith("/donor/")
    page = client.get("/donor/").get_data(as_text=True)
    assert mine.receipt_number in page and "$40.00" in page and theirs.receipt_number not in page
    own = client.get(f"/donor/receipt/{mine.id}.pdf")
    assert own.status_code == 200 and mine.receipt_number in PdfReader(io.BytesIO(own.data)).pages[0].extract_text()
    assert client.get(f"/donor/receipt/{theirs.id}.pdf").status_code == 404  # another donor's: never data
    statement = PdfReader(io.BytesIO(client.get("/donor/statement/2026.pdf").data)).pages[0].extract_text()
    assert "Your gifts in 2026" in statement and re.search(r"Total\s+65.00 USD", statement)
    assert client.get("/donor/statement/2019.pdf").status_code == 404
    client.post("/donor/logout")
    used = client.get(link)
    assert used.status_code == 400 and "already been used" in used.get_data(as_text=True)
    assert client.get("/donor/").status_code == 302


def test_donor_stops_a_monthly_gift_through_stripe(client, fund, localstripe, api):
    from tests.donations.helpers import give, settled

    donation, _ = give(client, frequency="monthly", amount="1000")
    first = settled(donation.id)
    monthly = db.session.scalar(db.select(MonthlyGift))
    assert monthly is not None and monthly.ended_at is None and monthly.amount_cents == 1_000
    client.post("/donor/login", data={"email": "dana@example.org"})
    run_worker_once()
    client.get(link_from_outbox("dana@example.org"))
    assert "Stop this monthly gift" in client.get("/donor/").get_data(as_text=True)
    asked = client.post(f"/donor/monthly/{monthly.id}/stop").get_data(as_text=True)
    assert "Your monthly gift of $10.00 stops now" in asked and 'name="confirmed" value="yes"' in asked
    assert api.subscriptions.retrieve(first.stripe_subscription_id).status != "canceled"  # not before confirming
    done = client.post(f"/donor/monthly/{monthly.id}/stop", data={"confirmed": "yes"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Your monthly gift is stopped." in done
    assert api.subscriptions.retrieve(first.stripe_subscription_id).status == "canceled"
    db.session.refresh(monthly)
    assert monthly.ended_at is not None


def test_send_statements_mails_each_donor_once_even_after_an_interruption(runner, fund, smtp):
    for n, email in enumerate(["a@example.org", "b@example.org", "c@example.org"]):
        gift(fund, f"ch_s{n}", email, date(2026, 5, 1 + n))
    gift(fund, "ch_other_year", "d@example.org", date(2025, 12, 31))
    # An earlier run stopped after the first donor:
    receipts.send_statement(fund, giving.find_or_create_donor(fund, "a@example.org", ""), 2026)
    db.session.commit()
    result = runner.invoke(args=["fund", "send-statements", "--year", "2026"])
    assert result.exit_code == 0 and "Queued 2 statements for 2026" in result.output
    again = runner.invoke(args=["fund", "send-statements", "--year", "2026"])
    assert "already has their statement" in again.output
    assert not smtp.arrived  # the command only queues: the worker mails
    assert runner.invoke(args=["fund", "worker", "--once"]).exit_code == 0
    statements = [m for m in smtp.messages if "in 2026" in m["Subject"]]
    assert sorted(m["To"] for m in statements) == ["a@example.org", "b@example.org", "c@example.org"]
    assert db.session.scalar(db.select(db.func.count(StatementSent.id))) == 3
    attachment = next(statements[0].iter_attachments())
    assert attachment.get_filename() == "statement-2026.pdf"
