"""CSV files for accountants and spreadsheets: donations, grants, payments, donors, the grants register,
and the anonymised grant counts for members.

Every file is UTF-8 with a byte-order mark (so Excel reads accents), one header row,
ISO dates and plain decimal amounts; text a spreadsheet would run as a formula is
neutralised. Rows stream from the database in batches, so a large file never sits in
memory: ``csv_chunks`` yields text for a streamed download or a file.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from fundapp.accounts.models import Member, User
from fundapp.applications.models import Application
from fundapp.applications.states import GRANTED
from fundapp.donations.models import Donation, Donor
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger.exports import safe_cell
from fundapp.ledger.models import JournalEntry
from fundapp.money import decimal_text
from fundapp.privacy.retention import REMOVED
from fundapp.reporting.figures import join_approval, public_figures
from fundapp.review.models import Approval, GrantPayment

BOM = "\ufeff"
BATCH = 1000


class Amount(str):
    """A decimal amount we wrote ("-12.50"): a number, never a formula, so it is not neutralised."""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Amount, int)):
        return str(value)
    return safe_cell(str(value))


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """The CSV text in pieces of BATCH rows, the byte-order mark first."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_cell(value) for value in row])
        if n % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _money(cents: int | None) -> Amount:
    return Amount(decimal_text(cents or 0))


def donation_rows(fund: Fund) -> Iterator[list]:
    # Plain columns, not ORM objects: a million rows stream at the speed of the csv module.
    query = (db.select(Donation.receipt_year, Donation.receipt_seq, Donation.received_on, Donor.name, Donor.email,
                       Donation.method, Donation.frequency, Donation.gross_cents, Donation.fee_cents,
                       Donation.net_cents, Donation.refunded_cents, Donation.anonymous, Donation.status,
                       Donation.reference, Donation.disputed_cents)
             .join(Donor, Donor.id == Donation.donor_id)
             .where(Donation.fund_id == fund.id, Donation.gross_cents.is_not(None))
             .order_by(Donation.received_on, Donation.id).execution_options(yield_per=BATCH))
    for (year, seq, day, name, email, method, frequency, gross, fee, net, refunded, anonymous, status,
         reference, disputed) in db.session.execute(query):
        yield [f"{year}-{seq:06d}" if seq is not None else "", day, name, email, method, frequency, _money(gross),
               _money(fee), _money(net), _money(refunded), _money(gross - refunded - disputed), anonymous, status, reference]


DONATIONS = ["receipt", "date", "donor", "email", "method", "frequency", "gross", "fee", "net", "refunded",
             "kept", "anonymous", "status", "reference"]


def donor_records(fund: Fund) -> Iterator[tuple]:
    """(name, email, gifts, cents given less refunds, first gift, last gift, gives monthly, asked anonymity)
    per donor, most generous first."""
    kept = db.func.sum(Donation.gross_cents - Donation.refunded_cents - Donation.disputed_cents)
    rows = db.session.execute(
        db.select(Donor.name, Donor.email, db.func.count(Donation.id), kept, db.func.min(Donation.received_on),
                  db.func.max(Donation.received_on), db.func.max(db.case((Donation.frequency == "monthly", 1), else_=0)),
                  db.func.max(db.case((Donation.anonymous.is_(True), 1), else_=0)))
        .join(Donation, Donation.donor_id == Donor.id)
        .where(Donor.fund_id == fund.id, Donation.gross_cents.is_not(None))
        .group_by(Donor.id, Donor.name, Donor.email)
        .order_by(kept.desc(), Donor.name)
        .execution_options(yield_per=BATCH))
    for name, email, gifts, given, first, last, monthly, anonymous in rows:
        yield name, email, int(gifts), int(given or 0), first, last, bool(monthly), bool(anonymous)


def donor_rows(fund: Fund) -> Iterator[list]:
    for name, email, gifts, given, first, last, monthly, anonymous in donor_records(fund):
        yield [name, email, gifts, _money(given), first, last, monthly, anonymous]


DONORS = ["donor", "email", "gifts", "given", "first_gift", "last_gift", "gives_monthly", "asked_anonymity"]


@dataclass(frozen=True)
class GrantRow:
    application: Application
    member: Member
    approved_on: date | None
    deciders: list[str]

    @property
    def recipient(self) -> str:
        """The member's name, or "(removed)" once retention has removed the case's personal details."""
        if self.application.personal_data_removed_at is not None:
            return REMOVED
        return f"{self.member.first_name} {self.member.last_name}"

    @property
    def address(self) -> str:
        return REMOVED if self.application.personal_data_removed_at is not None else self.application.address


