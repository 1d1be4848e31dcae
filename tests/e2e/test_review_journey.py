"""Trustees on a phone work the queue: open a case, read the lease, ask a question, approve a large grant
with a second trustee, pay it; axe-core finds no violations on the queue and the case."""
from __future__ import annotations

import io

from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from fundapp.accounts import membership as roster_service
from fundapp.applications import documents as application_documents
from fundapp.applications import services as applications
from fundapp.applications.models import Application
from fundapp.applications.states import Status
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.conftest import wait_for
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot
from tests.factories import GOOD, PDF, fund_with


def test_two_trustees_take_a_large_case_to_paid(live_server, phone, fund, create_user):
    roster_service.import_roster(fund, GOOD.encode())
    rosa = create_user("rosa@example.org", "applicant", name="Rosa Núñez")
    roster_service.link_member(rosa, fund, member_id="A-1", last_name="Núñez")
    applications.update_rules(fund, actor=None, weekly_cap_cents=1_000_00, category_cap_cents=1_000_00)
    fund_with(fund, 500_000)
    draft = applications.start_or_resume(rosa, fund)
    applications.save_draft(draft, actor=rosa, category="rent", amount_requested_cents=70_000, household_size=3,
                            address="12 Mill St", payee_kind="landlord", payee_name="Mill St Rentals",
                            payee_details="Acct 7781", need="December rent is due.", attested=True)
    application_documents.add_documents(draft, [FileStorage(io.BytesIO(PDF), "lease.pdf")], actor=rosa)
    applications.submit(draft, actor=rosa, fund=fund)
    db.session.commit()
    case_id = draft.id
    create_user("tom@example.org", "trustee", name="Tom Trustee")
    create_user("tina@example.org", "trustee", name="Tina Trustee")

    page = phone
    sign_in_as(page, live_server, "tom@example.org")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_text("$5,000.00")).to_be_visible()
    assert axe_violations(page) == []
    shot(page, "40-queue")
    page.get_by_role("link", name=f"#{case_id}").click()
    with page.expect_download() as lease:
        page.get_by_role("link", name="lease.pdf").click()
    assert open(lease.value.path(), "rb").read() == PDF
    assert axe_violations(page) == []
    shot(page, "41-case")
    page.get_by_label("Ask the member a question").fill("Is the rent due on the 1st?")
    page.get_by_role("button", name="Send the question").click()
    expect(page.get_by_text("Your question is sent to the member.")).to_be_visible()
    application = wait_for(lambda: db.session.get(Application, case_id).status == Status.INFO_REQUESTED
                           and db.session.get(Application, case_id))
    applications.answer_question(application, "Yes, on the 1st.", actor=rosa, fund=fund)
    db.session.commit()
    page.reload()
    page.get_by_label("Criteria applied (kept in the case file)").fill("rent arrears; lease seen")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("needs another trustee's approval")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in_as(page, live_server, "tina@example.org")
    page.goto(f"{live_server}/review/{case_id}")
    expect(page.get_by_text("Tom Trustee: $700.00")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Your approval is recorded.")).to_be_visible()
    assert wait_for(lambda: ledger.available_to_grant(fund) == 500_000 - 70_000)
    page.get_by_label("Cheque number or reference").fill("1042")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_text("The payment is recorded in the books.")).to_be_visible()
    shot(page, "42-paid")
    assert axe_violations(page) == []
    assert wait_for(lambda: db.session.get(Application, case_id).status == Status.PAID)
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    assert page.problems == []
