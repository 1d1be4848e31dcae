"""The year-end pack for the accountant and Form 990: the year's statements, trial balance, grants register,
grants to individuals by type of assistance (Schedule I, Part III), donors of $5,000 or more with their addresses
(Schedule B, Part I) and each recipient's grants, written into one folder with a README.txt saying what each
file is for.

The year is the fund's fiscal year, named by the calendar year it begins in (as the IRS names a Form 990's tax
year): with ``fiscal_year_start_month`` 7, "2026" runs from 1 July 2026 to 30 June 2027. ``year_span`` is the
one place that turns a year into its first and last day.

Grant figures are sums of the books' postings to Expenses:HardshipGrants (booked when a grant is approved) and
Liabilities:GrantsPayable (booked when it is paid, reversed when a payment is voided), each traced to the
application it books, so every total here equals the ledger's; a posting that books no grant shows as its own
line rather than vanishing. Gifts are the donations received in the year, less what was refunded or lost to a
card dispute.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import aliased

from fundapp.accounts.models import Member
from fundapp.applications.models import Application, category_name
from fundapp.donations.giving import LARGE_GIFT_CENTS
from fundapp.donations.models import Donation, Donor
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import documents as ledger_documents
from fundapp.ledger import services as ledger
from fundapp.ledger.models import Account, JournalEntry, Posting
from fundapp.money import decimal_text
from fundapp.privacy.retention import REMOVED
from fundapp.reporting import documents, exports
from fundapp.reporting.figures import GRANTS
from fundapp.reporting.year_end_readme import UNLINKED, readme, span_label
from fundapp.review.models import GrantPayment
from reports.fund_report import Section, render_report
from reports.style import DocumentInfo, amount_text, paragraph

#: Schedule B's general rule: each contributor who gave this much or more (cents) in the year.
SCHEDULE_B_CENTS = LARGE_GIFT_CENTS
PAYABLE = "Liabilities:GrantsPayable"
#: How a grant not traced to an application (a manual entry) is labelled.


def _amount(cents: int) -> exports.Amount:
    return exports.Amount(decimal_text(cents))


def year_span(fund: Fund, year: int) -> tuple[date, date]:
    """The first and last day of the fund's fiscal ``year`` (the one that begins in that calendar year)."""
    month = fund.fiscal_year_start_month or 1
    start = date(year, month, 1)
    end = date(year + 1, month, 1) - timedelta(days=1) if month > 1 else date(year, 12, 31)
    return start, end


# --- grants, from the books ---------------------------------------------------------------------------------


def _traced(fund: Fund, account: str, kind: str, start: date, end: date) -> list[tuple[str | None, int]]:
    """(source id of the ``kind`` entry it books, cents, debit positive) for every posting to ``account`` dated
    in the period; a reversal is traced to the entry it reverses; None when the posting is of another kind."""
    origin = aliased(JournalEntry)
    rows = db.session.execute(
        db.select(db.func.coalesce(origin.source_kind, JournalEntry.source_kind),
                  db.func.coalesce(origin.source_id, JournalEntry.source_id), Posting.amount_cents)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .outerjoin(origin, origin.id == JournalEntry.reversal_of_id)
        .where(JournalEntry.fund_id == fund.id, Account.name == account,
               JournalEntry.entry_date >= start, JournalEntry.entry_date <= end)
        .order_by(JournalEntry.entry_date, JournalEntry.id, Posting.id)
        .execution_options(yield_per=5000))
    return [(source_id if source_kind == kind else None, int(cents)) for source_kind, source_id, cents in rows]


def _applications(fund: Fund, ids: set[int]) -> dict[int, tuple[Application, Member]]:
    found: dict[int, tuple[Application, Member]] = {}
    id_list = sorted(ids)
    for n in range(0, len(id_list), 1000):
        for application, member in db.session.execute(
                db.select(Application, Member).join(Member, Member.id == Application.member_id)
                .where(Application.fund_id == fund.id, Application.id.in_(id_list[n:n + 1000]))):
            found[application.id] = (application, member)
    return found


@dataclass
class Recipient:
    """One member's grants in the year (cents): approved (the expense booked) and paid (net of voids)."""

    member_id: str
    name: str
    address: str
    grants: set[int] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    approved_cents: int = 0
    paid_cents: int = 0


@dataclass(frozen=True)
class GrantType:
    """A line of Schedule I, Part III: a type of assistance, its recipients and the cash granted (cents)."""

    category: str
    label: str
    recipients: int
    grants: int
    cents: int


@dataclass(frozen=True)
class Grants:
    by_type: list[GrantType]
    recipients: list[Recipient]
    #: Cents posted to the grants expense by entries that book no application (a manual entry).
    unlinked_cents: int
    #: The books' Expenses:HardshipGrants for the period: the sum of ``by_type`` plus ``unlinked_cents``.
    expense_cents: int


