"""The grants' invariants, checked against the books (``flask fund check-books``).

PostgreSQL refuses writes that break the first three at commit (migration 0014); SQLite keeps only the
CHECK on ``amount_paid_cents``, so this walk is how a SQLite installation (and an auditor on either)
finds a broken one. Each problem names its invariant and the object:

- ``grant_paid_matches_payments``: a grant's non-voided payments sum to its ``amount_paid_cents``,
  which never exceeds its approved amount.
- ``grant_payable_matches_owed``: Liabilities:GrantsPayable, taken per grant (its approval, its
  payments and their voids), is what the grant still owes: approved less paid.
- ``grants_payable_not_in_debit``: the fund's Liabilities:GrantsPayable, summed from the postings, is
  never in debit; nor is any one grant's share of it.
- ``grants_payable_unattributed``: every posting to Liabilities:GrantsPayable belongs to a grant.
"""
from __future__ import annotations

from collections import defaultdict

from fundapp.applications.models import Application
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry, Posting
from fundapp.review.models import GrantPayment

PAYABLE = "Liabilities:GrantsPayable"


def check_grants(fund: Fund) -> list[str]:
    """Every broken grant invariant of the fund, one line each; empty when all hold."""
    return [*_paid_matches_payments(fund), *_payable_matches_owed(fund)]


def _paid_matches_payments(fund: Fund) -> list[str]:
    paid = (db.select(GrantPayment.application_id, db.func.sum(GrantPayment.amount_cents).label("cents"))
            .where(GrantPayment.voided_at.is_(None)).group_by(GrantPayment.application_id).subquery())
    recorded = db.func.coalesce(paid.c.cents, 0)
    rows = db.session.execute(
        db.select(Application.id, db.func.coalesce(Application.amount_approved_cents, 0), Application.amount_paid_cents,
                  recorded)
        .outerjoin(paid, paid.c.application_id == Application.id)
        .where(Application.fund_id == fund.id,
               db.or_(Application.amount_paid_cents != recorded,
                      Application.amount_paid_cents > db.func.coalesce(Application.amount_approved_cents, 0)))
        .order_by(Application.id))
    return [f"grant_paid_matches_payments: grant {grant} says {says} cents paid of {approved} approved; its payments "
            f"sum to {cents} cents" for grant, approved, says, cents in rows]


def _payable_matches_owed(fund: Fund) -> list[str]:
    payable = ledger.chart(fund)[PAYABLE].id
    grant_of_payment = dict(db.session.execute(
        db.select(GrantPayment.id, GrantPayment.application_id)
        .join(Application, Application.id == GrantPayment.application_id).where(Application.fund_id == fund.id)).all())
    problems, total = [], 0
    grant_of_entry: dict[int, int | None] = {}
    per_grant: dict[int, int] = defaultdict(int)
    rows = db.session.execute(
        db.select(JournalEntry.id, JournalEntry.source_kind, JournalEntry.source_id, JournalEntry.reversal_of_id,
                  Posting.amount_cents)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(JournalEntry.fund_id == fund.id, Posting.account_id == payable)
        .order_by(JournalEntry.id).execution_options(yield_per=5000))
    for entry_id, kind, source, reversed_id, cents in rows:
        total += cents
        grant = None
        if kind == "grant.approval" and source.isdigit():
            grant = int(source)
        elif kind == "grant.payment" and source.isdigit():
            grant = grant_of_payment.get(int(source))
        elif kind == "reversal":
            grant = grant_of_entry.get(reversed_id)
        grant_of_entry[entry_id] = grant
        if grant is None:
            problems.append(f"grants_payable_unattributed: entry {entry_id} ({kind}:{source}) moves {cents} cents "
                            f"of {PAYABLE} that belong to no grant")
        else:
            per_grant[grant] += cents
    owed = dict(db.session.execute(
        db.select(Application.id, Application.amount_approved_cents - Application.amount_paid_cents)
        .where(Application.fund_id == fund.id, Application.amount_approved_cents.is_not(None))).all())
    for grant in sorted(per_grant.keys() | owed.keys()):
        in_books, says = -per_grant.get(grant, 0), owed.get(grant, 0)
        if in_books < 0:
            problems.append(f"grants_payable_not_in_debit: grant {grant} has {-in_books} cents of {PAYABLE} in debit")
        if in_books != says:
            problems.append(f"grant_payable_matches_owed: grant {grant}: the books owe {in_books} cents, the grant "
                            f"says {says} cents are owed")
    if total > 0:
        problems.append(f"grants_payable_not_in_debit: fund {fund.id} has {total} cents of {PAYABLE} in debit")
    return problems
