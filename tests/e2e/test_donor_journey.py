"""A donor on a phone in local mode: $50 a month with the fee covered, through the TEST MODE checkout;
the thanks page turns to "received", the receipt mail arrives with its PDF; every page passes axe-core."""
from __future__ import annotations

import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader

from fundapp.donations.models import Donation
from fundapp.extensions import db
from tests.conftest import wait_for
from tests.e2e.conftest import axe_violations
from tests.e2e.helpers import shot


def test_donor_gives_monthly_with_the_fee_covered_and_gets_a_receipt(live_server, phone, fund, localstripe, smtp):
    page = phone
    page.goto(live_server + "/")
    assert axe_violations(page) == []
    page.locator("main").get_by_role("link", name="Give now").click()
    expect(page.get_by_role("heading", name="Give to the strike fund")).to_be_visible()
    shot(page, "20-donate")
    assert axe_violations(page) == []

    page.get_by_label("$50").check()
    page.get_by_label("Every month, until I stop it").check()
    page.get_by_label("Add the card fee, so the fund receives my whole gift").check()
    page.get_by_label("Your name").fill("Pat Picket")
    page.get_by_label("Email address").fill("pat@example.org")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay $51.81 every month")).to_be_visible()  # ceil((5000 + 30) / 0.971)
    assert axe_violations(page) == []
    shot(page, "21-test-checkout")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay (test mode)").click()

    expect(page.get_by_text("Received: $51.81")).to_be_visible(timeout=15_000)  # the page refreshes itself
    shot(page, "22-thanks")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your receipt (PDF)").click()
    receipt = PdfReader(download.value.path()).pages[0].extract_text()
    assert "51.81 USD" in receipt and "monthly gift" in receipt

    donation = wait_for(lambda: db.session.scalar(db.select(Donation)))
    assert donation.frequency == "monthly" and donation.gross_cents == 5_181
    mail = wait_for(lambda: smtp.messages)
    assert mail and mail[0]["To"] == "pat@example.org"
    attachment = next(part for part in mail[0].iter_attachments())
    assert PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text() == receipt

    page.goto(live_server + "/")
    expect(page.get_by_text("$51.81").first).to_be_visible()

    # Later, the donor comes back for their receipts: a link by email, no password
    page.get_by_role("link", name="Your gifts and receipts").click()
    assert axe_violations(page) == []
    page.get_by_label("The email address you gave with").fill("pat@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    sign_in_mail = wait_for(lambda: [m for m in smtp.messages if "sign-in link" in m["Subject"]])
    link = re.search(r"http://\S+/donor/link/\S+", sign_in_mail[0].get_body(("plain",)).get_content()).group(0)
    page.goto(link.replace("http://127.0.0.1:5000", live_server))
    expect(page.get_by_role("heading", name="Your gifts, Pat Picket")).to_be_visible()
    expect(page.get_by_text(donation.receipt_number)).to_be_visible()
    expect(page.get_by_role("button", name="Stop this monthly gift")).to_be_visible()
    shot(page, "23-portal")
    assert axe_violations(page) == []
    assert page.problems == []
