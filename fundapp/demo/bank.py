"""The demo bank: the CSV statement the demo fund's bank would give for a month, to try the reconciliation."""
from __future__ import annotations

import calendar
import csv
import io
from datetime import date, timedelta

from fundapp.extensions import db
from fundapp.funds.models import Fund

#: The demo bank's monthly service fee (cents): a line the books lack until the treasurer books it.
DEMO_BANK_FEE_CENTS = 1_200


def demo_bank_statement(fund: Fund, month: str, *, outstanding_days: int = 3) -> tuple[str, int, list[str]]:
    """What the demo fund's bank would show for ``month`` (YYYY-MM), as the CSV a bank's website gives:
    every deposit, Stripe payout and grant payment the books hold on Assets:Bank that month, except the
    cheques written in its last ``outstanding_days`` days (not yet cashed), plus the bank's service fee on
    the last day. Payments voided (with their reversal) never reached the bank. Returns the CSV, the
    statement's ending balance in cents (everything before the month taken as through the bank), and the
    references of the cheques left outstanding."""
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
