"""The database refuses what would break a grant's invariants, whatever writes it (migration 0014), and
``fund check-books`` names each broken one by invariant and grant when the guards were got around.

The raw-SQL refusals need PostgreSQL's triggers; the CHECK on what was paid and the check-books walk run
on both databases.
"""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from fundapp.applications.models import Application
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.review import services as review
from fundapp.review.checks import check_grants
from fundapp.review.models import GrantPayment
from tests.conftest import owner_connection
from tests.factories import DAY, fund_with

ON_POSTGRES = bool(os.environ.get("FUNDAPP_TEST_DATABASE_URL"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="the triggers are PostgreSQL's")


@pytest.fixture
def grant(fund, trustees, case):
    """A $300 grant, approved and paid $100 through the app."""
    fund_with(fund, 100_000)
    application = case(30_000)
    review.approve(fund, application, 30_000, actor=trustees[0])
    review.record_payment(fund, application, amount_cents=10_000, method="cheque", reference="1", paid_on=DAY,
                          actor=trustees[0])
    db.session.commit()
    return application


def refused(statements: list[str], match: str) -> None:
    """Run ``statements`` on a connection of their own; the statement or the commit must be refused."""
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError, match=match):
            for statement in statements:
                conn.execute(sa.text(statement))
            conn.commit()
        conn.rollback()


def test_paying_beyond_the_approval_is_refused_on_both_databases(grant):
    refused([f"UPDATE applications SET amount_paid_cents = 30001 WHERE id = {grant.id}"], "paid_within_approved")
    refused([f"UPDATE applications SET amount_paid_cents = -1 WHERE id = {grant.id}"], "paid_within_approved")
    db.session.refresh(grant)
    assert grant.amount_paid_cents == 10_000


@postgres_only
def test_payments_that_disagree_with_the_grant_are_refused_at_commit(fund, grant, trustees):
    payment = (f"INSERT INTO grant_payments (application_id, amount_cents, method, reference, paid_on, payee_name, "
               f"recorded_by_id, created_at, void_reason) VALUES ({grant.id}, 20000, 'cash', '', '2026-11-20', 'x', "
               f"{trustees[0].id}, now(), '')")
    # A second payment of what is owed, without the grant knowing: the double payment of the race.
    refused([payment], "grant_paid_matches_payments")
    # The grant marked paid in full with no payment behind it.
    refused([f"UPDATE applications SET amount_paid_cents = 30000 WHERE id = {grant.id}"], "grant_paid_matches_payments")
    # A payment removed, shrunk, moved, or a void undone.
    refused([f"DELETE FROM grant_payments WHERE application_id = {grant.id}"], "void it instead")
    refused([f"UPDATE grant_payments SET amount_cents = 5000 WHERE application_id = {grant.id}"], "void it instead")
    review.void_payment(fund, db.session.scalars(db.select(GrantPayment).filter_by(application_id=grant.id)).one(),
                        reason="bounced", actor=trustees[0])
    db.session.commit()
    refused([f"UPDATE grant_payments SET voided_at = NULL WHERE application_id = {grant.id}"], "void it instead")
    # Both sides written together, as the app does, is accepted: the trigger is not what refused the others.
    with db.engine.begin() as conn:
        conn.execute(sa.text(payment))
        conn.execute(sa.text(f"UPDATE applications SET amount_paid_cents = 20000 WHERE id = {grant.id}"))
    assert db.session.scalar(sa.select(Application.amount_paid_cents).where(Application.id == grant.id)) == 20_000


@postgres_only
def test_grants_payable_in_debit_is_refused_at_commit(fund, grant, trustees):
    """A payment entry taking more from GrantsPayable than is owed ($200), booked around the services."""
    with pytest.raises(IntegrityError, match="grants_payable_not_in_debit"):
        ledger.post_entry(fund, entry_date=DAY, memo="too much", source_kind="grant.payment", source_id="999",
                          postings=[("Liabilities:GrantsPayable", 20_001), ("Assets:Bank", -20_001)])
        db.session.commit()
    db.session.rollback()
    ledger.post_entry(fund, entry_date=DAY, memo="exactly what is owed", source_kind="grant.payment", source_id="998",
                      postings=[("Liabilities:GrantsPayable", 20_000), ("Assets:Bank", -20_000)])
    db.session.commit()  # the limit is the debit side, not any payment


@postgres_only
def test_an_approval_beyond_what_is_available_is_refused_at_commit(fund, grant):
    """$1,000 in, $300 granted: $700 available. An approval entry of $700.01 booked around the services."""
    assert ledger.available_to_grant(fund) == 70_000
    with pytest.raises(IntegrityError, match="approval_within_available"):
        ledger.post_entry(fund, entry_date=DAY, memo="too much", source_kind="grant.approval", source_id="9999",
                          postings=[("Expenses:HardshipGrants", 70_001), ("Liabilities:GrantsPayable", -70_001)])
        db.session.commit()
    db.session.rollback()
    ledger.post_entry(fund, entry_date=DAY, memo="all of it", source_kind="grant.approval", source_id="9998",
                      postings=[("Expenses:HardshipGrants", 70_000), ("Liabilities:GrantsPayable", -70_000)])
    db.session.commit()
    assert ledger.available_to_grant(fund) == 0


def test_check_books_names_each_broken_grant_invariant(runner, fund, grant):
    """Someone with the power to switch the guards off marks the grant paid in full without paying it and
    pays $50 with no entry in the books: check-books names both by invariant and grant, and fails."""
    assert runner.invoke(args=["fund", "check-books"]).exit_code == 0
    with owner_connection() as owner:  # a superuser's triggers off
        owner.execute(sa.text(f"UPDATE applications SET amount_paid_cents = 30000 WHERE id = {grant.id}"))
    problems = check_grants(fund)
    assert f"grant_paid_matches_payments: grant {grant.id} says 30000 cents paid of 30000 approved; its payments " \
           f"sum to 10000 cents" in problems
    assert f"grant_payable_matches_owed: grant {grant.id}: the books owe 20000 cents, the grant says 0 cents are " \
           f"owed" in problems
    result = runner.invoke(args=["fund", "check-books"])
    assert result.exit_code == 1
    assert "grant_paid_matches_payments: grant" in result.output and "2 broken invariant(s)" in result.output


def test_check_books_finds_grants_payable_in_debit_and_postings_of_no_grant(runner, fund, grant):
    ledger.post_entry(fund, entry_date=DAY, memo="who knows", source_kind="manual", source_id="m1",
                      postings=[("Liabilities:GrantsPayable", 50_000), ("Assets:Bank", -50_000)])
    db.session.commit()  # no trigger looks at a manual entry: check-books is what finds it
    problems = check_grants(fund)
    assert any(p.startswith("grants_payable_unattributed: entry") for p in problems)
    assert f"grants_payable_not_in_debit: fund {fund.id} has 30000 cents of Liabilities:GrantsPayable in debit" \
        in problems
    assert runner.invoke(args=["fund", "check-books"]).exit_code == 1