def grants_for(fund: Fund, start: date, end: date) -> Grants:
    """The period's grants per type of assistance and per recipient, from the books' postings."""
    approved = _traced(fund, GRANTS, "grant.approval", start, end)
    paid_by_payment = _traced(fund, PAYABLE, "grant.payment", start, end)
    payment_ids = {int(source) for source, _cents in paid_by_payment if source is not None}
    application_of_payment = dict(db.session.execute(
        db.select(GrantPayment.id, GrantPayment.application_id).where(GrantPayment.id.in_(sorted(payment_ids))))
        .all()) if payment_ids else {}
    paid = [(application_of_payment.get(int(source)) if source is not None else None, cents)
            for source, cents in paid_by_payment]
    ids = {int(source) for source, _cents in approved if source is not None} | \
          {application_id for application_id, _cents in paid if application_id is not None}
    applications = _applications(fund, ids)
    recipients: dict[int, Recipient] = {}

    def recipient(application_id: int) -> Recipient:
        application, member = applications[application_id]
        removed = application.personal_data_removed_at is not None
        held = recipients.get(member.id)
        if held is None:
            held = recipients[member.id] = Recipient(
                "" if removed else member.member_id, REMOVED if removed else f"{member.first_name} {member.last_name}",
                REMOVED if removed else application.address)
        elif not removed and application.address:
            held.address = application.address  # the newest application's, as they come in date order
        return held

    unlinked = 0
    per_type: dict[str, dict] = defaultdict(lambda: {"cents": 0, "grants": set(), "members": defaultdict(int)})
    for source, cents in approved:
        if source is None or int(source) not in applications:
            unlinked += cents
            continue
        application, member = applications[int(source)]
        line = per_type[application.category]
        line["cents"] += cents
        line["grants"].add(application.id)
        line["members"][member.id] += cents
        held = recipient(application.id)
        held.approved_cents += cents
        held.grants.add(application.id)
        held.categories.add(application.category)
    for application_id, cents in paid:
        if application_id is not None and application_id in applications:
            recipient(application_id).paid_cents += cents  # GrantsPayable debited when paid, credited on a void
    by_type = [GrantType(category, category_name(category),
                         sum(1 for total in line["members"].values() if total), len(line["grants"]), line["cents"])
               for category, line in sorted(per_type.items(), key=lambda item: (-item[1]["cents"], item[0]))]
    expense = ledger.period_totals(fund, start, end).get(GRANTS, 0)
    return Grants(by_type, sorted(recipients.values(), key=lambda r: (r.name, r.member_id)), unlinked, expense)


# --- gifts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LargeDonor:
    """A donor whose gifts received in the year (less refunds and lost disputes) came to SCHEDULE_B_CENTS or more."""

    name: str
    email: str
    address: str
    gifts: int
    cents: int
    anonymous: bool


@dataclass(frozen=True)
class Gifts:
    large: list[LargeDonor]
    #: Gifts in the year with no donor email (cash in a bucket, a charge with no email): no one donor's.
    unattributed_gifts: int
    unattributed_cents: int


def gifts_for(fund: Fund, start: date, end: date, threshold: int = SCHEDULE_B_CENTS) -> Gifts:
    """Donors who gave ``threshold`` or more in the period, most first, with their addresses."""
    kept = db.func.sum(Donation.gross_cents - Donation.refunded_cents - Donation.disputed_cents)
    rows = db.session.execute(
        db.select(Donor.name, Donor.email, Donor.postal_address, db.func.count(Donation.id), kept,
                  db.func.max(db.case((Donation.anonymous.is_(True), 1), else_=0)))
        .join(Donation, Donation.donor_id == Donor.id)
        .where(Donor.fund_id == fund.id, Donation.gross_cents.is_not(None),
               Donation.received_on >= start, Donation.received_on <= end)
        .group_by(Donor.id, Donor.name, Donor.email, Donor.postal_address)
        .order_by(kept.desc(), Donor.name))
    large, loose_gifts, loose_cents = [], 0, 0
    for name, email, address, gifts, cents, anonymous in rows:
        if not email:
            loose_gifts, loose_cents = loose_gifts + int(gifts), loose_cents + int(cents or 0)
        elif int(cents or 0) >= threshold:
            large.append(LargeDonor(name, email, address, int(gifts), int(cents), bool(anonymous)))
    return Gifts(large, loose_gifts, loose_cents)


# --- the files ----------------------------------------------------------------------------------------------


def _csv(header: list[str], rows) -> bytes:
    return "".join(exports.csv_chunks(header, rows)).encode("utf-8")


def trial_balance_csv(fund: Fund, end: date) -> bytes:
    lines = ledger.trial_balance(fund, end)
    rows = [[line.account, line.type.value, _amount(line.debit_cents), _amount(line.credit_cents)]
            for line in lines]
    rows.append(["Total", "", _amount(sum(line.debit_cents for line in lines)),
                 _amount(sum(line.credit_cents for line in lines))])
    return _csv(["account", "type", "debit", "credit"], rows)


SCHEDULE_I_HEADER = ["type_of_grant_or_assistance", "category", "number_of_recipients", "grants",
                     "amount_of_cash_grant", "amount_of_non_cash_assistance", "method_of_valuation",
                     "description_of_non_cash_assistance"]


