"""Small factories shared by tests (fixtures live in the conftest.py files)."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger

#: The day the trustees' tests book on (an open month).
DAY = date(2026, 11, 20)


def fund_with(fund, cents: int) -> None:
    ledger.post_entry(fund, entry_date=DAY, memo="gifts", source_kind="t", source_id=f"gifts-{cents}",
                      postings=[("Assets:Bank", cents), ("Income:Donations", -cents)])
    db.session.commit()


def submitted_case(fund, user, number: int, cents: int, status: str = "submitted", *, first_name: str = "S",
                   last_name: str | None = None):
    """A striking member (on the roster, linked to ``user``) with an application for ``cents`` in ``status``."""
    from fundapp.accounts.models import Member
    from fundapp.applications.models import Application
    from fundapp.applications.services import current_rules

    member = Member(fund_id=fund.id, member_id=f"S-{number}", first_name=first_name,
                    last_name=last_name or str(number), worksite="North", unit="U", on_strike=True, user_id=user.id)
    db.session.add(member)
    db.session.flush()
    application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                              rules_id=current_rules(fund).id, status=status, category="rent",
                              amount_requested_cents=cents, amount_paid_cents=0, payee_kind="landlord",
                              payee_name="Mill St Rentals", payee_details="Acct 7781")
    db.session.add(application)
    db.session.commit()
    return application

def midday(fund, day: date) -> datetime:
    """Noon of the fund's ``day`` (in its time zone), as the UTC moment Stripe would give."""
    return clock.start_of(fund, day) + timedelta(hours=12)


GOOD = (
    "member_id,first_name,last_name,email,worksite,unit,on_strike\n"
    "A-1,Rosa,Núñez,rosa@example.org,North Plant,Production,yes\n"
    "A-2,Luis,Smith,,South Plant,Maintenance,no\n"
    'A-3,"Mary Ann",O\'Brien,MARY@example.org,"Plant, North",Clerical,YES\n'
)


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


ANSWERS = {"category": "rent", "amount": "450", "household_size": "3", "household_members": "Ana, Leo",
           "address": "12 Mill St", "phone": "555-0101", "payee_kind": "landlord", "payee_name": "Mill St Rentals",
           "payee_details": "Account 7781", "need": "Rent for December is due and I have no strike pay yet.",
           "attested": "y"}


def striker(client, create_user, roster, email="rosa@example.org", member_id="A-1", last_name="Núñez"):
    """An applicant linked to a roster member who is on strike, signed in."""
    from fundapp.accounts import membership as roster_service
    from tests.conftest import sign_in

    user = create_user(email, "applicant")
    roster_service.link_member(user, roster, member_id=member_id, last_name=last_name)
    db.session.commit()
    sign_in(client, email)
    return user


def send(client, **changes):
    return client.post("/apply", data={**ANSWERS, **changes, "submit": "Send"}, content_type="multipart/form-data")


TODAY = date(2026, 11, 25)  # a Wednesday


def figures_time(day):
    from datetime import datetime, time

    return datetime.combine(day, time(9), tzinfo=UTC)


def gift(fund, cents, day):
    ledger.post_entry(fund, entry_date=day, memo="gift", source_kind="t", source_id=f"g{day}{cents}{random.random()}",
                      postings=[("Assets:Bank", cents), ("Income:Donations", -cents)])
    db.session.commit()
