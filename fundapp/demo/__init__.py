"""Every piece of demo data, made through the same services as real data: the people and the roster
(``people``), three months of money (``books``), members' cases and the trustees' queue (``cases``), and
the statement the demo bank would give (``bank``). ``seed-demo`` and ``demo-bank-statement`` call in here;
the test suite's ``demo_fund`` fixture too. None of it is for production: the commands refuse it there.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services as accounts
from fundapp.accounts.models import Member, User
from fundapp.applications.services import update_rules
from fundapp.demo.bank import DEMO_BANK_FEE_CENTS, demo_bank_statement
from fundapp.demo.books import seed_demo_books
from fundapp.demo.cases import seed_demo_cases
from fundapp.demo.people import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS, demo_phone, demo_roster_csv
from fundapp.extensions import db
from fundapp.funds.models import Fund

__all__ = ["DEMO_BANK_FEE_CENTS", "DEMO_DOMAIN", "DEMO_PASSWORD", "DEMO_USERS", "DemoSeeded", "demo_bank_statement",
           "demo_phone", "demo_roster_csv", "holds_real_data", "is_seeded", "seed_demo", "seed_demo_books",
           "seed_demo_cases"]


@dataclass(frozen=True)
class DemoSeeded:
    entries: int  # journal entries posted
    cases: int  # members' applications made


def is_seeded() -> bool:
    """Whether the demo's first account (the treasurer) is already there."""
    return bool(db.session.scalar(db.select(db.func.count(User.id)).where(User.email == DEMO_USERS[0][0])))


def holds_real_data() -> bool:
    """Any account outside the demo domain, or any roster entry of a fund that is not the demo's."""
    real_users = db.session.scalar(db.select(db.func.count(User.id)).where(~User.email.like(f"%@{DEMO_DOMAIN}")))
    real_members = db.session.scalar(
        db.select(db.func.count(Member.id)).join(Fund, Member.fund_id == Fund.id).where(Fund.is_demo.is_(False)))
    return bool(real_users or real_members)


def seed_demo(fund: Fund, today: date) -> DemoSeeded:
    """Make ``fund`` the demo fund: one account per role, a 50-member roster (the applicant linked to its
    first member), three months of books and of cases. Does not commit."""
    fund.is_demo = True
    if fund.reserve_cents != 100000:  # the reserve is a rule: a new version of them, as the rules page does
        update_rules(fund, actor=None, reserve_cents=100000)
    for email, name, roles in DEMO_USERS:
        accounts.create_user(fund, email=email, name=name, password=DEMO_PASSWORD, roles=roles)
    roster_service.import_roster(fund, demo_roster_csv())
    applicant = accounts.find_user_by_email(DEMO_USERS[3][0])
    roster_service.link_member(applicant, fund, member_id="D-1000", last_name="Applicant", phone_last4=demo_phone(0))
    entries = seed_demo_books(fund, today)
    treasurer, tom, tina = (accounts.find_user_by_email(email) for email, _name, _roles in DEMO_USERS[:3])
    treasurer.is_operator = True  # the demo's treasurer is also the host's operator: /host/ opens a second fund
    cases = seed_demo_cases(fund, today, treasurer=treasurer, trustees=[tom, tina], password=DEMO_PASSWORD)
    return DemoSeeded(entries=entries, cases=cases)
