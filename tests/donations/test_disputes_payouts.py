"""The treasurer's disputes and payouts pages (issue 17, item 5): the books' figures, Stripe's status, deadline,
arrival and the gifts a payout carried, with the real SDK against the local Stripe server; and the books'
figures alone when Stripe cannot be reached."""
from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import force_locale, format_date

from fundapp.bank.models import BankStatementLine
from fundapp.donations import giving
from fundapp.donations.models import Donation, DonationStatus
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.money import display_locale, format_cents
from tests.conftest import free_port, sign_in, wait_for

DISPUTED_CARD = "4000000000000259"  # the local Stripe server disputes a charge paid with it, as Stripe's test mode


def entries(kind):
    return db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(source_kind=kind))


def paid_gift(fund, api, cents, card="4242424242424242", email="kim@example.org"):
    """A gift paid through the SDK and booked by the webhook."""
    donation = giving.start_donation(fund, giving.GiftRequest(amount_cents=cents, monthly=False, cover_fee=False,
                                                                  name="Kim Donor", email=email))
    db.session.commit()
    method = api.payment_methods.create(params={"type": "card", "card": {
        "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_intents.create(params={"amount": cents, "currency": "usd", "payment_method": method.id,
                                       "confirm": True, "metadata": giving.checkout_metadata(donation)})
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED, timeout=15)
    return db.session.get(Donation, donation.id)


def treasurer(client, create_user):
    create_user("tess@example.org", "treasurer")
    assert sign_in(client, "tess@example.org").status_code == 302


def money(cents, language="en"):
    return format_cents(cents, "USD", display_locale(language))


def test_a_disputed_gift_shows_its_amount_fee_status_deadline_and_receipt_then_won(client, create_user, fund,
                                                                                    localstripe, api, runner):
    treasurer(client, create_user)
    gift = paid_gift(fund, api, 8_000, card=DISPUTED_CARD)
    assert wait_for(lambda: entries("stripe.dispute") == 1, timeout=15)
    dispute = api.disputes.list().data[0]
    due = datetime.fromtimestamp(dispute.evidence_details.due_by, UTC)

    page = client.get("/admin/donations/disputes")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert dispute.id in text and gift.stripe_charge_id in text
    assert money(8_000) in text and money(1_500) in text  # the amount and the $15 dispute fee, by the books
    assert "needs_response" in text and "Needs a response" in text
    assert f"Receipt {gift.receipt_number}" in text and f"/thanks/{gift.token}/receipt.pdf" in text
    with force_locale("en"):
        assert format_date(clock.local_date(fund, due), "long") in text  # the evidence deadline, on the fund's calendar
    assert "could not be asked" not in text and '<code class="small">won</code>' not in text

    client.post("/language", data={"language": "es"})
    spanish = client.get("/admin/donations/disputes").get_data(as_text=True)
    assert money(8_000, "es") in spanish and money(1_500, "es") in spanish and "Necesita una respuesta" in spanish
    client.post("/language", data={"language": "en"})

    assert runner.invoke(args=["fund", "test-dispute", dispute.id, "--won"]).exit_code == 0
    assert wait_for(lambda: entries("stripe.dispute") == 2, timeout=15)  # the reinstatement is booked
    text = client.get("/admin/donations/disputes").get_data(as_text=True)
    assert "<code class=\"small\">won</code>" in text and "needs_response" not in text
    assert f"given back {money(8_000)}" in text
    assert format_date(clock.local_date(fund, due), "long") not in text  # no evidence is due once it is decided


