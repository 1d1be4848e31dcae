"""Several funds on one installation: opening a fund, its pages under /f/<slug>/, its own roles, and Stripe's
gifts filed under the fund they name (a payment naming none waits for the host)."""
from __future__ import annotations

import re
from datetime import date

import pytest

from fundapp.accounts.models import Role, RoleGrant, User
from fundapp.applications.models import FundRules
from fundapp.audit.models import AuditRecord
from fundapp.donations import events, filing
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import Account
from fundapp.mail import OutboxMessage
from fundapp.setup import OpenFundError, open_fund
from tests.conftest import enrol, sign_in, wait_for
from tests.donations.helpers import give, settled

SECOND = {"slug": "unit-2", "name": "Unit Two Strike Fund", "legal_name": "Local 9 Unit Two Hardship Fund",
          "ein": "98-7654321", "legal_form": "501(c)(5)", "contact_email": "unit2@example.org"}


def open_second(**changes):
    done = open_fund({**SECOND, **changes}, treasurer_email="rosa@example.org", treasurer_name="Rosa Treasurer")
    db.session.commit()
    return done.fund


def test_open_fund_makes_the_fund_its_rules_chart_and_treasurer(runner, fund):
    result = runner.invoke(args=["fund", "open-fund", "--slug", "unit-2", "--name", SECOND["name"],
                                 "--ein", SECOND["ein"], "--contact-email", SECOND["contact_email"],
                                 "--treasurer-email", "rosa@example.org", "--treasurer-name", "Rosa Treasurer"])
    assert result.exit_code == 0, result.output
    assert "/f/unit-2/" in result.output
    second = db.session.scalar(db.select(Fund).filter_by(slug="unit-2"))
    assert second is not None and second.id != fund.id and second.status == "open"
    assert db.session.scalar(db.select(FundRules.version).filter_by(fund_id=second.id)) == 1
    assert db.session.scalar(db.select(db.func.count(Account.id)).filter_by(fund_id=second.id)) == \
        db.session.scalar(db.select(db.func.count(Account.id)).filter_by(fund_id=fund.id))
    rosa = db.session.scalar(db.select(User).filter_by(email="rosa@example.org"))
    assert rosa.roles_in(second.id) == {Role.TREASURER} and rosa.roles_in(fund.id) == frozenset()
    welcome = db.session.scalar(db.select(OutboxMessage).filter_by(to_address="rosa@example.org"))
    assert "/f/unit-2/reset/" in welcome.body  # the link to choose a password opens the new fund's pages
    assert db.session.scalar(db.select(AuditRecord.fund_id).filter_by(action="fund.open")) == second.id

    again = runner.invoke(args=["fund", "open-fund", "--slug", "unit-2", "--name", "Again", "--ein", "12-3456789",
                                "--contact-email", "a@example.org", "--treasurer-email", "x@example.org",
                                "--treasurer-name", "X"])
    assert again.exit_code == 1 and "exists already" in again.output
    assert db.session.scalar(db.select(db.func.count(Fund.id))) == 2


@pytest.mark.parametrize("changes, field", [({"slug": "Unit 2"}, "slug"), ({"slug": "-x"}, "slug"),
                                            ({"ein": "123"}, "ein"), ({"name": " "}, "name"),
                                            ({"contact_email": "nobody"}, "contact_email")])
def test_a_fund_that_cannot_be_opened_is_refused_and_nothing_is_written(fund, changes, field):
    with pytest.raises(OpenFundError) as refused:
        open_second(**changes)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Fund.id))) == 1


def test_an_existing_person_is_given_the_treasurer_role_and_told(fund, create_user):
    create_user("rosa@example.org", "trustee", name="Rosa Treasurer")
    second = open_second()
    rosa = db.session.scalar(db.select(User).filter_by(email="rosa@example.org"))
    assert rosa.roles_in(fund.id) == {Role.TRUSTEE} and rosa.roles_in(second.id) == {Role.TREASURER}
    told = db.session.scalar(db.select(OutboxMessage).filter_by(to_address="rosa@example.org"))
    assert "treasurer of Unit Two Strike Fund" in told.subject and "/f/unit-2/admin/" in told.body