def schedule_i_rows(grants: Grants) -> list[list]:
    rows = [[t.label, t.category, t.recipients, t.grants, _amount(t.cents), _amount(0),
             "", ""] for t in grants.by_type]
    if grants.unlinked_cents:
        rows.append([UNLINKED, "", "", "", _amount(grants.unlinked_cents), _amount(0), "", ""])
    return rows


def schedule_i_pdf(fund: Fund, grants: Grants, start: date, end: date, generated_at: datetime) -> bytes:
    rows = [[paragraph(t.label, "small_body"), str(t.recipients), str(t.grants), amount_text(t.cents), "0.00",
             "Cash"] for t in grants.by_type]
    if grants.unlinked_cents:
        rows.append([UNLINKED, "", "", amount_text(grants.unlinked_cents), "0.00", ""])
    rows.append(["Total", str(len({r.member_id or r.name for r in grants.recipients if r.approved_cents})),
                 str(sum(t.grants for t in grants.by_type)), amount_text(grants.expense_cents), "0.00", ""])
    info = DocumentInfo(fund_name=fund.name, title="Grants to individuals by type of assistance",
                        period=span_label(start, end), generated_at=generated_at, currency=fund.currency)
    return render_report(info, (
        "Form 990, Schedule I, Part III: each type of assistance, the number of members who received it, and the "
        "cash granted (approved in the year, as the books expense it). Every grant is paid in money (cheque, "
        "ACH, Zelle or cash): there is no non-cash assistance to value. A member helped with two kinds of need "
        "counts once in each; the total counts each member once."),
        [Section("Grants to individuals", header=["Type of assistance", "Recipients", "Grants", "Cash grant",
                                                  "Non-cash", "Kind"],
                 rows=rows, numeric_cols=(1, 2, 3, 4), total_row=True, col_widths=[150, 60, 50, 80, 60, 70])])


def donors_rows(gifts: Gifts) -> list[list]:
    return [[n, d.name, d.address.replace("\n", ", ") if d.address else "(address missing)", _amount(d.cents),
             "Person", d.gifts, d.email, d.anonymous] for n, d in enumerate(gifts.large, start=1)]


DONORS_HEADER = ["number", "name", "address", "total_contributions", "type_of_contribution", "gifts", "email",
                 "asked_anonymity"]


def recipient_rows(grants: Grants) -> list[list]:
    return [[r.member_id, r.name, r.address, len(r.grants), "; ".join(sorted(category_name(c) for c in r.categories)),
             _amount(r.approved_cents), _amount(r.paid_cents)] for r in grants.recipients]


RECIPIENTS_HEADER = ["member_id", "recipient", "address", "grants", "types_of_assistance", "approved_in_year",
                     "paid_in_year"]


def register_csv(fund: Fund, start: date, end: date) -> bytes:
    return _csv(exports.REGISTER, exports.register_rows(fund, start, end))


FILES = ("statement-of-activities.pdf", "balance-sheet.pdf", "trial-balance.pdf", "trial-balance.csv",
         "grants-register.pdf", "grants-register.csv", "grants-to-individuals-by-type.pdf",
         "grants-to-individuals-by-type.csv", "donors-5000-or-more.csv", "grants-per-recipient.csv", "README.txt")


def year_end_files(fund: Fund, year: int, generated_at: datetime | None = None) -> dict[str, bytes]:
    """The pack's files by name (FILES), for ``year`` of the fund's fiscal calendar."""
    generated_at = generated_at or datetime.now(UTC)
    start, end = year_span(fund, year)
    grants, gifts = grants_for(fund, start, end), gifts_for(fund, start, end)
    return {
        "statement-of-activities.pdf": ledger_documents.ledger_pdf(fund, "activities", start, end, generated_at),
        "balance-sheet.pdf": ledger_documents.ledger_pdf(fund, "balance-sheet", None, end, generated_at),
        "trial-balance.pdf": ledger_documents.ledger_pdf(fund, "trial-balance", None, end, generated_at),
        "trial-balance.csv": trial_balance_csv(fund, end),
        "grants-register.pdf": documents.register_pdf(fund, start, end, generated_at),
        "grants-register.csv": register_csv(fund, start, end),
        "grants-to-individuals-by-type.pdf": schedule_i_pdf(fund, grants, start, end, generated_at),
        "grants-to-individuals-by-type.csv": _csv(SCHEDULE_I_HEADER, schedule_i_rows(grants)),
        "donors-5000-or-more.csv": _csv(DONORS_HEADER, donors_rows(gifts)),
        "grants-per-recipient.csv": _csv(RECIPIENTS_HEADER, recipient_rows(grants)),
        "README.txt": readme(fund, start, end, grants, gifts, generated_at).encode("utf-8"),
    }


def write_year_end(fund: Fund, year: int, directory: Path) -> dict[str, int]:
    """Write the pack into ``directory`` (made if missing; files of the same names are replaced); returns each
    file's size in bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, content in year_end_files(fund, year).items():
        (directory / name).write_bytes(content)
        sizes[name] = len(content)
    return sizes