def grant_records(fund: Fund, start: date | None = None, end: date | None = None) -> Iterator[GrantRow]:
    """Every grant made (approved, in part or in full, or paid) in the order booked; with dates, those
    booked from ``start`` to ``end``."""
    names = {user_id: name for user_id, name in db.session.execute(db.select(User.id, User.name))}
    deciders: dict[int, list[str]] = defaultdict(list)
    for application_id, trustee_id in db.session.execute(
            db.select(Approval.application_id, Approval.trustee_id).order_by(Approval.id)):
        deciders[application_id].append(names.get(trustee_id, ""))
    query = join_approval(db.select(Application, Member, JournalEntry.entry_date)
                          .join(Member, Member.id == Application.member_id), fund)
    query = (query.where(Application.fund_id == fund.id, Application.status.in_(list(GRANTED)))
             .order_by(JournalEntry.entry_date, Application.id))
    if start is not None:
        query = query.where(JournalEntry.entry_date >= start)
    if end is not None:
        query = query.where(JournalEntry.entry_date <= end)
    for application, member, day in db.session.execute(query.execution_options(yield_per=BATCH)):
        yield GrantRow(application, member, day, deciders[application.id])


def grant_rows(fund: Fund) -> Iterator[list]:
    for r in grant_records(fund):
        a, m = r.application, r.member
        yield [a.id, r.approved_on, "" if a.personal_data_removed_at else m.member_id, r.recipient, m.worksite,
               a.category,
               _money(a.amount_requested_cents), _money(a.amount_approved_cents), _money(a.amount_paid_cents),
               a.status, a.payee_kind, a.payee_name]


GRANTS = ["application", "approved_on", "member_id", "member", "worksite", "category", "requested", "approved",
          "paid", "status", "paid_to", "payee"]


def register_rows(fund: Fund, start: date | None = None, end: date | None = None) -> Iterator[list]:
    """The grants register for the auditor (IRS Publication 3833): recipient, address, amount, date, purpose;
    with dates, the grants booked from ``start`` to ``end``."""
    for r in grant_records(fund, start, end):
        a = r.application
        yield [r.approved_on, r.recipient, r.address, _money(a.amount_approved_cents),
               a.category, a.need, a.payee_name if a.pays_third_party else r.recipient, _money(a.amount_paid_cents),
               "; ".join(r.deciders), a.rules.version]


REGISTER = ["date", "recipient", "address", "amount", "purpose", "need", "paid_to", "paid", "decided_by",
            "rules_version"]


def payment_rows(fund: Fund) -> Iterator[list]:
    query = (db.select(GrantPayment).join(Application, Application.id == GrantPayment.application_id)
             .where(Application.fund_id == fund.id).order_by(GrantPayment.paid_on, GrantPayment.id)
             .execution_options(yield_per=BATCH))
    for p in db.session.scalars(query):
        yield [p.id, p.application_id, p.paid_on, p.payee_name, p.method, p.reference, _money(p.amount_cents),
               clock.local_date(fund, p.voided_at) if p.voided_at else None, p.void_reason]


PAYMENTS = ["payment", "application", "paid_on", "payee", "method", "reference", "amount", "voided_on",
            "void_reason"]

#: name -> (header, rows): what ``flask fund export`` and the reports page offer.
TABLES: dict[str, tuple[list[str], Callable[[Fund], Iterator[list]]]] = {
    "donations": (DONATIONS, donation_rows),
    "donors": (DONORS, donor_rows),
    "grants": (GRANTS, grant_rows),
    "register": (REGISTER, register_rows),
    "payments": (PAYMENTS, payment_rows),
}


def member_rows(fund: Fund) -> Iterator[list]:
    """The members' report as rows: grants by kind of need and by period, no group under five grants."""
    found = public_figures(fund, clock.today(fund))
    for group in found.categories:
        yield ["category", "+".join(group.keys), "", "", group.count, _money(group.cents), ""]
    for period, gifts in found.periods:
        yield ["period", "", period.start, period.end, period.count, _money(period.cents), _money(gifts)]


MEMBERS = ["group", "category", "from", "to", "grants", "granted", "gifts"]
TABLES["members"] = (MEMBERS, member_rows)
