"""One Stripe account, several funds: a payout carries several funds' gifts and refunds and is split by them, each
fund's books balancing on their own and the host's clearing accounts cancelling out across the funds (the real
SDK against the local Stripe server, booked by the webhook and the worker)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fundapp.donations import events, giving
from fundapp.donations.models import Donation, DonationStatus, StripeEvent
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.ledger.balances import available_to_grant
from fundapp.ledger.exports import fund_tree
from fundapp.ledger.models import JournalEntry
from tests.conftest import enrol, sign_in, wait_for
from tests.donations.helpers import deliver
from tests.funds.test_several_funds import open_second

BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")
THIRD = {"slug": "unit-3", "name": "Unit Three Fund", "legal_name": "Unit Three Hardship Fund", "ein": "11-2223334",
         "contact_email": "unit3@example.org"}


def paid_gift(fund, api, cents, email):
    donation = giving.start_donation(fund, giving.GiftRequest(amount_cents=cents, monthly=False, cover_fee=False,
                                                              name="Kim Donor", email=email))
    db.session.commit()
    method = api.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_intents.create(params={"amount": cents, "currency": "usd", "payment_method": method.id,
                                       "confirm": True, "metadata": giving.checkout_metadata(donation)})
    assert wait_for(lambda: db.session.get(Donation, donation.id).status == DonationStatus.SUCCEEDED, timeout=15)
    return db.session.get(Donation, donation.id)


def payouts(fund_id=None):
    db.session.rollback()
    query = db.select(db.func.count(JournalEntry.id)).filter_by(source_kind="stripe.payout")
    return db.session.scalar(query if fund_id is None else query.filter_by(fund_id=fund_id))


def host_books_page_and_export_balance(client, create_user, tmp_path, funds):
    """The operator's consolidated trial balance shows a column per fund, each summing to zero, and the host's
    Beancount export (each fund its own tree) passes bean-check; a cent changed in it fails bean-check."""
    operator = create_user("ops@example.org", "donor")
    operator.is_operator = True
    enrol(operator)
    db.session.commit()
    sign_in(client, "ops@example.org")
    page = client.get("/host/books").get_data(as_text=True)
    foot = page.split("<tfoot>")[1]
    assert foot.count("$0.00") == len(funds) + 1, foot
    for fund in funds:
        assert f'<th scope="col" class="num">{fund.name}</th>' in page
    assert "Liabilities:HostClearing" in page and "Assets:HostClearing" in page
    export = client.get("/host/books.beancount")
    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert "Assets:Unit-2:HostClearing" in text and f"Liabilities:{fund_tree(funds[0].slug)}:HostClearing" in text
    path = tmp_path / "host.beancount"
    path.write_text(text)
    checked = subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = re.sub(r"(Assets:Unit-2:HostClearing\s+)(\d+)\.(\d\d)", lambda m: f"{m.group(1)}{m.group(2)}.{int(m.group(3)) ^ 1:02d}",
                    text, count=1)
    assert broken != text
    path.write_text(broken)
    assert subprocess.run([BEAN_CHECK, str(path)], capture_output=True).returncode != 0
    client.post("/logout")


def balances_of(fund):
    db.session.rollback()
    return {name: cents for name, cents in ledger.balances(fund).items() if cents}


def test_a_payout_of_three_funds_gifts_is_split_and_every_fund_balances(client, fund, localstripe, api, create_user,
                                                                      tmp_path):
    second = open_second()
    third = open_second(**THIRD)
    paid_gift(fund, api, 9_000, "first@example.org")
    refunded = paid_gift(second, api, 5_000, "second@example.org")
    paid_gift(third, api, 2_000, "third@example.org")
    api.refunds.create(params={"charge": refunded.stripe_charge_id, "amount": 1_000})  # the local server sends no
    deliver(client, "charge.refunded", {"id": refunded.stripe_charge_id, "object": "charge"})  # event: we do
    assert wait_for(lambda: db.session.get(Donation, refunded.id).refunded_cents == 1_000, timeout=15)
    db.session.rollback()
    held = {f.id: ledger.balance(f, "Assets:Stripe") for f in (fund, second, third)}
    assert held[second.id] == 5_000 - 1_000 - db.session.get(Donation, refunded.id).fee_cents

    payout = api.payouts.create(params={"amount": sum(held.values()), "currency": "usd"})
    assert wait_for(lambda: payouts() == 3, timeout=15), db.session.scalars(db.select(StripeEvent.last_error)).all()

    host, unit2, unit3 = balances_of(fund), balances_of(second), balances_of(third)
    assert host["Assets:Bank"] == payout.amount  # the whole payout reached the host's bank
    assert "Assets:Stripe" not in host and "Assets:Stripe" not in unit2 and "Assets:Stripe" not in unit3
    assert host["Liabilities:HostClearing"] == -(held[second.id] + held[third.id])
    assert unit2["Assets:HostClearing"] == held[second.id] and unit3["Assets:HostClearing"] == held[third.id]
    for books in (host, unit2, unit3):
        assert sum(books.values()) == 0  # each fund's books balance alone
    consolidated: dict[str, int] = {}
    for books in (host, unit2, unit3):
        for name, cents in books.items():
            consolidated[name] = consolidated.get(name, 0) + cents
    assert sum(consolidated.values()) == 0
    assert consolidated["Assets:HostClearing"] + consolidated["Liabilities:HostClearing"] == 0
    assert consolidated["Assets:Bank"] == payout.amount
    # what each fund can grant is its own money, wherever it is held
    assert available_to_grant(second) == held[second.id]
    assert available_to_grant(fund) == held[fund.id]
    # the host's consolidated report and its Beancount export, checked by bean-check
    host_books_page_and_export_balance(client, create_user, tmp_path, [fund, second, third])
    # the same event again books nothing more
    db.session.execute(db.update(StripeEvent).where(StripeEvent.type == "payout.paid").values(processed_at=None))
    db.session.commit()
    events.apply_waiting_events()
    assert payouts() == 3

    localstripe.fail_payout(payout.id)  # the bank returns it: every fund's share comes back to its Stripe balance
    assert wait_for(lambda: db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(
        source_kind="reversal")) == 3, timeout=15)
    assert balances_of(second)["Assets:Stripe"] == held[second.id] and "Assets:Bank" not in balances_of(fund)


def test_a_payout_carrying_a_payment_of_no_fund_waits_until_the_host_assigns_it(fund, localstripe, api):
    second = open_second()
    paid_gift(second, api, 3_000, "second@example.org")
    method = api.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    api.payment_intents.create(params={"amount": 1_000, "currency": "usd", "payment_method": method.id,
                                       "confirm": True})
    from fundapp.donations import filing

    assert wait_for(lambda: filing.unassigned_events(), timeout=15)
    db.session.rollback()
    amount = sum(txn.amount - txn.fee for txn in api.balance_transactions.list().auto_paging_iter()
                 if txn.type in ("charge", "payment"))
    api.payouts.create(params={"amount": amount, "currency": "usd"})
    waiting = wait_for(lambda: db.session.scalar(db.select(StripeEvent).where(
        StripeEvent.type == "payout.paid", StripeEvent.last_error.is_not(None))), timeout=15)
    assert waiting and "no fund's books hold yet" in waiting.last_error
    assert payouts() == 0  # in no fund's books until every gift it carried is
    for event in filing.unassigned_events():
        filing.assign_event(event, fund, actor=None)
    db.session.commit()

    def booked_once_the_payment_is():  # the payout's next try, made due at once (the worker's back-off would wait)
        db.session.execute(db.update(StripeEvent).where(StripeEvent.type == "payout.paid",
                                                        StripeEvent.processed_at.is_(None)).values(next_attempt_at=None))
        db.session.commit()
        events.apply_waiting_events()
        return payouts() == 2

    assert wait_for(booked_once_the_payment_is, timeout=15)
    assert balances_of(fund)["Assets:Bank"] == amount
