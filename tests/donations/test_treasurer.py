"""The treasurer's side of gifts: reconciliation with Stripe, refunds through Stripe, the donor wall."""
from __future__ import annotations

import io

from localstripe import webhooks as localstripe_webhooks
from pypdf import PdfReader

from fundapp.donations import booking, giving, offline, receipts
from fundapp.donations.models import Donation, DonationStatus, Donor, WallStatus
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from tests.conftest import sign_in, wait_for
from tests.donations.helpers import books, pay, pending_gift


def test_reconcile_books_what_the_webhooks_missed_and_a_second_run_changes_nothing(runner, fund, localstripe, api):
    localstripe_webhooks._webhooks.clear()  # the app was down: no webhook arrives
    donation = pending_gift(fund, cents=4_000)
    intent = pay(api, donation)
    outsider = api.payment_methods.create(params={"type": "card", "billing_details": {"email": "o@example.org"},
                                                  "card": {"number": "4242424242424242", "exp_month": 1,
                                                           "exp_year": 2035, "cvc": "999"}})
    api.payment_intents.create(params={"amount": 1_234, "currency": "usd", "payment_method": outsider.id,
                                       "confirm": True})
    charge = api.payment_intents.retrieve(intent.id).latest_charge
    api.refunds.create(params={"charge": charge if isinstance(charge, str) else charge.id, "amount": 400})
    assert books(fund)[0] == 0
    first = runner.invoke(args=["fund", "reconcile-stripe", "--since", "2026-01-01"])
    assert first.exit_code == 0, first.output
    assert "booked 2 payments, 1 refunds, 0 dispute movements and 0 payouts that were missing" in first.output
    assert books(fund) == (3, -(4_000 + 1_234 - 400), 4_000 + 1_234 - 400)
    second = runner.invoke(args=["fund", "reconcile-stripe", "--since", "2026-01-01"])
    assert "booked 0 payments, 0 refunds, 0 dispute movements and 0 payouts" in second.output
    assert books(fund) == (3, -4_834, 4_834)
    assert db.session.get(Donation, donation.id).status == DonationStatus.PARTIALLY_REFUNDED


def test_treasurer_refunds_through_stripe_and_it_is_booked(client, create_user, fund, localstripe, api):
    donation = pending_gift(fund, cents=6_000)
    pay(api, donation)
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED)
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/donations/").get_data(as_text=True)
    assert "Kim" in page and "$60.00" in page
    too_much = client.post(f"/admin/donations/{donation.id}/refund", data={"amount": "60.01"},
                           follow_redirects=True)
    assert "You can refund between $0.01 and $60.00 of this gift." in too_much.get_data(as_text=True)
    asked = client.post(f"/admin/donations/{donation.id}/refund", data={"amount": "25"}).get_data(as_text=True)
    assert "Refund $25.00 of the $60.00 gift from Kim" in asked and "corrected receipt for $35.00" in asked
    assert 'name="confirmed" value="yes"' in asked and 'name="amount" value="25"' in asked
    assert db.session.get(Donation, donation.id).refunded_cents == 0  # nothing moves before the second step
    assert books(fund) == (1, -6_000, 6_000)
    done = client.post(f"/admin/donations/{donation.id}/refund", data={"amount": "25", "confirmed": "yes"},
                       follow_redirects=True)
    assert "Refunded." in done.get_data(as_text=True)
    assert books(fund) == (2, -3_500, 3_500)
    refunded = db.session.get(Donation, donation.id)
    assert refunded.refunded_cents == 2_500 and refunded.status == DonationStatus.PARTIALLY_REFUNDED


def test_the_donor_wall_shows_only_what_the_treasurer_approved(client, create_user, fund, app):
    from tests.donations.helpers import fact

    gift = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=10_000, monthly=False, cover_fee=False, name="Rosa Public", email="rosa@example.org",
        on_wall=True, wall_message="Solidarity from Local 12!"))
    hidden = giving.start_donation(fund, giving.GiftRequest(
        amount_cents=10_000, monthly=False, cover_fee=False, name="Secret Sam", email="sam@example.org",
        anonymous=True, on_wall=True, wall_message="Hold the line"))
    db.session.commit()
    for donation, charge in ((gift, "ch_wall_1"), (hidden, "ch_wall_2")):
        booking.record_settled_payment(fund, fact(charge_id=charge, gross=10_000, fee=0,
                                                   metadata={"donation": donation.token}))
    db.session.commit()
    home = client.get("/").get_data(as_text=True)
    assert "Solidarity from Local 12!" not in home and "$200.00" in home and "2 gifts so far." in home
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    assert "Solidarity from Local 12!" in client.get("/admin/donations/?wall=waiting").get_data(as_text=True)
    client.post(f"/admin/donations/{gift.id}/wall", data={"status": "shown"})
    client.post(f"/admin/donations/{hidden.id}/wall", data={"status": "shown"})
    home = client.get("/").get_data(as_text=True)
    assert "Rosa Public" in home and "Solidarity from Local 12!" in home
    assert "Secret Sam" not in home and "Anonymous" in home and "Hold the line" in home
    assert db.session.get(Donation, gift.id).wall_status == WallStatus.SHOWN
    assert ledger.balance(fund, "Income:Donations") == -20_000


