"""Decisions and payments: dual approval, recusal, the funds guard (also under concurrency), instalments,
overpayment, voids; and books that bean-check with GrantsPayable equal to approved-unpaid."""
from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fundapp.accounts.models import Member
from fundapp.applications.models import Application
from fundapp.applications.states import Status
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import exports
from fundapp.ledger import services as ledger
from fundapp.review import recusal
from fundapp.review import services as review
from fundapp.review.models import Approval
from tests.factories import DAY, fund_with


def test_a_small_grant_is_approved_by_one_trustee_and_booked(fund, trustees, case):
    fund_with(fund, 100_000)
    application = case(30_000)
    assert review.approve(fund, application, 30_000, actor=trustees[0], criteria="rent arrears, lease seen")
    db.session.commit()
    assert application.status == Status.APPROVED and application.amount_approved_cents == 30_000
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == -30_000
    assert ledger.available_to_grant(fund) == 70_000


def test_a_large_grant_needs_two_different_trustees_for_the_same_amount(fund, trustees, case):
    fund_with(fund, 500_000)
    application = case(80_000)  # above the $500 threshold of the default rules
    assert not review.approve(fund, application, 80_000, actor=trustees[0])
    db.session.commit()
    assert application.status == Status.IN_REVIEW and ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    with pytest.raises(review.ReviewError, match="already approved"):
        review.approve(fund, application, 80_000, actor=trustees[0])
    db.session.rollback()
    with pytest.raises(review.ReviewError, match=r"The first trustee approved \$800.00"):
        review.approve(fund, application, 70_000, actor=trustees[1], note="less")
    db.session.rollback()
    assert review.approve(fund, application, 80_000, actor=trustees[1])
    db.session.commit()
    assert application.status == Status.APPROVED
    assert db.session.scalar(db.select(db.func.count(Approval.id))) == 2
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == -80_000


def test_partial_approval_needs_a_note_and_says_so_to_the_member(fund, trustees, case):
    from fundapp.mail import OutboxMessage

    fund_with(fund, 100_000)
    application = case(40_000)
    with pytest.raises(review.ReviewError, match="why the amount is less"):
        review.approve(fund, application, 25_000, actor=trustees[0])
    db.session.rollback()
    review.approve(fund, application, 25_000, actor=trustees[0], note="The cap for utilities is lower.")
    db.session.commit()
    assert application.status == Status.PARTIALLY_APPROVED
    mail = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert "$250.00" in mail.body and "The cap for utilities is lower." in mail.body


def test_a_trustee_cannot_act_on_their_own_application_and_the_recusal_is_recorded(fund, case):
    fund_with(fund, 100_000)
    application = case(10_000)
    from fundapp.accounts.models import User
    from fundapp.accounts.services import set_roles

    owner = db.session.get(User, application.applicant_id)
    set_roles(owner, fund, ["applicant", "trustee"], actor=None)
    db.session.commit()
    with pytest.raises(review.Recused):
        review.approve(fund, application, 10_000, actor=owner)
    db.session.commit()  # the recusal record stays
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id)).filter_by(action="application.recusal")) == 1
    assert application.status == Status.SUBMITTED


def test_the_funds_guard_refuses_what_the_fund_cannot_pay(fund, trustees, case):
    fund.reserve_cents = 20_000
    fund_with(fund, 50_000)
    application = case(40_000)
    with pytest.raises(review.InsufficientFunds, match=r"has \$300.00 available"):
        review.approve(fund, application, 40_000, actor=trustees[0])
    db.session.rollback()
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0


def test_question_deny_and_the_member_hears_of_it(fund, trustees, case):
    application = case(10_000)
    review.ask_question(fund, application, "Can you send the lease?", actor=trustees[0])
    db.session.commit()
    assert application.status == Status.INFO_REQUESTED
    application.status = Status.IN_REVIEW  # the member answered (tested in tests/applications)
    with pytest.raises(review.ReviewError, match="note to the member"):
        review.deny(fund, application, "not_hardship", actor=trustees[0])
    review.deny(fund, application, "not_hardship", actor=trustees[0], note="The rules cover rent, not savings.")
    db.session.commit()
    assert application.status == Status.DENIED and application.decision_reason.startswith("The rules cover")
    from flask import current_app

    from fundapp.mail import OutboxMessage

    question, denial = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()[-2:]
    link = f"{current_app.config['BASE_URL']}/my/{application.id}"
    assert "Can you send the lease?" in question.body and link in question.body  # the question itself, and where
    assert "The rules cover rent, not savings." in denial.body and link in denial.body


