"""Winding a fund down: its final report, and its balance moved to another fund by a transfer that a trustee of
each fund approves, booked in both funds' books through the host's clearing accounts; and the race of two
approvals (PostgreSQL, separate connections)."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fundapp.accounts.models import RoleGrant, User
from fundapp.donations import booking
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger import transfers
from fundapp.ledger.models import FundTransfer, JournalEntry
from fundapp.payments.facts import PaymentSettled
from tests.conftest import sign_in
from tests.factories import midday
from tests.funds.test_several_funds import open_second

BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")


def gift(fund, cents, charge_id):
    """A card gift settled in ``fund`` (as the worker books one)."""
    booking.record_settled_payment(fund, PaymentSettled(
        charge_id=charge_id, payment_intent_id=None, invoice_id=None, subscription_id=None, customer_id=None,
        gross_cents=cents, fee_cents=0, net_cents=cents, currency="USD", at=midday(fund, clock.today(fund)),
        email=f"{charge_id}@example.org", name="Giver"), notify=False)


def staff(create_user, email, fund, *roles):
    """Someone with ``roles`` in ``fund`` (and none elsewhere)."""
    user = create_user(email, *roles)
    for grant in user.grants:
        grant.fund_id = fund.id
    db.session.commit()
    return user


def test_a_wound_down_funds_balance_moves_when_a_trustee_of_each_fund_approves(client, fund, create_user, runner,
                                                                                tmp_path):
    second = open_second()
    gift(second, 12_000, "ch_unit2")
    gift(fund, 5_000, "ch_host")
    db.session.commit()
    staff(create_user, "rosa2@example.org", second, "treasurer")
    staff(create_user, "tina2@example.org", second, "trustee")
    create_user("tom@example.org", "trustee")  # the installation's fund's trustee
    # the second fund's treasurer reads the final report and proposes its balance for the first fund
    sign_in(client, "rosa2@example.org")
    report = client.get("/f/unit-2/admin/ledger/final-report").get_data(as_text=True)
    assert 'data-figure="raised">$120.00' in report and 'data-figure="left">$120.00' in report
    assert "The figures add up" in report
    too_much = client.post("/f/unit-2/admin/ledger/transfers", data={
        "transfer-to_fund": str(fund.id), "transfer-amount": "120.01", "transfer-memo": "Wind-down balance"})
    assert too_much.status_code == 422 and "available to give" in too_much.get_data(as_text=True)
    proposed = client.post("/f/unit-2/admin/ledger/transfers", data={
        "transfer-to_fund": str(fund.id), "transfer-amount": "120.00", "transfer-memo": "Wind-down balance"})
    assert proposed.status_code == 302
    transfer = db.session.scalar(db.select(FundTransfer))
    assert transfer.from_fund_id == second.id and transfer.booked_at is None
    # the proposer is not an approver, even when also a trustee
    db.session.add(RoleGrant(user_id=db.session.scalar(db.select(User.id).filter_by(email="rosa2@example.org")),
                             fund_id=second.id, role="trustee"))
    db.session.commit()
    client.post("/logout")
    sign_in(client, "rosa2@example.org")
    client.post(f"/f/unit-2/admin/ledger/transfers/{transfer.id}/approve", data={"confirmed": "yes"})
    db.session.rollback()
    assert db.session.get(FundTransfer, transfer.id).from_approved_at is None
    client.post("/logout")
    # a trustee of the second fund approves its side: nothing is booked yet
    sign_in(client, "tina2@example.org")
    asked = client.post(f"/f/unit-2/admin/ledger/transfers/{transfer.id}/approve")
    assert "Approve this transfer?" in asked.get_data(as_text=True)
    # the second step posts back to the same fund's address
    assert f'action="/f/unit-2/admin/ledger/transfers/{transfer.id}/approve"' in asked.get_data(as_text=True)
    client.post(f"/f/unit-2/admin/ledger/transfers/{transfer.id}/approve", data={"confirmed": "yes"})
    assert client.post(f"/admin/ledger/transfers/{transfer.id}/approve",  # not a trustee of the first fund
                       data={"confirmed": "yes"}).status_code == 403
    db.session.rollback()
    assert db.session.get(FundTransfer, transfer.id).from_approved_at is not None
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(source_kind="fund.transfer")) == 0
    client.post("/logout")
    # the first fund's trustee sees it waiting in the review queue, and approves the receiving side
    sign_in(client, "tom@example.org")
    assert "1 transfer between funds waits for this fund's approval." in client.get("/review/").get_data(
        as_text=True)
    page = client.get("/admin/ledger/transfers").get_data(as_text=True)
    assert "Wind-down balance" in page and "Approve for this fund" in page
    client.post(f"/admin/ledger/transfers/{transfer.id}/approve", data={"confirmed": "yes"})
    db.session.rollback()
    assert db.session.get(FundTransfer, transfer.id).booked_at is not None
    assert "waits for this fund's approval" not in client.get("/review/").get_data(as_text=True)
    giver, receiver = ledger.balances(second), ledger.balances(fund)
    assert giver["Expenses:TransfersToOtherFunds"] == 12_000 and giver["Assets:HostClearing"] == -12_000
    assert receiver["Income:TransfersFromOtherFunds"] == -12_000 and receiver["Liabilities:HostClearing"] == 12_000
    assert sum(giver.values()) == 0 and sum(receiver.values()) == 0
    assert giver["Assets:HostClearing"] + receiver["Liabilities:HostClearing"] == 0  # cancel out across funds
    assert ledger.available_to_grant(second) == 0 and ledger.available_to_grant(fund) == 5_000 + 12_000
    final = ledger.final_figures(second)
    assert final.transferred_out_cents == 12_000 and final.left_cents == 0 and final.adds_up
    # both funds' exports pass bean-check
    for slug in (second.slug, fund.slug):
        path = tmp_path / f"{slug}.beancount"
        result = runner.invoke(args=["fund", "--fund", slug, "export-ledger", "--format", "beancount", "-o",
                                     str(path)])
        assert result.exit_code == 0, result.output
        checked = subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert ("TransfersToOtherFunds" if slug == second.slug else "TransfersFromOtherFunds") in path.read_text()
    # a transfer is booked once: approving again is refused
    with pytest.raises(transfers.TransferError):
        transfers.approve_transfer(transfer.id, fund, actor=db.session.scalar(
            db.select(User).filter_by(email="tom@example.org")))


def test_a_transfer_of_another_pair_of_funds_is_not_found(client, fund, create_user):
    second = open_second()
    third = open_second(slug="unit-3", name="Unit Three", legal_name="Unit Three", ein="11-2223334",
                        contact_email="u3@example.org")
    gift(second, 3_000, "ch_a")
    proposer = staff(create_user, "rosa2@example.org", second, "treasurer")
    transfer = transfers.propose_transfer(second, third, 1_000, "to unit three", actor=proposer)
    db.session.commit()
    create_user("tom@example.org", "trustee")
    sign_in(client, "tom@example.org")
    assert "to unit three" not in client.get("/admin/ledger/transfers").get_data(as_text=True)
    assert client.post(f"/admin/ledger/transfers/{transfer.id}/approve",
                       data={"confirmed": "yes"}).status_code == 404
    db.session.rollback()
    assert db.session.get(FundTransfer, transfer.id).from_approved_at is None


def test_two_approvals_at_once_book_a_transfer_once_and_two_transfers_never_spend_the_same_money(app, fund,
                                                                                                 create_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    second = open_second()
    proposer = staff(create_user, "rosa2@example.org", second, "treasurer")
    giver_trustee = staff(create_user, "tina2@example.org", second, "trustee")
    receiver_trustee = create_user("tom@example.org", "trustee")
    outcomes = []
    for trial in range(50):
        gift(second, 1_000, f"ch_{trial}")
        db.session.commit()
        # two transfers of the same 1,000 (each fits alone), each approved for the giving fund already
        pair = [transfers.propose_transfer(second, fund, 1_000 + ledger.available_to_grant(second) - 1_000,
                                           f"trial {trial}-{n}", actor=proposer) for n in range(2)]
        for transfer in pair:
            transfers.approve_transfer(transfer.id, second, actor=giver_trustee)
        db.session.commit()
        # one transfer's last approval races the other's: the fund's money is checked under its lock
        jobs = [pair[0].id, pair[1].id]
        barrier = threading.Barrier(len(jobs))
        results: list[str] = []

        def approve(transfer_id, barrier=barrier, results=results):
            with app.app_context():
                barrier.wait()
                try:
                    transfers.approve_transfer(transfer_id, db.session.get(Fund, fund.id),
                                               actor=db.session.get(User, receiver_trustee.id))
                    db.session.commit()
                    results.append("booked")
                except transfers.TransferError:
                    db.session.rollback()
                    results.append("refused")

        workers = [threading.Thread(target=approve, args=(job,)) for job in jobs]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        db.session.rollback()
        outcomes.append(sorted(results))
        assert sorted(results) == ["booked", "refused"], outcomes
        assert ledger.available_to_grant(second) == 0
    booked = db.session.scalar(db.select(db.func.count(FundTransfer.id)).where(FundTransfer.booked_at.is_not(None)))
    assert booked == 50
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(source_kind="fund.transfer")) == 100
    assert ledger.balance(second, "Expenses:TransfersToOtherFunds") == 50_000


def test_the_last_two_approvals_of_one_transfer_at_once_book_it_once(app, fund, create_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("races are real only on PostgreSQL with separate connections")
    second = open_second()
    proposer = staff(create_user, "rosa2@example.org", second, "treasurer")
    giver_trustee = staff(create_user, "tina2@example.org", second, "trustee")
    receiver_trustee = create_user("tom@example.org", "trustee")
    gift(second, 100_000, "ch_big")
    db.session.commit()
    for trial in range(50):
        transfer = transfers.propose_transfer(second, fund, 100, f"trial {trial}", actor=proposer)
        db.session.commit()
        barrier = threading.Barrier(2)
        results: list[str] = []

        def approve(fund_id, user_id, transfer_id=transfer.id, barrier=barrier, results=results):
            with app.app_context():
                barrier.wait()
                try:
                    transfers.approve_transfer(transfer_id, db.session.get(Fund, fund_id),
                                               actor=db.session.get(User, user_id))
                    db.session.commit()
                    results.append("approved")
                except transfers.TransferError as exc:
                    db.session.rollback()
                    results.append(str(exc))

        workers = [threading.Thread(target=approve, args=(second.id, giver_trustee.id)),
                   threading.Thread(target=approve, args=(fund.id, receiver_trustee.id))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        db.session.rollback()
        assert results == ["approved", "approved"], results
        assert db.session.get(FundTransfer, transfer.id).booked_at is not None  # the second approval booked it
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id)).filter_by(source_kind="fund.transfer")) == 100
    assert ledger.balance(fund, "Income:TransfersFromOtherFunds") == -5_000
