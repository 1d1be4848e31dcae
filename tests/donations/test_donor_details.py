"""What the donor is told (issue 16, item 6): the tax statement of the fund's legal form on the donate page
and at Stripe Checkout, amounts in the fund's currency, the portal link in a monthly gift's receipt, and a
corrected receipt and statement after a lost card dispute."""
from __future__ import annotations

import html
import io
import re

import pytest
from pypdf import PdfReader

from fundapp.extensions import db
from tests.conftest import run_worker_once, wait_for

UNION_EN = "are not deductible as charitable contributions for federal income tax purposes"
UNION_ES = "no son deducibles como donaciones benéficas en el impuesto federal sobre la renta"
CHARITY_EN = "section 501(c)(3) of the Internal Revenue Code (EIN 98-7654321). Your contribution is tax-deductible"
CHARITY_ES = "sección 501(c)(3) del Código de Rentas Internas (EIN 98-7654321). Su contribución es deducible"


def set_fund(fund, **settings):
    for name, value in settings.items():
        setattr(fund, name, value)
    db.session.commit()


def donate_page(client, language="en") -> str:
    response = client.get("/donate", headers={"Accept-Language": language})
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def tax_box(page: str) -> str:
    """The conspicuous statement's paragraph on the page."""
    start = page.index('<p class="tax-statement"')
    return page[start:page.index("</p>", start)]


@pytest.mark.parametrize("language, expected, absent", [
    ("en", UNION_EN, "tax-deductible"),
    ("es", UNION_ES, "deducible en la medida"),
])
def test_a_union_fund_says_on_the_donate_page_that_gifts_are_not_deductible(client, fund, language, expected,
                                                                            absent):
    set_fund(fund, legal_form="501(c)(5)", legal_name="Local 7 Strike Fund")
    box = tax_box(donate_page(client, language))
    assert "<strong>" in box and expected in box and "Local 7 Strike Fund" in box
    assert absent not in box


@pytest.mark.parametrize("language, expected, absent", [
    ("en", CHARITY_EN, "not deductible"),
    ("es", CHARITY_ES, "no son deducibles"),
])
def test_a_charity_fund_says_on_the_donate_page_that_gifts_are_deductible(client, fund, language, expected, absent):
    set_fund(fund, legal_form="501(c)(3)", legal_name="Strikers' Families Trust", ein="98-7654321")
    box = tax_box(donate_page(client, language))
    assert expected in box and "Strikers' Families Trust" in box
    assert absent not in box


@pytest.mark.parametrize("language, button, other_label", [
    ("en", "€25.00", "Another amount (euros)"),
    ("es", "EUR25.00", "Otra cantidad (euros)"),  # what Babel's es_US gives for euros, as on every other page
])
def test_a_euro_fund_shows_its_amounts_in_euros(client, fund, language, button, other_label):
    set_fund(fund, currency="EUR")
    page = donate_page(client, language)
    buttons = page[page.index('<legend>'):page.index("</fieldset>")]
    assert button in buttons and "$" not in buttons
    assert other_label in page
    assert "$25" not in page  # the card fee example too


def test_a_dollar_fund_shows_its_amounts_in_dollars(client, fund):
    page = donate_page(client)
    buttons = page[page.index('<legend>'):page.index("</fieldset>")]
    assert "$25.00" in buttons and "$250.00" in buttons and "€" not in buttons
    assert "Another amount (US dollars)" in page


def checkout_params(app, fund, *, monthly: bool, language: str) -> dict:
    """The parameters the donate view sends to Stripe for a new gift, built by the same code (the local Stripe
    server has no Checkout Sessions, so the request itself cannot be made here)."""
    from fundapp.donations import giving, views
    from fundapp.payments import checkout

    with app.test_request_context("/donate", method="POST", headers={"Accept-Language": language}):
        donation = giving.start_donation(fund, giving.GiftRequest(
            amount_cents=2_500, monthly=monthly, cover_fee=True, name="Kim", email="kim@example.org",
            language=language))
        return checkout.checkout_session_params(**views.checkout_details(fund, donation))


@pytest.mark.parametrize("monthly, mode", [(False, "payment"), (True, "subscription")])
def test_checkout_shows_the_gift_as_a_donation_once_or_monthly(app, fund, monthly, mode):
    params = checkout_params(app, fund, monthly=monthly, language="en")
    assert params["mode"] == mode and params["submit_type"] == "donate"


@pytest.mark.parametrize("legal_form, language, expected", [
    ("501(c)(5)", "en", UNION_EN), ("501(c)(5)", "es", UNION_ES),
    ("501(c)(3)", "en", CHARITY_EN), ("501(c)(3)", "es", CHARITY_ES),
])
def test_checkout_carries_the_tax_statement_beside_the_pay_button(app, fund, legal_form, language, expected):
    set_fund(fund, legal_form=legal_form, ein="98-7654321")
    params = checkout_params(app, fund, monthly=True, language=language)
    message = params["custom_text"]["submit"]["message"]
    assert expected in message and fund.legal_name in message and len(message) <= 1200


