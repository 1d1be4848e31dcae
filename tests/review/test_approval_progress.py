"""Trustees see, before they click, how many approvals a grant needs, who gave them, and why they may not act."""
from __future__ import annotations

from fundapp.accounts.models import Member
from fundapp.audit.models import AuditRecord
from fundapp.extensions import db
from fundapp.review import recusal, services
from tests.conftest import sign_in
from tests.factories import DAY, fund_with


def test_the_queue_counts_approvals_and_filters_those_waiting_for_me(fund, create_user, case, client):
    fund_with(fund, 500_000)
    tom = create_user("tom@example.org", "trustee", name="Tom Trustee")
    create_user("tina@example.org", "trustee", name="Tina Trustee")
    large, small = case(700_00), case(100_00)
    assert services.approve(fund, large, 700_00, actor=tom) is False  # above $500: two trustees
    db.session.commit()

    sign_in(client, "tina@example.org")
    queue = client.get("/review/").get_data(as_text=True)
    assert "1 of 2 approvals" in queue and "(Tom Trustee)" in queue and "waiting for you" in queue
    assert '<details class="filters">' in queue  # the filters wait closed, so a phone shows the cases first
    mine = client.get("/review/?mine=1").get_data(as_text=True)
    assert f"#{large.id}<" in mine and f"#{small.id}<" not in mine
    assert '<details class="filters" open>' in mine and "(filters on)" in mine and "Clear the filters" in mine
    client.post("/logout")

    sign_in(client, "tom@example.org")  # Tom gave his: nothing waits for him
    queue = client.get("/review/").get_data(as_text=True)
    assert "1 of 2 approvals" in queue and "waiting for you" not in queue
    assert "No application is waiting for your approval." in client.get("/review/?mine=1").get_data(as_text=True)
    page = client.get(f"/review/{large.id}").get_data(as_text=True)
    assert 'id="approved-already"' in page and "You approved $700.00" in page
    assert f'action="/review/{large.id}/approve"' not in page  # no second Approve for him


def test_the_case_says_how_many_trustees_a_large_amount_needs_before_the_first_click(fund, create_user, case,
                                                                                      client):
    fund_with(fund, 500_000)
    create_user("tom@example.org", "trustee")
    large, small = case(700_00), case(100_00)
    sign_in(client, "tom@example.org")
    page = client.get(f"/review/{large.id}").get_data(as_text=True)
    assert "This amount needs the approval of 2 trustees; 0 so far." in page
    assert f'action="/review/{large.id}/approve"' in page
    assert "needs the approval of" not in client.get(f"/review/{small.id}").get_data(as_text=True)


def test_a_recused_trustee_sees_why_instead_of_the_decision_forms(fund, create_user, case, client):
    fund_with(fund, 500_000)
    tom = create_user("tom@example.org", "trustee")
    application = case(300_00)
    member = db.session.get(Member, application.member_id)
    recusal.declare_relationship(fund, tom, member.member_id, "my brother")
    db.session.commit()

    sign_in(client, "tom@example.org")
    page = client.get(f"/review/{application.id}").get_data(as_text=True)
    assert 'id="recused"' in page and "(my brother)" in page
    for action in ("approve", "deny", "question"):
        assert f'action="/review/{application.id}/{action}"' not in page
    # looking is not acting: a recusal is recorded only when a trustee tries to decide
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id))
                             .filter_by(action="application.recusal")) == 0
    client.post(f"/review/{application.id}/approve", data={"amount": "300"})
    assert db.session.scalar(db.select(db.func.count(AuditRecord.id))
                             .filter_by(action="application.recusal")) == 1


def test_voiding_a_payment_asks_first_and_says_what_follows(fund, create_user, case, client):
    from fundapp.review.models import GrantPayment

    fund_with(fund, 500_000)
    tom = create_user("tom@example.org", "trustee")
    application = case(300_00)
    services.approve(fund, application, 300_00, actor=tom)
    services.record_payment(fund, application, amount_cents=300_00, method="cheque", reference="2042",
                            paid_on=DAY, actor=tom)
    db.session.commit()
    payment = db.session.scalar(db.select(GrantPayment))
    sign_in(client, "tom@example.org")
    asked = client.post(f"/review/payments/{payment.id}/void", data={"reason": "cheque lost"}).get_data(as_text=True)
    assert "Void the payment of $300.00" in asked and "2042" in asked and "$300.00 still to pay" in asked
    db.session.refresh(payment)
    assert payment.voided_at is None
    client.post(f"/review/payments/{payment.id}/void", data={"reason": "cheque lost", "confirmed": "yes"})
    db.session.refresh(payment)
    assert payment.voided_at is not None and payment.void_reason == "cheque lost"
