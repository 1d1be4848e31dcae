"""Duplicate and risk flags: matching and non-matching pairs; flags never refuse anything."""
from __future__ import annotations

import pytest

from fundapp.accounts.models import Member
from fundapp.applications.flags import flags_for
from fundapp.applications.models import Application
from fundapp.applications.services import current_rules
from fundapp.extensions import db


@pytest.fixture
def make(fund, create_user):
    """make(n, **answers): a submitted application of the n-th member, under the rules in force."""
    made = {}

    def build(n: int, **answers) -> Application:
        if n not in made:
            user = create_user(f"m{n}@example.org", "applicant")
            member = Member(fund_id=fund.id, member_id=f"M-{n}", first_name="M", last_name=str(n),
                            worksite="North", unit="U", on_strike=True, user_id=user.id)
            db.session.add(member)
            db.session.flush()
            made[n] = (user, member)
        user, member = made[n]
        values = {"category": "rent", "amount_requested_cents": 40_000, "status": "submitted", **answers}
        application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                                  rules_id=current_rules(fund).id,
                                  **values)
        db.session.add(application)
        db.session.commit()
        return application

    return build


@pytest.mark.parametrize("kind, mine, theirs, flagged", [
    ("address", {"address": "12 Mill Street, Apt 4"}, {"address": "12 mill st apt. 4"}, True),
    ("address", {"address": "12 Mill Street"}, {"address": "14 Mill Street"}, False),
    ("payee", {"payee_kind": "landlord", "payee_details": "Acct 55-1234"},
     {"payee_kind": "utility", "payee_details": "ACCT 551234"}, True),
    ("payee", {"payee_kind": "member", "payee_details": "Acct 55-1234"},
     {"payee_kind": "member", "payee_details": "Acct 55-1234"}, False),  # paying oneself is not a shared payee
    ("phone", {"phone": "(555) 010-1234"}, {"phone": "+1 555 010 1234"}, True),
    ("phone", {"phone": "555-010-1234"}, {"phone": "555-010-9999"}, False),
    ("household", {"household_members": "Ana, Leo y Sofía"}, {"household_members": "sofia, Leo"}, True),
    ("household", {"household_members": "Ana, Leo"}, {"household_members": "Ana, Marco"}, False),
])
def test_matching_and_non_matching_pairs(make, kind, mine, theirs, flagged):
    other = make(2, **theirs)
    application = make(1, **mine)
    found = [flag for flag in flags_for(application) if flag.kind == kind]
    assert bool(found) == flagged
    if flagged:
        assert found[0].matches == [other.id]


def test_the_same_member_twice_is_not_a_duplicate(make):
    make(1, address="12 Mill St")
    assert flags_for(make(1, address="12 Mill St")) == []


def test_an_amount_far_above_the_category_median_is_flagged(make):
    for n, cents in enumerate([30_000, 35_000, 40_000, 45_000, 50_000], start=2):
        make(n, amount_requested_cents=cents)
    assert [f.kind for f in flags_for(make(1, amount_requested_cents=150_000))] == ["amount"]  # 3.75x the median
    assert flags_for(make(1, amount_requested_cents=100_000)) == []  # 2.5x: usual enough
    assert flags_for(make(1, amount_requested_cents=150_000, category="food")) == []  # too few to compare


def test_a_request_the_rules_allow_is_never_an_outlier(make, fund):
    from fundapp.applications.services import update_rules

    update_rules(fund, actor=None, category_cap_cents=1_000_00, weekly_cap_cents=1_000_00)
    db.session.commit()
    for n, cents in enumerate([15_000, 18_000, 20_000, 20_000, 22_000, 25_000], start=2):
        make(n, amount_requested_cents=cents)
    assert flags_for(make(1, amount_requested_cents=85_000)) == []  # 4.2x the median, but within the $1,000 cap
    assert [f.kind for f in flags_for(make(1, amount_requested_cents=120_000))] == ["amount"]  # over the cap


def test_a_category_whose_requests_vary_widely_flags_less_readily(make):
    for n, cents in enumerate([10_000, 12_000, 15_000, 40_000, 60_000, 70_000], start=2):
        make(n, amount_requested_cents=cents)  # median $275, quartiles $115 and $625
    assert flags_for(make(1, amount_requested_cents=200_000)) == []  # 7.3x the median, within the spread
    assert [f.kind for f in flags_for(make(1, amount_requested_cents=250_000))] == ["amount"]
