"""No page's query count grows with its rows (no N+1): each list page is loaded with a few rows and with
four times as many, and must run the same number of queries. (The review queue has its own test.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fundapp.donations import offline
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from tests.conftest import run_worker_once, sign_in
from tests.factories import gift


def queries_for(client, url: str) -> int:
    seen = []

    def count(*_args, **_kwargs):
        seen.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def same_for_more_rows(client, url: str, add_rows, few: int = 3, before_each=lambda: None) -> tuple[int, int]:
    add_rows(few)
    client.get(url)  # the first request also fills what later ones find cached
    before_each()
    before = queries_for(client, url)
    add_rows(few * 3)
    before_each()
    return before, queries_for(client, url)


def _offline_gifts(fund):
    made = [0]

    def add(count):
        for _ in range(count):
            made[0] += 1
            offline.record_offline_gift(fund, name=f"Donor {made[0]}", email=f"d{made[0]}@example.org",
                                          amount_cents=1_000 + made[0], method="cash", received_on=clock.today(fund),
                                          notify=False)
        db.session.commit()
    return add


def test_the_gifts_list_and_the_audit_trail_cost_the_same_for_more_rows(client, create_user, fund):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    before, after = same_for_more_rows(client, "/admin/donations/", _offline_gifts(fund))
    assert before == after
    before, after = same_for_more_rows(client, "/audit/", _offline_gifts(fund))
    assert before == after


@pytest.mark.parametrize("url", ["/review/payments", "/review/dashboard", "/reports/"])
def test_trustee_pages_cost_the_same_for_more_grants(client, create_user, fund, grants, url):  # noqa: F811
    create_user("tess@example.org", "treasurer", "trustee")
    gift(fund, 50_000_00, clock.today(fund) - timedelta(days=40))
    made = [0]

    def add(count):
        for _ in range(count):
            made[0] += 1
            grants(100_00 + made[0], category=("rent", "food", "medical")[made[0] % 3],
                   day=clock.today(fund) - timedelta(days=made[0] % 20))
        _offline_gifts(fund)(count)

    sign_in(client, "tess@example.org")
    before, after = same_for_more_rows(client, url, add)
    assert before == after


def test_the_public_page_costs_the_same_for_more_grants(client, fund, grants):  # noqa: F811
    gift(fund, 50_000_00, clock.today(fund) - timedelta(days=60))
    made = [0]

    def add(count):
        for _ in range(count):
            made[0] += 1
            grants(100_00 + made[0], category=("rent", "food", "medical")[made[0] % 3],
                   day=clock.today(fund) - timedelta(days=7 + made[0] % 30))
    from fundapp.reporting import figures

    # Measured without the page's cache: the figures themselves are summed in a fixed number of queries.
    before, after = same_for_more_rows(client, "/transparency", add, few=6, before_each=figures._PUBLIC_CACHE.clear)
    assert before == after


def test_paid_grants_do_not_add_queries_to_the_payments_page(client, create_user, fund, grants):  # noqa: F811
    create_user("tess@example.org", "treasurer", "trustee")
    gift(fund, 50_000_00, clock.today(fund) - timedelta(days=40))
    sign_in(client, "tess@example.org")

    def add(count):
        for _ in range(count):
            application = grants(150_00, day=clock.today(fund) - timedelta(days=2))
            if application.id % 2:
                tom = db.session.scalar(db.select(review.User).filter_by(email="tom@example.org"))
                review.record_payment(fund, application, amount_cents=50_00, method="cash", reference="",
                                      paid_on=clock.today(fund), actor=tom)
        db.session.commit()
        assert db.session.scalar(db.select(sa.func.count(GrantPayment.id))) > 0

    before, after = same_for_more_rows(client, "/review/payments", add)
    assert before == after


def test_the_members_list_of_applications_costs_the_same_for_more(client, create_user, fund):
    from fundapp.accounts.models import Member
    from fundapp.applications.models import Application
    from fundapp.applications.services import current_rules

    rosa = create_user("rosa@example.org", "applicant")
    member = Member(fund_id=fund.id, member_id="Q-1", first_name="Rosa", last_name="Q", worksite="North", unit="U",
                    on_strike=True, user_id=rosa.id)
    db.session.add(member)
    db.session.commit()
    sign_in(client, "rosa@example.org")

    def add(count):
        for n in range(count):
            application = Application(fund_id=fund.id, applicant_id=rosa.id, member_id=member.id,
                                      rules_id=current_rules(fund).id, status="withdrawn" if n % 2 else "paid",
                                      category="rent", amount_requested_cents=5_000, amount_approved_cents=5_000,
                                      amount_paid_cents=5_000 if n % 2 == 0 else 0)
            db.session.add(application)
            if n % 2 == 0:  # a paid grant has its payment (the database holds them equal)
                db.session.flush()
                db.session.add(GrantPayment(application_id=application.id, amount_cents=5_000, method="cash",
                                            paid_on=clock.today(fund), payee_name="Rosa Q", recorded_by_id=rosa.id))
        db.session.commit()

    before, after = same_for_more_rows(client, "/my", add)
    assert before == after


def test_the_donor_portal_costs_the_same_for_more_gifts(client, fund, smtp):
    import re

    def add(count):
        for _ in range(count):
            offline.record_offline_gift(fund, name="Dana", email="dana@example.org", amount_cents=2_000,
                                          method="cash", received_on=clock.today(fund), notify=False)
        db.session.commit()

    add(1)
    client.post("/donor/login", data={"email": "dana@example.org"})
    run_worker_once()
    link = re.search(r"https?://[^/\s]+(/donor/link/\S+)", smtp.messages[-1].get_body(("plain",)).get_content()).group(1)
    client.get(link)
    before, after = same_for_more_rows(client, "/donor/", add)
    assert before == after


@pytest.mark.parametrize("url", ["/admin/roster", "/admin/users"])
def test_the_roster_and_the_people_cost_the_same_for_more(client, create_user, fund, url):
    from fundapp.accounts import services as accounts
    from fundapp.accounts.models import Member

    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    made = [0]

    def add(count):
        for _ in range(count):
            made[0] += 1
            user = accounts.create_user(fund, email=f"p{made[0]}@example.org", name=f"Person {made[0]}",
                                        password="a long passphrase here", roles=["applicant"])
            db.session.add(Member(fund_id=fund.id, member_id=f"R-{made[0]}", first_name="P", last_name=str(made[0]),
                                  worksite="North", unit="U", on_strike=True, user_id=user.id))
        db.session.commit()

    before, after = same_for_more_rows(client, url, add)
    assert before == after