def test_instalments_overpayment_and_void(fund, trustees, case):
    fund_with(fund, 100_000)
    application = case(30_000)
    review.approve(fund, application, 30_000, actor=trustees[0])
    first = review.record_payment(fund, application, amount_cents=10_000, method="cheque", reference="1001",
                                  paid_on=DAY, actor=trustees[0])
    with pytest.raises(review.ReviewError, match="cannot be in the future"):
        review.record_payment(fund, application, amount_cents=100, method="cheque", reference="1009",
                              paid_on=clock.today(fund) + timedelta(days=1), actor=trustees[0])
    with pytest.raises(review.ReviewError, match=r"\$200.00 still owed"):
        review.record_payment(fund, application, amount_cents=20_001, method="cheque", reference="1002",
                              paid_on=DAY, actor=trustees[0])
    review.record_payment(fund, application, amount_cents=20_000, method="zelle", reference="zx9", paid_on=DAY,
                          actor=trustees[1])
    db.session.commit()
    assert application.status == Status.PAID and first.payee_name == "Mill St Rentals"
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == 0
    with pytest.raises(review.ReviewError, match="Say why"):
        review.void_payment(fund, first, reason=" ", actor=trustees[0])
    review.void_payment(fund, first, reason="cheque bounced", actor=trustees[0])
    db.session.commit()
    assert application.status == Status.APPROVED and application.amount_paid_cents == 20_000
    assert ledger.balance(fund, "Liabilities:GrantsPayable") == -10_000  # owed again
    with pytest.raises(review.ReviewError, match="already void"):
        review.void_payment(fund, first, reason="again", actor=trustees[0])


