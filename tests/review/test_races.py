"""A grant's money under concurrency: payments, batches and approvals released at the same moment.

Races are real only on PostgreSQL with separate connections (TESTING.md): each worker is a thread with
its own app context, so its own session and connection, loads what it works on, then waits at a barrier
and acts; the test then reads the database. Each race runs ROUNDS times. On SQLite (one writer) the
same services are checked one after another by the tests at the end.
"""
from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from fundapp.accounts.models import User
from fundapp.applications.models import Application
from fundapp.applications.states import Status
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry
from fundapp.review import services as review
from fundapp.review.checks import check_grants
from fundapp.review.models import Approval, GrantPayment
from tests.factories import DAY, fund_with
from tests.security_figures import ROUNDS

ON_POSTGRES = bool(os.environ.get("FUNDAPP_TEST_DATABASE_URL"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="races are real only on PostgreSQL (TESTING.md)")


def race(app, acts) -> list[str]:
    """Run each ``act(fund)`` in its own thread and session, released together; each outcome as a word:
    "done", "already" (AlreadyDone), "refused" (another ReviewError), or the unexpected exception's name."""
    barrier = threading.Barrier(len(acts))
    outcomes: list[str] = [""] * len(acts)

    def run(n, act):
        with app.app_context():
            try:
                fund = db.session.scalars(db.select(Fund)).one()
                work = act(fund)  # load first, then act at the barrier
                barrier.wait(30)
                work()
                db.session.commit()
                outcomes[n] = "done"
            except review.AlreadyDone:
                outcomes[n] = "already"
            except review.ReviewError:
                outcomes[n] = "refused"
            except Exception as exc:  # noqa: BLE001 # a 500 in production: the test fails on it by name
                outcomes[n] = type(exc).__name__
            finally:
                db.session.rollback()
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n, act)) for n, act in enumerate(acts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.rollback()  # see what the threads committed
    return outcomes


def pay_in_full(application_id: int, trustee_id: int):
    def act(fund):
        application, actor = db.session.get(Application, application_id), db.session.get(User, trustee_id)
        owed = application.amount_approved_cents - application.amount_paid_cents
        return lambda: review.record_payment(fund, application, amount_cents=owed, method="cheque", reference="1",
                                             paid_on=DAY, actor=actor)
    return act


def pay_batch(application_ids: list[int], trustee_id: int):
    def act(fund):
        chosen = [db.session.get(Application, i) for i in application_ids]
        actor = db.session.get(User, trustee_id)
        return lambda: review.pay_batch(fund, chosen, method="cheque", first_reference="500", paid_on=DAY,
                                        actor=actor)
    return act


def approve(application_id: int, trustee_id: int, cents: int):
    def act(fund):
        application, actor = db.session.get(Application, application_id), db.session.get(User, trustee_id)
        return lambda: review.approve(fund, application, cents, actor=actor)
    return act


def assert_paid_once(fund, application_ids) -> None:
    """Each grant: payments (not void) sum to what it says was paid, which is all it was approved, once."""
    for application_id in application_ids:
        application = db.session.get(Application, application_id)
        db.session.refresh(application)
        payments = db.session.scalars(db.select(GrantPayment).filter_by(application_id=application_id)).all()
        assert sum(p.amount_cents for p in payments if p.voided_at is None) == application.amount_paid_cents
        assert application.amount_paid_cents == application.amount_approved_cents, application_id
        assert len(payments) == 1 and application.status == Status.PAID
    owed = db.session.scalar(db.select(db.func.sum(Application.amount_approved_cents - Application.amount_paid_cents)))
    assert -ledger.balance(fund, "Liabilities:GrantsPayable") == owed
    assert check_grants(fund) == []


@pytest.fixture
def approved(fund, trustees, case):
    """approved(cents): a new grant approved by one trustee and committed, ready to pay."""
    fund_with(fund, 10_000_000)

    def make(cents: int = 30_000) -> Application:
        application = case(cents)
        assert review.approve(fund, application, cents, actor=trustees[0])
        db.session.commit()
        return application

    return make


@postgres_only
@pytest.mark.parametrize("payers", [2, 4])
def test_simultaneous_full_payments_pay_a_grant_once(app, fund, trustees, create_user, approved, payers):
    people = [*trustees, *(create_user(f"p{n}@example.org", "trustee") for n in range(payers - 2))]
    tally: Counter = Counter()
    for _round in range(ROUNDS):
        grant = approved()
        outcomes = race(app, [pay_in_full(grant.id, person.id) for person in people])
        tally.update(outcomes)
        assert sorted(outcomes) == ["already"] * (payers - 1) + ["done"], outcomes
        assert_paid_once(fund, [grant.id])
    print(f"\n{payers} payers x {ROUNDS} rounds: {dict(tally)}")


@postgres_only
def test_two_batches_over_the_same_grants_pay_each_grant_once(app, fund, trustees, approved):
    for _round in range(ROUNDS):
        grants = [approved(cents).id for cents in (10_000, 20_000, 30_000)]
        outcomes = race(app, [pay_batch(grants, trustees[0].id), pay_batch(grants, trustees[1].id)])
        assert sorted(outcomes) == ["already", "done"], outcomes
        assert_paid_once(fund, grants)


@postgres_only
def test_a_batch_racing_a_single_payment_pays_each_cent_once(app, fund, trustees, approved):
    tally: Counter = Counter()
    for _round in range(ROUNDS):
        first, second = approved(10_000).id, approved(20_000).id
        outcomes = race(app, [pay_batch([first, second], trustees[0].id), pay_in_full(first, trustees[1].id)])
        tally[tuple(outcomes)] += 1
        assert sorted(outcomes) == ["already", "done"], outcomes
        if outcomes[0] == "done":  # the batch won: it paid both
            assert_paid_once(fund, [first, second])
        else:  # the single payment won: the batch paid nothing and can be chosen again
            assert_paid_once(fund, [first])
            assert db.session.get(Application, second).amount_paid_cents == 0
            assert db.session.scalar(db.select(db.func.count()).select_from(GrantPayment)
                                     .filter_by(application_id=second)) == 0
        assert check_grants(fund) == []
    print(f"\nbatch vs single x {ROUNDS} rounds (batch, single): {dict(tally)}")


@postgres_only
@pytest.mark.parametrize("start", [Status.SUBMITTED, Status.IN_REVIEW])
@pytest.mark.parametrize("deciders", [2, 3])
def test_trustees_approving_at_once_never_leave_a_case_undecided(app, fund, trustees, create_user, case, start,
                                                                  deciders):
    """A $800 grant needs two approvals; two or three trustees approve at the same moment."""
    fund_with(fund, 10_000_000)
    people = [*trustees, *(create_user(f"d{n}@example.org", "trustee") for n in range(deciders - 2))]
    for _round in range(ROUNDS):
        grant = case(80_000, status=start)
        outcomes = race(app, [approve(grant.id, person.id, 80_000) for person in people])
        # The third, if any, finds the grant decided: refused with a message, never a 500.
        assert sorted(outcomes) == ["done", "done"] + ["refused"] * (deciders - 2), outcomes
        application = db.session.get(Application, grant.id)
        db.session.refresh(application)
        assert application.status == Status.APPROVED and application.amount_approved_cents == 80_000
        assert db.session.scalar(db.select(db.func.count()).select_from(Approval).filter_by(application_id=grant.id)) == 2
        assert ledger.find_entry(fund, "grant.approval", grant.id) is not None
    assert db.session.scalar(db.select(db.func.count()).select_from(JournalEntry)
                             .filter_by(source_kind="grant.approval")) == ROUNDS
    assert check_grants(fund) == []


@postgres_only
@pytest.mark.parametrize("cents", [30_000, 80_000])
def test_a_double_click_on_approve_counts_once_and_says_so(app, fund, trustees, case, cents):
    """One trustee's two identical submissions at once: one approval; the other is told, never a 500."""
    fund_with(fund, 10_000_000)
    for _round in range(ROUNDS):
        grant = case(cents, status=Status.IN_REVIEW)
        outcomes = race(app, [approve(grant.id, trustees[0].id, cents)] * 2)
        assert sorted(outcomes) == ["already", "done"], outcomes
        assert db.session.scalar(db.select(db.func.count()).select_from(Approval).filter_by(application_id=grant.id)) == 1
    booked = db.session.scalar(db.select(db.func.count()).select_from(JournalEntry).filter_by(source_kind="grant.approval"))
    assert booked == (ROUNDS if cents <= 50_000 else 0)  # above $500 the second trustee is still needed


# --- the same rules one after another (both databases) -------------------------------------------


def test_approving_twice_is_answered_plainly(fund, trustees, case):
    fund_with(fund, 1_000_000)
    large, small = case(80_000), case(30_000)
    assert not review.approve(fund, large, 80_000, actor=trustees[0])
    db.session.commit()
    with pytest.raises(review.AlreadyDone, match="already approved this application"):
        review.approve(fund, large, 80_000, actor=trustees[0])
    db.session.rollback()
    assert review.approve(fund, small, 30_000, actor=trustees[0])
    db.session.commit()
    with pytest.raises(review.AlreadyDone, match="already approved; nothing more"):
        review.approve(fund, small, 30_000, actor=trustees[0])


def test_paying_a_paid_grant_again_is_answered_plainly(fund, trustees, approved):
    grant = approved(30_000)
    review.record_payment(fund, grant, amount_cents=30_000, method="cash", reference="", paid_on=DAY,
                          actor=trustees[0])
    db.session.commit()
    with pytest.raises(review.AlreadyDone, match="already paid in full"):
        review.record_payment(fund, grant, amount_cents=30_000, method="cash", reference="", paid_on=DAY,
                              actor=trustees[1])
    db.session.rollback()
    assert_paid_once(fund, [grant.id])


def test_a_stale_copy_of_a_grant_cannot_overpay_it(app, fund, trustees, approved):
    """What is owed is read again under the lock: a copy loaded before another payment committed (the other
    trustee's page) does not decide the amount."""
    grant = approved(30_000)
    with app.app_context():  # another trustee, another session, pays 20,000 first
        other = db.session.get(Application, grant.id)
        review.record_payment(db.session.get(Fund, fund.id), other, amount_cents=20_000, method="cash",
                              reference="", paid_on=DAY, actor=db.session.get(User, trustees[1].id))
        db.session.commit()
        db.session.remove()
    assert grant.amount_paid_cents == 0  # our copy is stale
    with pytest.raises(review.ReviewError, match=r"\$100.00 still owed"):
        review.record_payment(fund, grant, amount_cents=30_000, method="cash", reference="", paid_on=DAY,
                              actor=trustees[0])
    db.session.rollback()
    review.record_payment(fund, grant, amount_cents=10_000, method="cash", reference="", paid_on=DAY,
                          actor=trustees[0])
    db.session.commit()
    assert grant.amount_paid_cents == 30_000 and grant.status == Status.PAID
    assert check_grants(fund) == []