def test_each_fund_has_its_own_public_pages_and_the_old_addresses_still_work(client, fund):
    second = open_second(goal_cents=500_000)
    home = client.get("/f/unit-2/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "<h1>Unit Two Strike Fund</h1>" in page
    # every link of the fund's page stays inside the fund, but for the list of the other funds hosted here
    own, others = page.split('<section class="other-funds"')
    assert 'href="/"' in others and fund.name in others and fund.name not in own.split("</header>", 1)[1]
    links = [link for link in re.findall(r'href="(/[^"]*)"', own) if not link.startswith("/f/unit-2/")]
    assert links == [], links
    for path in ("donate", "about", "transparency", "apply", "register"):
        response = client.get(f"/f/unit-2/{path}")
        assert response.status_code in (200, 302), (path, response.status_code)
    assert client.get("/f/no-such-fund/").status_code == 404
    assert client.get("/f/no-such-fund/donate").status_code == 404
    # the installation's own fund keeps its addresses, and its home lists the other fund
    root = client.get("/").get_data(as_text=True)
    assert fund.name in root and 'href="/f/unit-2/"' in root and second.name in root
    assert client.get("/donate").status_code == 200
    assert client.get(f"/f/{fund.slug}/donate").status_code == 200


def test_roles_are_judged_in_the_fund_of_the_address(client, fund, create_user):
    second = open_second()
    create_user("tom@example.org", "trustee", name="Tom Trustee")
    sign_in(client, "tom@example.org")
    assert client.get("/review/").status_code == 200
    assert client.get("/f/unit-2/review/").status_code == 403  # a trustee of the first fund only
    db.session.add(RoleGrant(user_id=db.session.scalar(db.select(User.id).filter_by(email="tom@example.org")),
                             fund_id=second.id, role="trustee"))
    db.session.commit()
    assert client.get("/f/unit-2/review/").status_code == 200  # one sign-in, both funds


def test_a_gift_on_the_second_funds_page_is_booked_in_its_books_only(client, fund, localstripe):
    second = open_second()
    donation, paid = give(client)  # the first fund's page
    assert settled(donation.id)
    response = client.post("/f/unit-2/donate", data={"amount": "5000", "frequency": "one_time", "name": "Ana",
                                                     "email": "ana@example.org", "dedication_kind": ""})
    assert response.status_code == 302 and "/f/unit-2/donate/test-checkout/" in response.headers["Location"]
    token = response.headers["Location"].rstrip("/").split("/")[-1]
    paid = client.post(response.headers["Location"], data={"card_number": "4242424242424242", "expiry": "12/34",
                                                           "cvc": "123", "attempt": "a1"})
    assert paid.headers["Location"].endswith(f"/f/unit-2/thanks/{token}")
    gift = db.session.scalar(db.select(Donation).filter_by(token=token))
    assert gift.fund_id == second.id and settled(gift.id)
    db.session.rollback()
    assert ledger.balance(second, "Income:Donations") == -5_000
    assert ledger.balance(fund, "Income:Donations") == -2_500
    assert gift.receipt_number == donation.receipt_number  # each fund numbers its own receipts from one
    receipt = wait_for(lambda: db.session.scalar(db.select(OutboxMessage).filter_by(to_address="ana@example.org")))
    assert "/f/unit-2/thanks/" in receipt.body
    assert client.get(f"/thanks/{token}").status_code == 404  # the first fund knows no such gift
    assert client.get(f"/f/unit-2/thanks/{token}").status_code == 200


def test_a_payment_naming_no_fund_waits_for_the_host_then_books_where_assigned(client, fund, localstripe, api,
                                                                              create_user):
    second = open_second()
    method = api.payment_methods.create(params={"type": "card", "billing_details": {
        "email": "walk.in@example.org", "name": "Walk In"}, "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_intents.create(params={"amount": 7_700, "currency": "usd", "payment_method": method.id,
                                       "confirm": True})
    waiting = wait_for(lambda: filing.unassigned_events())
    assert waiting and waiting[0].type in ("payment_intent.succeeded", "charge.succeeded")
    events.apply_waiting_events()
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Donation.id))) == 0  # in no fund's books
    assert ledger.balance(fund, "Income:Donations") == 0 and ledger.balance(second, "Income:Donations") == 0
    operator = create_user("ops@example.org", "donor")
    operator.is_operator = True
    enrol(operator)
    db.session.commit()
    sign_in(client, "ops@example.org")
    page = client.get("/host/unassigned").get_data(as_text=True)
    assert "$77.00" in page and "walk.in@example.org" in page
    event_id = filing.unassigned_events()[0].id
    assigned = client.post(f"/host/unassigned/{event_id}", data={f"{event_id}-fund": "unit-2"})
    assert assigned.status_code == 302
    for event in filing.unassigned_events():  # the same payment told by another of its events
        filing.assign_event(event, second, actor=None)
    db.session.commit()
    gift = wait_for(lambda: db.session.scalar(db.select(Donation).filter_by(status=DonationStatus.SUCCEEDED)))
    assert gift is not None and gift.fund_id == second.id and gift.gross_cents == 7_700
    events.apply_waiting_events()
    db.session.rollback()
    assert ledger.balance(second, "Income:Donations") == -7_700 and ledger.balance(fund, "Income:Donations") == 0
    assert filing.unassigned_events() == []
    assert db.session.scalar(db.select(db.func.count(StripeEvent.id)).where(StripeEvent.processed_at.is_(None))) == 0


def test_the_host_assigns_only_what_waits_and_only_to_a_fund(client, fund, create_user):
    open_second()
    operator = create_user("ops@example.org", "donor")
    operator.is_operator = True
    enrol(operator)
    db.session.add(StripeEvent(id="evt_booked", fund_id=fund.id, type="charge.succeeded", payload="{}",
                               outcome="applied", processed_at=db.func.now()))
    db.session.add(StripeEvent(id="evt_waiting", fund_id=fund.id, type="charge.succeeded", payload="{}",
                               outcome=filing.UNASSIGNED, processed_at=db.func.now()))
    db.session.commit()
    sign_in(client, "ops@example.org")
    assert client.post("/host/unassigned/evt_booked", data={"evt_booked-fund": "unit-2"}).status_code == 404
    wrong = client.post("/host/unassigned/evt_waiting", data={"evt_waiting-fund": "no-such-fund"})
    assert wrong.status_code == 302
    db.session.rollback()
    assert db.session.get(StripeEvent, "evt_waiting").outcome == filing.UNASSIGNED
    assert db.session.get(StripeEvent, "evt_booked").outcome == "applied"


