"""The treasurer reconciles October with the bank on a phone: the statement uploaded, its lines matched (one by a
suggestion, one split, the fee booked), the report read, and the month closed as reconciled."""
from __future__ import annotations

import io

from playwright.sync_api import expect
from pypdf import PdfReader

from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.bank.conftest import DATA, books  # noqa: F401  (the fixture: October's books)
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot


def test_treasurer_reconciles_october_and_closes_it(live_server, phone, books, create_user):  # noqa: F811
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    page = phone
    sign_in_as(page, live_server, "tess@example.org")
    page.goto(f"{live_server}/admin/")
    page.get_by_role("link", name="Bank reconciliation").click()
    page.get_by_label("Statement file").set_input_files(str(DATA / "2026-10.ofx"))
    page.get_by_label("OFX or QFX").check()
    page.get_by_role("button", name="Import the statement").click()
    expect(page.get_by_text("Imported 7 bank lines from 2026-10-01 to 2026-10-31.")).to_be_visible()
    shot(page, "30-bank-imported")
    assert axe_violations(page) == []

    # The suggestions: payout, slip 12, cheque 2001, the Zelle payment; then the split, the fee and the interest.
    for memo in ("Stripe payout po_demo_1", "Bank deposit slip 12", "Grant payment to Ana Garcia (cheque 2001)",
                 "Grant payment to Luis Smith (zelle ZEL-77)"):
        page.get_by_role("button", name="Match with").filter(has_text=memo).first.click()
        expect(page.get_by_text("The bank line is matched.")).to_be_visible()
    deposit = page.locator("section.card", has_text="$200.00")
    deposit.get_by_text("Other ways").click()  # the pair is suggested; the treasurer ticks the two instead
    deposit.get_by_label("slip 13", exact=False).check()
    deposit.get_by_label("slip 14", exact=False).check()
    deposit.get_by_role("button", name="Match with the chosen entries").click()
    expect(page.get_by_text("The bank line is matched.")).to_be_visible()
    for _ in range(2):
        page.get_by_role("button", name="Book and match").first.click()
        expect(page.get_by_text("Booked in the books and matched.")).to_be_visible()
    expect(page.get_by_text("Reconciled.", exact=True)).to_be_visible()
    assert page.get_by_text("Not matched", exact=True).count() == 0
    shot(page, "31-bank-reconciled")
    assert axe_violations(page) == []

    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    text = PdfReader(io.BytesIO(open(download.value.path(), "rb").read())).pages[0].extract_text()
    assert "Reconciled: the difference is 0.00." in text and "Maria Nguyen (cheque 2002)" in text

    page.get_by_role("link", name="Books").click()
    expect(page.get_by_text("Reconciled with the statement ending 2026-10-31")).to_be_visible()
    page.get_by_label("Month to close").fill("2026-10")
    page.get_by_role("button", name="Close the month").click()
    expect(page.get_by_text("Reconciled with the statement ending 2026-10-31")).to_be_visible()  # said again
    page.get_by_role("button", name="Close 2026-10").click()
    expect(page.get_by_text("2026-10 is closed.")).to_be_visible()
    assert ledger.closed_months(books) == ["2026-10"]
    db.session.rollback()
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.close_month"))
    assert record.after["bank_reconciliation"]["reconciled"] is True
    assert page.problems == []