def test_the_checkout_params_are_ones_the_pinned_stripe_api_takes(app, fund):
    """Checked against the SDK's own schema of the pinned version (its typed request parameters)."""
    from stripe.params.checkout import SessionCreateParams
    from stripe.params.checkout._session_create_params import SessionCreateParamsCustomText

    params = checkout_params(app, fund, monthly=True, language="en")
    assert set(params) <= set(SessionCreateParams.__annotations__)
    assert set(params["custom_text"]) <= set(SessionCreateParamsCustomText.__annotations__)


def test_a_statement_stripe_would_cut_short_is_refused(app):
    from fundapp.payments import checkout

    details = dict(amount_cents=2_500, fee_cover_cents=0, currency="USD", monthly=False, gift_label="Gift",
                   fee_label="Fee", metadata={}, email="kim@example.org", locale="en", success_url="https://x.test/",
                   cancel_url="https://x.test/")
    assert checkout.checkout_session_params(**details, statement="x" * 1200)["custom_text"]["submit"]["message"]
    with pytest.raises(ValueError):
        checkout.checkout_session_params(**details, statement="x" * 1201)


# --- the portal link in a monthly gift's receipt ---------------------------------------------------------


def give_by_card(client, card="4242424242424242", **changes):
    """The donate form and local mode's test checkout, as a donor fills them; returns the donation's id."""
    from fundapp.donations.models import Donation

    response = client.post("/donate", data={"amount": "2500", "frequency": "one_time", "name": "Dana Donor",
                                            "email": "dana@example.org", "dedication_kind": "", **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    checkout = response.headers["Location"]
    paid = client.post(checkout, data={"card_number": card, "expiry": "12/34", "cvc": "123", "attempt": "a1"})
    assert paid.status_code == 302
    return db.session.scalar(db.select(Donation.id).filter_by(token=checkout.rstrip("/").split("/")[-1]))


def settled_gifts(count: int):
    """The settled gifts, once ``count`` have been booked from the local Stripe server's webhooks (applied here:
    these tests run no worker thread, so the outbox has one sender, as SQLite needs)."""
    from fundapp.donations import events
    from fundapp.donations.models import Donation, DonationStatus

    def booked():
        events.apply_waiting_events()
        found = db.session.scalars(db.select(Donation).filter_by(status=DonationStatus.SUCCEEDED)
                                   .order_by(Donation.id)).all()
        return len(found) >= count and found

    return wait_for(booked)


def arrived(smtp, count: int):
    """What the SMTP server has received after the outbox is sent (SMTP hands it over before it answers)."""
    from fundapp.mail import deliver_pending

    deliver_pending(now=True)
    return smtp.messages


@pytest.mark.no_worker
def test_each_monthly_receipt_mail_links_to_the_donor_page_to_stop_the_gift(app, client, fund, localstripe, api,
                                                                           smtp):
    app.config["BASE_URL"] = "https://give.local7.example.org"  # the public address, not the request's host
    give_by_card(client, frequency="monthly", amount="1000")
    first = settled_gifts(1)[0]
    subscription = api.subscriptions.retrieve(first.stripe_subscription_id)
    renewal = api.invoices.create(params={"customer": subscription.customer, "subscription": subscription.id})
    api.invoices.pay(renewal.id)
    assert settled_gifts(2), "the renewal was not booked"
    mails = arrived(smtp, 2)
    assert len(mails) == 2
    link = "https://give.local7.example.org/donor/login"
    for mail in mails:
        assert mail["Subject"].startswith("Thank you: receipt")
        assert f"To stop it, or to see your gifts and receipts, sign in to your donor page: {link}" in \
            mail.get_body(("plain",)).get_content()
    assert "Email me a sign-in link" in client.get("/donor/login").get_data(as_text=True)  # where it leads


@pytest.mark.no_worker
def test_a_one_time_gift_mail_has_no_monthly_link_and_a_spanish_monthly_one_is_in_spanish(client, fund,
                                                                                         localstripe, smtp):
    give_by_card(client)
    client.post("/language", data={"language": "es"})
    give_by_card(client, frequency="monthly", amount="1000", email="ana@example.org", name="Ana")
    settled_gifts(2)
    mails = {mail["To"]: mail.get_body(("plain",)).get_content() for mail in arrived(smtp, 2)}
    assert "/donor/login" not in mails["dana@example.org"]
    assert "Su donación se repite cada mes. Para detenerla" in mails["ana@example.org"]
    assert "http://127.0.0.1:5000/donor/login" in mails["ana@example.org"]  # BASE_URL's default


# --- a lost card dispute: a corrected receipt and statement ------------------------------------------------


DISPUTED_CARD = "4000000000000259"  # paid, then disputed by the cardholder (the local Stripe server, as Stripe's test mode)


def dispute_applied(api, status: str):
    """The gift's dispute at the local Stripe server once its events with ``status`` are applied here (these
    tests run no worker thread: the outbox has one sender, as SQLite needs)."""
    from fundapp.donations import events
    from fundapp.donations.models import StripeEvent

    def applied():
        events.apply_waiting_events()
        disputes = api.disputes.list().data
        kind = "charge.dispute.funds_withdrawn" if status == "needs_response" else "charge.dispute.closed"
        done = db.session.scalar(db.select(db.func.count()).select_from(StripeEvent).where(
            StripeEvent.type == kind, StripeEvent.processed_at.is_not(None)))
        return disputes and disputes[0].status == status and done and disputes[0]
    return wait_for(applied, timeout=15)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def receipt_of(mail) -> tuple[str, bytes]:
    attachment = next(mail.iter_attachments())
    return attachment.get_filename(), attachment.get_content()


def two_gifts(client, card="4242424242424242"):
    """$100 (paid with ``card``) and $25 from the same donor; returns the $100 gift."""
    give_by_card(client, card=card, amount="10000")
    give_by_card(client, amount="2500")
    gifts = settled_gifts(2)
    assert gifts and len(gifts) == 2
    return next(g for g in gifts if g.gross_cents == 10_000)


def statement_total(fund, donor, year) -> str:
    from fundapp.donations import receipts

    text = pdf_text(receipts.statement_for(fund, donor, year))
    return text.split("Total", 1)[1].split("USD", 1)[0].split()[-1], text


@pytest.mark.no_worker
def test_a_lost_dispute_mails_a_corrected_receipt_and_lowers_the_year_end_statement(client, fund, localstripe,
                                                                                    api, smtp):
    from fundapp.donations.models import Donation, DonationStatus
    from fundapp.ledger import services as ledger
    from tests.donations.helpers import deliver

    gift = two_gifts(client, card=DISPUTED_CARD)
    assert len(arrived(smtp, 2)) == 2  # the two thank-you receipts
    assert statement_total(fund, gift.donor, gift.receipt_year)[0] == "125.00"

    opened = dispute_applied(api, "needs_response")
    db.session.refresh(gift)
    assert gift.disputed_cents == 0 and gift.status == DonationStatus.SUCCEEDED  # open: not decided yet
    assert len(arrived(smtp, 3)) == 2

    api.disputes.close(opened.id)  # the fund accepts it: lost
    dispute_applied(api, "lost")
    deliver(client, "charge.dispute.closed", {"id": opened.id, "object": "dispute"}, event_id="evt_dp_again")
    mails = arrived(smtp, 3)
    assert len(mails) == 3, "one corrected receipt, however often Stripe says the dispute is lost"
    corrected = mails[-1]
    assert corrected["Subject"] == f"Corrected receipt {gift.receipt_number} from {fund.name}"
    assert "$100.00 of it went back to the card and was not received" in corrected.get_body(("plain",)).get_content()
    filename, pdf = receipt_of(corrected)
    assert filename == f"receipt-{gift.receipt_number}.pdf"  # the same receipt, corrected
    text = pdf_text(pdf)
    assert "Corrected receipt (a card dispute was lost)" in text and gift.receipt_number in text
    assert "Disputed and lost: not received\n-100.00 USD" in text and "Contribution\n0.00 USD" in text

    db.session.refresh(gift)
    assert (gift.disputed_cents, gift.status) == (10_000, DonationStatus.DISPUTE_LOST)
    total, statement = statement_total(fund, gift.donor, gift.receipt_year)
    assert total == "25.00" and "Disputed and lost" in statement
    # The gifts' figures agree with the books: what they kept is what Income:Donations holds.
    kept = sum(d.gross_cents - d.refunded_cents - d.disputed_cents for d in db.session.scalars(db.select(Donation)))
    assert kept == -ledger.balance(fund, "Income:Donations") == 2_500
    from fundapp.reporting.exports import donor_records

    assert [record[3] for record in donor_records(fund)] == [2_500]  # the treasurer's donor list agrees
    client.post("/donor/login", data={"email": "dana@example.org"})
    run_worker_once()
    link = re.search(r"https?://[^/\s]+(/donor/link/\S+)",
                     arrived(smtp, 4)[-1].get_body(("plain",)).get_content()).group(1)
    client.get(link)
    assert "(disputed and lost $100.00)" in client.get("/donor/").get_data(as_text=True)


@pytest.mark.no_worker
def test_a_won_dispute_changes_neither_the_receipt_nor_the_statement(client, fund, localstripe, api, smtp):
    gift = two_gifts(client, card=DISPUTED_CARD)
    receipt_before = pdf_text(receipt_of(arrived(smtp, 2)[0])[1])
    opened = dispute_applied(api, "needs_response")
    api.disputes.update(opened.id, params={"evidence": {"uncategorized_text": "winning_evidence"}})
    assert dispute_applied(api, "won")
    from fundapp.ledger import services as ledger
    from fundapp.ledger.models import JournalEntry

    assert db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(source_kind="stripe.dispute")) == 2
    assert ledger.balance(fund, "Income:Donations") == -12_500  # withdrawn, then reinstated: the gift counts
    assert len(arrived(smtp, 3)) == 2
    db.session.refresh(gift)
    assert gift.disputed_cents == 0 and "Disputed" not in receipt_before
    assert statement_total(fund, gift.donor, gift.receipt_year)[0] == "125.00"
