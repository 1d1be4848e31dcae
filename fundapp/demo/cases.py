"""Made-up hardship cases for the demo fund, made through the same services as the pages.

Three months of grants (members apply, trustees approve, the treasurer pays by
cheque), then a queue for the trustees to work when they sign in: a $700 rent
case with its lease, approved by Tom and waiting for a second trustee; a small
utilities case from a member who had a grant before; and a question waiting for
the member's answer.
"""
from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, time, timedelta

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from fundapp.accounts import membership as roster_service
from fundapp.accounts import services as accounts
from fundapp.accounts.models import Member, Role, User
from fundapp.applications import documents as application_documents
from fundapp.applications import services as applications
from fundapp.applications.models import Application
from fundapp.demo.people import DEMO_DOMAIN
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.mail import OutboxMessage
from fundapp.review import services as review

NEEDS = {  # category: (who is paid, their name, the need)
    "rent": ("landlord", "Riverside Property Management",
             "Rent for this month; the strike pay does not cover it and the landlord has written."),
    "utilities": ("utility", "City Power & Light", "The electricity bill is overdue and there is a disconnection notice."),
    "food": ("member", "", "Groceries for the family for the next two weeks."),
    "medical": ("provider", "Main Street Pharmacy", "A prescription our insurance no longer covers during the strike."),
    "childcare": ("provider", "Sunrise Daycare", "Daycare fees so I can keep doing picket shifts."),
    "transportation": ("member", "", "Car insurance payment due; I drive two other strikers to the line."),
}
STREETS = ["Elm St", "Oak Ave", "Maple Rd", "Cedar Ln", "Pine St", "Birch Blvd", "Calle Luna", "Main St"]


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _lease_pdf(tenant: str) -> bytes:
    """A one-page made-up lease, so the demo case has a document to open."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=letter)
    page.setTitle("Lease (demo)")
    page.setFont("Helvetica-Bold", 16)
    page.drawString(72, 720, "Residential lease (made up for the demo)")
    page.setFont("Helvetica", 11)
    for n, line in enumerate([f"Tenant: {tenant}", "Landlord: Riverside Property Management LLC",
                              "Premises: 14 Elm St, Apt 3", "Monthly rent: $1,250.00, due on the 1st",
                              "Balance owed as of this notice: $700.00"]):
        page.drawString(72, 680 - 18 * n, line)
    page.showPage()
    page.save()
    return buffer.getvalue()


def _striker(fund: Fund, member: Member, password: str) -> User:
    user = accounts.create_user(fund, email=f"striker-{member.member_id.lower()}@{DEMO_DOMAIN}",
                                name=f"{member.first_name} {member.last_name}", password=password,
                                roles=[Role.APPLICANT], language="es" if member.id % 4 == 0 else "en")
    roster_service.link_member(user, fund, member_id=member.member_id, last_name=member.last_name,
                         phone_last4=member.phone_last4)
    return user


def _apply(fund: Fund, user: User, member: Member, category: str, cents: int, on: date) -> Application:
    payee, payee_name, need = NEEDS[category]
    application = applications.start_or_resume(user, fund)
    applications.save_draft(
        application, actor=user, category=category, amount_requested_cents=cents, household_size=1 + member.id % 5,
        household_members="", address=f"{10 + member.id} {STREETS[member.id % len(STREETS)]}",
        phone=f"555-01{member.id:02d}", payee_kind=payee,
        payee_name=payee_name,
        payee_details="" if payee == "member" else f"Account {7000 + member.id}", need=need, attested=True)
    applications.submit(application, actor=user, fund=fund)
    application.submitted_at = _at(on, 10)
    return application


def seed_demo_cases(fund: Fund, today: date, *, treasurer: User, trustees: list[User], password: str,
                    seed: int = 5) -> int:
    """Grants spread over the last three months and an open queue; returns the number of applications."""
    rng = random.Random(seed)  # nosec B311 # made-up demo data, not security
    tom, tina = trustees
    # The demo fund's rules let a month's rent through in one application (the defaults cap a week at $300).
    applications.update_rules(fund, actor=treasurer, weekly_cap_cents=1_000_00, category_cap_cents=1_000_00)
    members = list(db.session.scalars(db.select(Member).where(
        Member.fund_id == fund.id, Member.on_strike.is_(True), Member.user_id.is_(None)).order_by(Member.id)))
    start = today - timedelta(days=88)
    made = 0
    for n, member in enumerate(members[:30]):
        on = start + timedelta(days=3 * n)
        category = rng.choice(list(NEEDS))
        cents = rng.choice([10_000, 15_000, 20_000, 25_000, 30_000])
        application = _apply(fund, _striker(fund, member, password), member, category, cents, on)
        decider = (tom, tina)[n % 2]
        review.approve(fund, application, cents, actor=decider, criteria="need and documents checked (demo)",
                       decided_on=min(on + timedelta(days=1), today))
        review.record_payment(fund, application, amount_cents=cents, method="cheque", reference=str(2000 + n),
                              paid_on=min(on + timedelta(days=3), today), actor=treasurer)
        made += 1
    # The queue the trustees find today.
    large, asked = members[30:32]
    small = members[0]  # had a grant three months ago, so the queue shows it against the caps
    rent = _apply(fund, _striker(fund, large, password), large, "rent", 70_000, today - timedelta(days=2))
    application_documents.add_documents(rent, [FileStorage(io.BytesIO(_lease_pdf(f"{large.first_name} {large.last_name}")),
                                                  filename="lease.pdf", content_type="application/pdf")],
                               actor=db.session.get(User, rent.applicant_id))
    review.approve(fund, rent, 70_000, actor=tom, criteria="lease and the landlord's letter read (demo)")
    _apply(fund, db.session.get(User, small.user_id), small, "utilities", 12_500, today - timedelta(days=1))
    question = _apply(fund, _striker(fund, asked, password), asked, "medical", 18_000, today - timedelta(days=4))
    review.ask_question(fund, question, "Could you add the pharmacy's estimate for the prescription?", actor=tina)
    # Made-up members get no mail: the services queued their notices like real ones.
    db.session.execute(db.delete(OutboxMessage).where(OutboxMessage.to_address.like(f"%@{DEMO_DOMAIN}")))
    return made + 3
