"""The trustees' pages: the queue, the case, decisions and payments through the forms."""
from __future__ import annotations

import io

from fundapp.applications.models import Application
from fundapp.applications.services import update_rules
from fundapp.applications.states import Status
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.applications.test_applications import ANSWERS, PDF, roster, send, striker  # noqa: F401
from tests.conftest import sign_in
from tests.review.test_decisions import fund_with


def test_trustees_work_a_large_case_from_the_queue_to_paid(client, create_user, roster):  # noqa: F811
    fund = roster
    fund_with(fund, 500_000)
    update_rules(fund, actor=None, weekly_cap_cents=1_000_00, category_cap_cents=1_000_00)
    striker(client, create_user, roster)
    assert send(client, amount="700", documents=(io.BytesIO(PDF), "lease.pdf")).status_code == 302  # above $500
    application = db.session.scalar(db.select(Application))
    client.post("/logout")
    for email, name in (("tom@example.org", "Tom Trustee"), ("tina@example.org", "Tina Trustee")):
        create_user(email, "trustee", name=name)

    sign_in(client, "tom@example.org")
    queue = client.get("/review/").get_data(as_text=True)
    assert f"#{application.id}" in queue and "$700.00" in queue and "$5,000.00" in queue  # available to grant
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert "Mill St Rentals" in page and "lease.pdf" in page and "version 2" in page
    asked = client.post(f"/review/{application.id}/question", data={"body": "Is the rent due on the 1st?"},
                        follow_redirects=True)
    assert "Your question is sent to the member." in asked.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.INFO_REQUESTED
    application.status = Status.IN_REVIEW  # the member's answer is tested in tests/applications
    db.session.commit()
    first = client.post(f"/review/{application.id}/approve", data={"amount": "700", "criteria": "rent, lease seen"},
                        follow_redirects=True).get_data(as_text=True)
    assert "needs another trustee" in first
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    client.post("/logout")

    sign_in(client, "tina@example.org")
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert "Tom Trustee: $700.00" in page  # the second trustee sees the first's decision
    client.post(f"/review/{application.id}/approve", data={"amount": "700"})
    db.session.refresh(application)
    assert application.status == Status.APPROVED
    assert ledger.available_to_grant(fund) == 500_000 - 70_000
    paid = client.post(f"/review/{application.id}/pay", data={
        "amount": "700", "method": "cheque", "reference": "1042", "paid_on": "2026-11-27"}, follow_redirects=True)
    assert "The payment is recorded in the books." in paid.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.PAID
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0 and ledger.balance(fund, "Assets:Bank") == 430_000


def test_refusals_come_back_as_messages_and_change_nothing(client, create_user, roster):  # noqa: F811
    fund = roster
    fund_with(fund, 10_000)
    striker(client, create_user, roster)
    send(client, amount="250")
    application = db.session.scalar(db.select(Application))
    client.post("/logout")
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    broke = client.post(f"/review/{application.id}/approve", data={"amount": "250"}, follow_redirects=True)
    assert "available to grant, less than $250.00" in broke.get_data(as_text=True)
    bad = client.post(f"/review/{application.id}/approve", data={"amount": "lots"}, follow_redirects=True)
    assert "Write the amount in numbers" in bad.get_data(as_text=True)
    no_note = client.post(f"/review/{application.id}/deny", data={"reason": "other"}, follow_redirects=True)
    assert "Write a short note" in no_note.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == Status.SUBMITTED and ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    assert client.get("/review/999").status_code == 404
