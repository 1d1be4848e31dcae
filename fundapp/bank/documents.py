"""The bank reconciliation PDF at a date: the reconciliation handed to ``reports.bank`` as plain values.

Shared by the bank page and ``flask fund report bank-reconciliation``, so both give the same file.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

from fundapp.bank import reconciliation as bank_rec
from fundapp.bank import services as bank
from fundapp.funds.models import Fund
from reports.bank import ReconciliationData, ReconciliationItem, render_reconciliation
from reports.style import DocumentInfo

KIND = "bank-reconciliation"
TITLE = "Bank reconciliation"


def _posting_item(posting: bank.BookPosting) -> ReconciliationItem:
    return ReconciliationItem(posting.entry_date, f"{posting.memo} (entry {posting.entry_id})", posting.amount_cents)


def reconciliation_pdf(fund: Fund, as_of: date, generated_at: datetime | None = None) -> bytes:
    found = bank_rec.reconcile(fund, as_of)
    statement = found.statement
    label = (f"Bank statement: {statement.filename}, {statement.period_start.isoformat()} to "
             f"{statement.period_end.isoformat()} (import {statement.id})." if statement else
             "No bank statement with an ending balance ends on this date.")
    data = ReconciliationData(
        as_of=as_of, book_cents=found.book_cents, bank_cents=found.bank_cents, statement_label=label,
        outstanding=[_posting_item(p) for p in found.outstanding],
        in_transit=[_posting_item(p) for p in found.in_transit],
        unrecorded=[ReconciliationItem(line.line_date, " ".join(part for part in (line.reference, line.description)
                                                                 if part) or f"bank line {line.line_id}",
                                       line.amount_cents) for line in found.unrecorded])
    info = DocumentInfo(fund_name=fund.name, title=TITLE, period=as_of.isoformat(),
                        generated_at=generated_at or datetime.now(UTC), currency=fund.currency)
    return render_reconciliation(info, data)


def filename(fund: Fund, as_of: date) -> str:
    return f"{fund.slug}-{KIND}-{as_of.isoformat()}.pdf"
