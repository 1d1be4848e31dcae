"""Small factories shared by tests (fixtures live in the conftest.py files)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

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
