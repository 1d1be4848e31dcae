"""A refund in the browser: the treasurer types the amount (nothing is prefilled), a second page restates the
gift and what the donor gets back, and no money moves at Stripe or in the books until that page is submitted."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from fundapp.donations.models import Donation, DonationStatus
from fundapp.extensions import db
from tests.conftest import wait_for
from tests.donations.test_webhook import books, pay, pending_gift
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.test_member_journey import shot


def test_a_refund_waits_for_its_confirmation(live_server, phone, fund, create_user, localstripe, api):
    donation = pending_gift(fund, cents=6_000)
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")
    before = books(fund)
    assert before == (1, -6_000, 6_000)

    page = phone
    sign_in_as(page, live_server, "tess@example.org")
    page.goto(live_server + "/admin/donations/")
    amount = page.get_by_label("Refund (up to $60.00)")
    expect(amount).to_have_value("")  # nothing prefilled: the treasurer says how much
    amount.fill("25")
    page.get_by_role("button", name="Refund through Stripe").click()

    expect(page.get_by_role("heading", name="Refund this gift?")).to_be_visible()
    what = page.locator("#confirm-form").locator("xpath=..")
    expect(what).to_contain_text(re.compile(r"Refund \$25\.00 of the \$60\.00 gift from Kim received on"))
    expect(what).to_contain_text("Stripe sends $25.00 back to the donor's card")
    expect(what).to_contain_text("corrected receipt for $35.00")
    expect(what).to_contain_text("This cannot be undone.")
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, "53-confirm-refund")
    # The first step moved nothing: not at Stripe, not in the books.
    assert books(fund) == before
    assert db.session.get(Donation, donation.id).refunded_cents == 0
    charge = api.payment_intents.retrieve(db.session.get(Donation, donation.id).stripe_payment_intent_id).latest_charge
    charge_id = charge if isinstance(charge, str) else charge.id
    assert api.refunds.list(params={"charge": charge_id}).data == []

    page.get_by_role("button", name="Refund $25.00").click()
    expect(page.get_by_text("Refunded.")).to_be_visible()
    assert wait_for(lambda: db.session.get(Donation, donation.id).refunded_cents == 2_500)
    refunded = db.session.get(Donation, donation.id)
    assert refunded.status == DonationStatus.PARTIALLY_REFUNDED
    assert wait_for(lambda: books(fund) == (2, -3_500, 3_500))
    assert [r.amount for r in api.refunds.list(params={"charge": charge_id}).data] == [2_500]
    assert page.problems == []
