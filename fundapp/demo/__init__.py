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
from datetime import date, datetime, time, timedelta, timezone

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from fundapp.accounts import services as accounts
from fundapp.accounts.models import Member, Role, User
from fundapp.applications import services as applications
from fundapp.applications.models import Application
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.mail import OutboxMessage
from fundapp.review import services as review

DEMO_DOMAIN = "demo.example.org"
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
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


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
    accounts.link_member(user, fund, member_id=member.member_id, last_name=member.last_name,
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
    applications.add_documents(rent, [FileStorage(io.BytesIO(_lease_pdf(f"{large.first_name} {large.last_name}")),
                                                  filename="lease.pdf", content_type="application/pdf")],
                               actor=db.session.get(User, rent.applicant_id))
    review.approve(fund, rent, 70_000, actor=tom, criteria="lease and the landlord's letter read (demo)")
    _apply(fund, db.session.get(User, small.user_id), small, "utilities", 12_500, today - timedelta(days=1))
    question = _apply(fund, _striker(fund, asked, password), asked, "medical", 18_000, today - timedelta(days=4))
    review.ask_question(fund, question, "Could you add the pharmacy's estimate for the prescription?", actor=tina)
    # Made-up members get no mail: the services queued their notices like real ones.
    db.session.execute(db.delete(OutboxMessage).where(OutboxMessage.to_address.like(f"%@{DEMO_DOMAIN}")))
    return made + 3


#: The demo bank's monthly service fee (cents): a line the books lack until the treasurer books it.
DEMO_BANK_FEE_CENTS = 1_200


def demo_bank_statement(fund: Fund, month: str, *, outstanding_days: int = 3) -> tuple[str, int, list[str]]:
    """What the demo fund's bank would show for ``month`` (YYYY-MM), as the CSV a bank's website gives:
    every deposit, Stripe payout and grant payment the books hold on Assets:Bank that month, except the
    cheques written in its last ``outstanding_days`` days (not yet cashed), plus the bank's service fee on
    the last day. Payments voided (with their reversal) never reached the bank. Returns the CSV, the
    statement's ending balance in cents (everything before the month taken as through the bank), and the
    references of the cheques left outstanding."""
    import calendar
    import csv

    from fundapp.ledger import services as ledger
    from fundapp.ledger.models import Account, JournalEntry, Posting
    from fundapp.review.models import GrantPayment

    year, number = (int(part) for part in ledger.parse_month(month).split("-"))
    start, end = date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    rows = db.session.execute(
        db.select(Posting.amount_cents, JournalEntry.id, JournalEntry.entry_date, JournalEntry.source_kind,
                  JournalEntry.source_id, JournalEntry.reversal_of_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id).join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.fund_id == fund.id, Account.name == "Assets:Bank",
               JournalEntry.entry_date >= start, JournalEntry.entry_date <= end)
        .order_by(JournalEntry.entry_date, JournalEntry.id)).all()
    voided = {row.reversal_of_id for row in rows if row.reversal_of_id} | {row.id for row in rows if row.reversal_of_id}
    payments = {str(p.id): p for p in db.session.scalars(db.select(GrantPayment).where(GrantPayment.paid_on >= start,
                                                                                       GrantPayment.paid_on <= end))}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Posted Date", "Description", "Debit", "Credit", "Check Number"])
    outstanding, bank_change = [], 0
    for row in rows:
        if row.id in voided:
            continue
        payment = payments.get(row.source_id) if row.source_kind == "grant.payment" else None
        reference = payment.reference if payment is not None and payment.method == "cheque" else ""
        if payment is not None and payment.method == "cheque" and row.entry_date > end - timedelta(days=outstanding_days):
            outstanding.append(reference)  # written, not yet cashed
            continue
        description = {"stripe.payout": "STRIPE TRANSFER", "offline.deposit": "COUNTER DEPOSIT"}.get(
            row.source_kind, f"CHECK {reference}" if reference else "ACH PAYMENT")
        cleared = row.entry_date
        amount = f"{abs(row.amount_cents) // 100}.{abs(row.amount_cents) % 100:02d}"
        writer.writerow([cleared.strftime("%m/%d/%Y"), description, amount if row.amount_cents < 0 else "",
                         amount if row.amount_cents > 0 else "", reference])
        bank_change += row.amount_cents
    writer.writerow([end.strftime("%m/%d/%Y"), "SERVICE FEE", f"{DEMO_BANK_FEE_CENTS // 100}.{DEMO_BANK_FEE_CENTS % 100:02d}",
                     "", ""])
    before = ledger.balance(fund, "Assets:Bank", start - timedelta(days=1))
    return out.getvalue(), before + bank_change - DEMO_BANK_FEE_CENTS, outstanding