def test_the_scheduled_jobs_serve_every_fund_and_fund_names_one(runner, fund):
    from fundapp.ledger import services as ledger_services

    second = open_second()
    ledger_services.post_entry(second, entry_date=date(2026, 11, 2), memo="a gift", source_kind="t", source_id="g1",
                               postings=[("Assets:Bank", 1_000), ("Income:Donations", -1_000)])
    db.session.commit()
    checked = runner.invoke(args=["fund", "check-books"])
    assert checked.exit_code == 0, checked.output
    assert f"{fund.slug}: The books balance (0 cents" in checked.output
    assert "unit-2: The books balance (1000 cents each side)" in checked.output
    one = runner.invoke(args=["fund", "--fund", "unit-2", "check-books"])
    assert one.exit_code == 0 and one.output.startswith("The books balance (1000 cents")
    purged = runner.invoke(args=["fund", "purge-closed"])
    assert purged.exit_code == 0, purged.output
    assert f"{fund.name}: Removed" in purged.output and f"{second.name}: Removed" in purged.output
    unknown = runner.invoke(args=["fund", "--fund", "no-such-fund", "check-books"])
    assert unknown.exit_code == 1 and "no-such-fund" in unknown.output


def test_the_gifts_page_compares_stripe_with_every_funds_books_and_names_this_funds_share(client, fund,
                                                                                          create_user):
    from fundapp.ledger import services as ledger_services

    second = open_second()
    for where, cents in ((fund, 7_000), (second, 3_000)):
        ledger_services.post_entry(where, entry_date=date(2026, 11, 2), memo="card gifts", source_kind="t",
                                   source_id="g", postings=[("Assets:Stripe", cents), ("Income:Donations", -cents)])
    db.session.commit()
    rosa = db.session.scalar(db.select(User).filter_by(email="rosa@example.org"))
    rosa.password_hash = db.session.scalar(db.select(User.password_hash).where(
        User.id == create_user("tess@example.org", "treasurer").id))
    enrol(rosa)
    db.session.commit()
    sign_in(client, "rosa@example.org")
    page = client.get("/f/unit-2/admin/donations/").get_data(as_text=True)
    assert "$100.00</span> in the union's Stripe account, by every fund's books" in page
    assert "of which $30.00 is this fund's" in page


@pytest.mark.no_worker
def test_an_event_is_listed_under_the_fund_its_facts_name_so_that_funds_treasurer_sees_it_fail(client, fund,
                                                                                               localstripe, api,
                                                                                               create_user):
    from localstripe import webhooks as localstripe_webhooks

    from fundapp.donations import giving
    from tests.donations.conftest import signed_event

    localstripe_webhooks._webhooks.clear()  # we deliver the events ourselves
    second = open_second()
    good = giving.start_donation(second, giving.GiftRequest(amount_cents=2_000, monthly=False, cover_fee=False,
                                                            name="Kim", email="kim@example.org"))
    bad = giving.start_donation(second, giving.GiftRequest(amount_cents=5_000, monthly=False, cover_fee=False,
                                                           name="Eu", email="eu@example.org"))
    db.session.commit()
    intents = {}
    for donation, currency in ((good, "usd"), (bad, "eur")):  # the fund keeps dollars: euros are never booked
        intents[currency] = api.payment_intents.create(params={
            "amount": donation.total_cents, "currency": currency, "payment_method": "pm_card_visa", "confirm": True,
            "metadata": giving.checkout_metadata(donation)}).id
    for currency, intent in intents.items():
        payload, headers = signed_event("payment_intent.succeeded", {"id": intent, "object": "payment_intent"},
                                        event_id=f"evt_{currency}")
        assert client.post("/stripe/webhook", data=payload, headers=headers).status_code == 200
    events.apply_waiting_events()
    db.session.rollback()
    assert db.session.get(StripeEvent, "evt_usd").fund_id == second.id  # filed where it was booked
    failed = db.session.get(StripeEvent, "evt_eur")
    assert failed.processed_at is None and failed.fund_id == second.id
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    assert "EUR" in failed.last_error
    assert "EUR" not in client.get("/admin/").get_data(as_text=True)  # the first fund's treasurer
    rosa = db.session.scalar(db.select(User).filter_by(email="rosa@example.org"))
    rosa.password_hash = db.session.scalar(db.select(User.password_hash).filter_by(email="tess@example.org"))
    enrol(rosa)
    db.session.commit()
    client.post("/logout")
    sign_in(client, "rosa@example.org")
    assert failed.last_error in client.get("/f/unit-2/admin/").get_data(as_text=True)  # the second fund's
