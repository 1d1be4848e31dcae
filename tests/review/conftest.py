"""The trustees' fixtures: two trustees, and a striking member's submitted application."""
from __future__ import annotations

import pytest

from fundapp.accounts.models import Member
from fundapp.applications.models import Application
from fundapp.applications.services import current_rules
from fundapp.extensions import db


@pytest.fixture
def trustees(create_user):
    return create_user("tom@example.org", "trustee"), create_user("tina@example.org", "trustee")


@pytest.fixture
def case(fund, create_user):
    """case(cents): a submitted application by a new striking member."""
    count = [0]

    def make(cents: int, status: str = "submitted") -> Application:
        count[0] += 1
        user = create_user(f"striker{count[0]}@example.org", "applicant")
        member = Member(fund_id=fund.id, member_id=f"S-{count[0]}", first_name="S", last_name=str(count[0]),
                        worksite="North", unit="U", on_strike=True, user_id=user.id)
        db.session.add(member)
        db.session.flush()
        application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                                  rules_id=current_rules(fund).id, status=status, category="rent",
                                  amount_requested_cents=cents, amount_paid_cents=0, payee_kind="landlord",
                                  payee_name="Mill St Rentals", payee_details="Acct 7781")
        db.session.add(application)
        db.session.commit()
        return application

    return make
