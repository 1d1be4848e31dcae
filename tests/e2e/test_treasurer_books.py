"""The treasurer on a phone: the books page, a PDF download, closing a month; a trustee reads the audit trail."""
from __future__ import annotations

import io
from datetime import date

from playwright.sync_api import expect
from pypdf import PdfReader

from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot


def test_treasurer_prints_the_books_and_closes_a_month(live_server, phone, fund, create_user):
    create_user("tess@example.org", "treasurer", "trustee", name="Tess Treasurer")
    ledger.post_entry(fund, entry_date=date(2026, 10, 5), memo="Rally cheques", source_kind="t", source_id="1",
                      postings=[("Assets:Undeposited", 52_500), ("Income:Donations", -52_500)])
    db.session.commit()
    page = phone
    sign_in_as(page, live_server, "tess@example.org")
    page.get_by_role("link", name="Books").click()
    expect(page.get_by_text("$525.00").first).to_be_visible()
    shot(page, "10-books")
    assert axe_violations(page) == []

    page.get_by_label("Last day").fill("2026-10-31")
    with page.expect_download() as download:
        page.get_by_role("button", name="Trial balance").click()
    pdf = PdfReader(io.BytesIO(open(download.value.path(), "rb").read()))
    assert "Debits equal credits." in pdf.pages[0].extract_text()

    page.get_by_label("Month to close").fill("2026-10")
    page.get_by_role("button", name="Close the month").click()
    expect(page.get_by_text("From now on no entry can be dated in 2026-10")).to_be_visible()  # a second step
    assert ledger.closed_months(fund) == []
    page.get_by_role("button", name="Close 2026-10").click()
    expect(page.get_by_text("2026-10 is closed.")).to_be_visible()
    page.get_by_label("Month to reopen").fill("2026-10")
    page.get_by_role("button", name="Reopen the month").click()  # no reason: the browser asks for one
    assert page.get_by_label("Why it is reopened").evaluate("e => e.validity.valueMissing")
    assert ledger.closed_months(fund) == ["2026-10"]
    page.get_by_label("Why it is reopened").fill("A cheque from October turned up")
    page.get_by_role("button", name="Reopen the month").click()
    expect(page.get_by_text("2026-10 is open again.")).to_be_visible()
    assert ledger.closed_months(fund) == []
    shot(page, "11-books-reopened")
    assert axe_violations(page) == []

    page.get_by_role("link", name="Audit trail").click()
    expect(page.locator(".trail-item", has_text="closed a month").first).to_be_visible()
    page.get_by_label("What was done").select_option("ledger.post")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".changes", has_text="Rally cheques")).to_be_visible()
    assert page.locator(".trail-item", has_text="closed a month").count() == 0
    page.get_by_role("button", name="Check the chain").click()
    expect(page.get_by_text("The chain is intact")).to_be_visible()
    shot(page, "12-audit")
    assert axe_violations(page) == []
    assert page.problems == []