def test_a_payout_shows_its_amount_arrival_and_the_gifts_it_carried_and_no_other(client, create_user, fund,
                                                                                  localstripe, api):
    treasurer(client, create_user)
    first = paid_gift(fund, api, 9_000, email="first@example.org")
    early = api.payouts.create(params={"amount": 9_000, "currency": "usd"})
    assert wait_for(lambda: ledger.balance(fund, "Assets:Bank") == 9_000, timeout=15)
    second = paid_gift(fund, api, 4_000, email="second@example.org")
    late = api.payouts.create(params={"amount": 4_000, "currency": "usd"})
    assert wait_for(lambda: ledger.balance(fund, "Assets:Bank") == 13_000, timeout=15)

    page = client.get("/admin/donations/payouts")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "could not be asked" not in text
    # Newest first: each payout's section runs from its heading to the next.
    late_part, early_part = text.split(late.id)[1].split(early.id)
    assert money(4_000) in late_part and f"Receipt {second.receipt_number}" in late_part
    assert second.stripe_charge_id in late_part and first.stripe_charge_id not in late_part
    assert f"Receipt {first.receipt_number}" in early_part and second.stripe_charge_id not in early_part
    assert "Paid" in early_part and "Not yet matched to the bank statement" in early_part
    with force_locale("en"):
        arrival = format_date(datetime.fromtimestamp(api.payouts.retrieve(late.id).arrival_date, UTC).date(),
                              "long")
    assert arrival in late_part

    # The bank's statement shows the early payout: matched on /admin/bank, the payouts page says where
    from fundapp.bank import services as bank

    entry = db.session.scalar(db.select(JournalEntry).filter_by(source_kind="stripe.payout", source_id=early.id))
    statement = (f"Date,Description,Amount\n{entry.entry_date:%m/%d/%Y},STRIPE TRANSFER {early.id[-6:]},90.00\n")
    layout = bank.save_csv_format(fund, date_column="Date", date_format="%m/%d/%Y", description_column="Description",
                                  amount_column="Amount")
    bank.import_statement(fund, statement.encode(), filename="bank.csv", file_format="csv", layout=layout)
    line = db.session.scalar(db.select(BankStatementLine))
    bank.match_line(fund, line.id, [p.posting_id for p in bank.suggestions(fund, line)[0].postings])
    db.session.commit()
    text = client.get("/admin/donations/payouts").get_data(as_text=True)
    late_part, early_part = text.split(late.id)[1].split(early.id)
    assert f"STRIPE TRANSFER {early.id[-6:]}" in early_part and "Not yet matched" in late_part

    localstripe.fail_payout(late.id)  # the bank returns it: the books reverse it
    assert wait_for(lambda: ledger.balance(fund, "Assets:Bank") == 9_000, timeout=15)
    text = client.get("/admin/donations/payouts").get_data(as_text=True)
    late_part = text.split(late.id)[1].split(early.id)[0]
    assert "Failed: reversed on" in late_part and "The bank account has been closed." in late_part


def test_the_gifts_page_links_to_disputes_and_payouts(client, create_user, fund):
    treasurer(client, create_user)
    text = client.get("/admin/donations/").get_data(as_text=True)
    assert 'href="/admin/donations/disputes"' in text and 'href="/admin/donations/payouts"' in text


def test_a_trustee_may_see_neither_page(client, create_user, fund):
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    assert client.get("/admin/donations/disputes").status_code == 403
    assert client.get("/admin/donations/payouts").status_code == 403


def test_with_stripe_unreachable_the_pages_show_the_books_figures_and_say_so(client, create_user, app, fund,
                                                                             localstripe, api):
    treasurer(client, create_user)
    gift = paid_gift(fund, api, 8_000, card=DISPUTED_CARD)
    assert wait_for(lambda: entries("stripe.dispute") == 1, timeout=15)
    payout = api.payouts.create(params={"amount": 2_500, "currency": "usd"})
    assert wait_for(lambda: entries("stripe.payout") == 1, timeout=15)

    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    disputes = client.get("/admin/donations/disputes")
    assert disputes.status_code == 200
    text = disputes.get_data(as_text=True)
    assert "the status and deadline are unavailable" in text and "Status unavailable" in text
    assert money(8_000) in text and money(1_500) in text and f"Receipt {gift.receipt_number}" in text
    assert "needs_response" not in text

    payouts = client.get("/admin/donations/payouts")
    assert payouts.status_code == 200
    text = payouts.get_data(as_text=True)
    assert "the status, arrival date and gifts carried are unavailable" in text and "Status unavailable" in text
    assert payout.id in text and money(2_500) in text and "Not yet matched to the bank statement" in text
    assert gift.stripe_charge_id not in text  # what it carried is Stripe's to say


def test_a_stripe_that_never_answers_costs_the_page_one_short_wait(client, create_user, app, fund, localstripe, api,
                                                                   monkeypatch):
    """Three disputes, and a Stripe that takes the connection but never answers: the page gives up after one page
    timeout (not the SDK's 80 seconds, nor one wait per dispute) and shows the books' figures."""
    import socket
    import time

    from fundapp.payments import pages

    treasurer(client, create_user)
    paid_gift(fund, api, 8_000, card=DISPUTED_CARD, email="one@example.org")
    paid_gift(fund, api, 6_000, card=DISPUTED_CARD, email="two@example.org")
    paid_gift(fund, api, 4_000, card=DISPUTED_CARD, email="three@example.org")
    assert wait_for(lambda: entries("stripe.dispute") == 3, timeout=15)
    monkeypatch.setattr(pages, "PAGE_TIMEOUT_SECONDS", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are taken into the backlog and never answered
        app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        page = client.get("/admin/donations/disputes")
        waited = time.monotonic() - started
    assert page.status_code == 200 and 1 <= waited < 2.5, waited  # one wait of 1 s; one per dispute is 3 s
    text = page.get_data(as_text=True)
    assert "the status and deadline are unavailable" in text and money(6_000) in text and money(8_000) in text