def test_after_a_scenario_the_books_bean_check_and_payable_equals_approved_unpaid(fund, trustees, case, tmp_path):
    fund_with(fund, 1_000_000)
    grants = [case(cents) for cents in (20_000, 35_000, 45_000, 48_000)]
    for application in grants:
        review.approve(fund, application, application.amount_requested_cents, actor=trustees[0])
    paid = review.record_payment(fund, grants[0], amount_cents=20_000, method="ach", reference="a1", paid_on=DAY,
                                 actor=trustees[0])
    review.record_payment(fund, grants[1], amount_cents=15_000, method="cash", reference="", paid_on=DAY,
                          actor=trustees[0])
    review.void_payment(fund, paid, reason="returned by the bank", actor=trustees[0])
    db.session.commit()
    unpaid = sum(a.amount_approved_cents - a.amount_paid_cents for a in grants)
    assert -ledger.balance(fund, "Liabilities:GrantsPayable") == unpaid == 148_000 - 15_000
    path = tmp_path / "books.beancount"
    with open(path, "w") as out:
        exports.write_beancount(fund, out)
    check = subprocess.run([str(Path(sys.executable).parent / "bean-check"), str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_concurrent_approvals_never_spend_more_than_the_fund_has(app, fund, create_user, case):
    """Eight trustees approve eight different $300 grants at the same moment, with $1,000 available:
    exactly three must pass, whatever the timing. Repeated over several trials."""
    trials, threads_per_trial, grant, funds = 5, 8, 30_000, 100_000
    trustees = [create_user(f"t{n}@example.org", "trustee") for n in range(threads_per_trial)]
    outcomes = []
    for trial in range(trials):
        gap = funds - ledger.available_to_grant(fund)  # exactly $1,000 available at the start of each trial
        ledger.post_entry(fund, entry_date=DAY, memo="top up", source_kind="t", source_id=f"top-{trial}",
                          postings=[("Assets:Bank", gap), ("Income:Donations", -gap)])
        db.session.commit()
        applications = [case(grant) for _ in range(threads_per_trial)]
        barrier = threading.Barrier(threads_per_trial)
        results = []

        def decide(application_id, trustee_id, barrier=barrier, results=results):
            with app.app_context():
                from fundapp.accounts.models import User
                from fundapp.funds.models import Fund

                barrier.wait()
                try:
                    review.approve(db.session.get(Fund, fund.id), db.session.get(Application, application_id),
                                   grant, actor=db.session.get(User, trustee_id))
                    db.session.commit()
                    results.append("approved")
                except review.InsufficientFunds:
                    db.session.rollback()
                    results.append("refused")
                except Exception as exc:  # e.g. SQLite's "database is locked": retried by the trustee
                    db.session.rollback()
                    results.append(type(exc).__name__)

        workers = [threading.Thread(target=decide, args=(a.id, t.id)) for a, t in zip(applications, trustees, strict=True)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        db.session.rollback()
        outcomes.append(sorted(results))
        assert ledger.available_to_grant(fund) >= 0, outcomes
        assert results.count("approved") <= 3, outcomes
        if db.engine.dialect.name == "postgresql":
            assert results.count("approved") == 3 and results.count("refused") == 5, outcomes
    print(f"\nfunds guard: {trials} trials x {threads_per_trial} threads on {db.engine.dialect.name}: {outcomes}")


def test_a_declared_relationship_means_recusal_recorded_on_the_case(fund, trustees, case):
    fund_with(fund, 100_000)
    application = case(10_000)
    member = db.session.get(Member, application.member_id)
    with pytest.raises(review.ReviewError, match="no member with that number"):
        recusal.declare_relationship(fund, trustees[0], "NOPE-1", "cousin")
    recusal.declare_relationship(fund, trustees[0], member.member_id.lower(), "my cousin")
    db.session.commit()
    with pytest.raises(review.Recused, match="my cousin"):
        review.approve(fund, application, 10_000, actor=trustees[0])
    db.session.commit()
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="application.recusal"))
    assert record.object_id == str(application.id) and record.after["reason"] == "declared relationship"
    assert review.approve(fund, application, 10_000, actor=trustees[1])  # another trustee decides


def test_a_batch_is_paid_all_or_nothing_with_cheque_numbers_counting_up(fund, trustees, case):
    from fundapp.review.models import GrantPayment

    fund_with(fund, 1_000_000)
    grants = [case(cents) for cents in (10_000, 20_000, 30_000)]
    for application in grants:
        review.approve(fund, application, application.amount_requested_cents, actor=trustees[0])
    db.session.commit()
    review.record_payment(fund, grants[2], amount_cents=30_000, method="cash", reference="", paid_on=DAY,
                          actor=trustees[0])  # paid meanwhile: it is no longer payable
    with pytest.raises(review.ReviewError, match="paid or changed meanwhile"):
        review.pay_batch(fund, grants, method="cheque", first_reference="2001", paid_on=DAY, actor=trustees[1])
    db.session.rollback()
    assert [a.status for a in db.session.scalars(db.select(Application).order_by(Application.id))] == [
        Status.APPROVED, Status.APPROVED, Status.APPROVED]  # nothing of the batch stayed (nor the cash payment)
    payments = review.pay_batch(fund, grants[:2], method="cheque", first_reference="2001", paid_on=DAY,
                                actor=trustees[1])
    db.session.commit()
    assert [(p.reference, p.amount_cents) for p in payments] == [("2001", 10_000), ("2002", 20_000)]
    assert db.session.scalar(db.select(db.func.count(GrantPayment.id))) == 2
    assert -ledger.balance(fund, "Liabilities:GrantsPayable") == 30_000


def test_approvals_payments_and_voids_are_dated_on_the_funds_calendar(fund, trustees, case, monkeypatch):
    # 22:00 on Sunday, November 29 in Los Angeles; UTC is already at Monday the 30th
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    fund_with(fund, 100_000)
    application = case(30_000)
    review.approve(fund, application, 30_000, actor=trustees[0])
    assert ledger.find_entry(fund, "grant.approval", application.id).entry_date == date(2026, 11, 29)
    with pytest.raises(review.ReviewError, match="cannot be in the future"):
        review.record_payment(fund, application, amount_cents=10_000, method="cheque", reference="1101",
                              paid_on=date(2026, 11, 30), actor=trustees[0])
    payment = review.record_payment(fund, application, amount_cents=10_000, method="cheque", reference="1101",
                                    paid_on=date(2026, 11, 29), actor=trustees[0])
    review.void_payment(fund, payment, reason="bounced", actor=trustees[0])
    entry = ledger.find_entry(fund, "grant.payment", payment.id)
    assert ledger.find_entry(fund, "reversal", entry.id).entry_date == date(2026, 11, 29)