def test_cheques_and_cash_are_receipted_then_deposited_to_the_bank(client, create_user, fund, smtp):
    from fundapp.donations.models import Deposit

    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    assert "Nothing is waiting to be deposited." in client.get("/admin/donations/offline").get_data(as_text=True)
    bad = client.post("/admin/donations/offline/gift", data={
        "gift-name": "Ana", "gift-amount": "12.345", "gift-received_on": "2026-11-20", "gift-method": "cheque"})
    assert bad.status_code == 422 and "two digits after the decimal point" in bad.get_data(as_text=True)
    for name, amount, method, reference in [("Ana Cheque", "150.00", "cheque", "1042"), ("Rally bucket", "87.35",
                                                                                     "cash", "")]:
        done = client.post("/admin/donations/offline/gift", data={
            "gift-name": name, "gift-email": "ana@example.org" if method == "cheque" else "",
            "gift-amount": amount, "gift-received_on": "2026-11-20", "gift-method": method,
            "gift-reference": reference}, follow_redirects=True)
        assert "It is waiting to be deposited." in done.get_data(as_text=True)
    assert ledger.balance(fund, "Assets:Undeposited") == 23_735
    assert [m["To"] for m in smtp.messages] == ["ana@example.org"]  # cash without an address: no mail
    gifts = list(db.session.scalars(db.select(Donation).order_by(Donation.id)))
    assert [g.receipt_number for g in gifts] == ["2026-000001", "2026-000002"]
    deposited = client.post("/admin/donations/offline/deposit", data={
        "deposit-deposited_on": "2026-11-21", "deposit-reference": "slip 77",
        "gifts": [str(g.id) for g in gifts]}, follow_redirects=True)
    assert "Deposit of $237.35 recorded" in deposited.get_data(as_text=True)
    assert ledger.balance(fund, "Assets:Undeposited") == 0 and ledger.balance(fund, "Assets:Bank") == 23_735
    again = client.post("/admin/donations/offline/deposit", data={
        "deposit-deposited_on": "2026-11-21", "gifts": [str(gifts[0].id)]})
    assert again.status_code == 422 and "already in a deposit" in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Deposit.id))) == 1
    assert ledger.balance(fund, "Assets:Bank") == 23_735


def test_mail_that_could_not_be_sent_is_shown_to_the_treasurer_and_sent_on_request(client, create_user, app, fund,
                                                                                  smtp):
    from fundapp.mail import queue_mail

    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    queue_mail("dana@example.org", "Thank you: receipt 2026-000001", "Body")
    db.session.commit()
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = 1  # the mail server is down
    assert smtp.messages == []  # the worker tried
    down = client.get("/admin/").get_data(as_text=True)
    assert "could not be sent" in down and "dana@example.org" in down and "1 message is waiting" in down
    assert smtp.messages == []  # the worker waits a minute before the next try
    app.config["MAIL_PORT"] = port
    asked = client.post("/admin/mail/send", follow_redirects=True).get_data(as_text=True)
    assert "1 message will be sent within a few seconds" in asked  # the page does not wait on the mail server
    assert [m["Subject"] for m in smtp.messages] == ["Thank you: receipt 2026-000001"]  # the worker's next round
    assert "Every message has been sent." in client.get("/admin/").get_data(as_text=True)


def test_the_gifts_page_shows_stripe_beside_the_books(client, create_user, fund, localstripe):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/admin/donations/").get_data(as_text=True)
    assert "in Stripe, by our books (Assets:Stripe)" in page
    assert "local test server keeps a made-up euro balance" in page  # localstripe reports EUR only


def test_gifts_without_an_email_each_keep_their_own_donor_and_name(fund):
    """Nobody can be recognised without an email: two cash donors are two donors, and the second one's name never
    lands on the first one's receipt (they once shared a donor row whose name the latest gift overwrote)."""
    ana = offline.record_offline_gift(fund, name="Ana Cash", email="", amount_cents=2_000, method="cash",
                                      received_on=clock.today(fund), notify=False)
    ben = offline.record_offline_gift(fund, name="Ben Cheque", email="", amount_cents=3_000, method="cheque",
                                      received_on=clock.today(fund), notify=False)
    again = offline.record_offline_gift(fund, name="Cy Known", email="Cy@Example.org", amount_cents=1_000,
                                        method="cash", received_on=clock.today(fund), notify=False)
    also = offline.record_offline_gift(fund, name="Cy Known", email="cy@example.org", amount_cents=1_500,
                                       method="cash", received_on=clock.today(fund), notify=False)
    db.session.commit()
    assert ana.donor_id != ben.donor_id and again.donor_id == also.donor_id
    assert db.session.scalar(db.select(db.func.count(Donor.id)).where(Donor.fund_id == fund.id)) == 3
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(receipts.receipt_for(fund, ana))).pages)
    assert "Ana Cash" in text and "Ben Cheque" not in text
