"""The bank reconciliation at a statement's end date: plain data in, PDF bytes out.

Adjusted bank balance = the bank's ending balance + deposits in transit + outstanding payments (negative);
adjusted book balance = the books' bank account + bank items the books lack. The difference between the two
is 0.00 when every item is accounted for; each item is named.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from reports.style import DocumentInfo, amount_text, paragraph, render_document, tables


@dataclass(frozen=True)
class ReconciliationItem:
    day: date
    description: str
    amount_cents: int


@dataclass(frozen=True)
class ReconciliationData:
    as_of: date
    book_cents: int
    #: None when no statement ending that day gives the bank's balance.
    bank_cents: int | None
    statement_label: str
    outstanding: Sequence[ReconciliationItem] = field(default_factory=list)
    in_transit: Sequence[ReconciliationItem] = field(default_factory=list)
    unrecorded: Sequence[ReconciliationItem] = field(default_factory=list)


def _items(title: str, items: Sequence[ReconciliationItem], empty: str) -> list:
    flowables = [paragraph(title, "heading")]
    if not items:
        return [*flowables, paragraph(empty)]
    rows = [[item.day.isoformat(), item.description, amount_text(item.amount_cents)] for item in items]
    rows.append(["", "Total", amount_text(sum(item.amount_cents for item in items))])
    return [*flowables, *tables(["Date", "Item", "Amount"], rows, col_widths=[70, 320, 100], numeric_cols=(2,),
                                total_row=True)]


def render_reconciliation(info: DocumentInfo, data: ReconciliationData) -> bytes:
    adjusted_book = data.book_cents + sum(item.amount_cents for item in data.unrecorded)
    summary = [["Balance per books (Assets:Bank)", amount_text(data.book_cents)],
               ["Add: bank items not in the books", amount_text(sum(i.amount_cents for i in data.unrecorded))],
               ["Adjusted book balance", amount_text(adjusted_book)]]
    if data.bank_cents is None:
        verdict = "No bank statement ends on this date: the bank's balance is unknown and the difference cannot be told."
    else:
        adjusted_bank = (data.bank_cents + sum(i.amount_cents for i in data.in_transit)
                         + sum(i.amount_cents for i in data.outstanding))
        summary[:0] = [["Balance per bank statement", amount_text(data.bank_cents)],
                       ["Add: deposits in transit", amount_text(sum(i.amount_cents for i in data.in_transit))],
                       ["Less: outstanding cheques and payments", amount_text(sum(i.amount_cents for i in data.outstanding))],
                       ["Adjusted bank balance", amount_text(adjusted_bank)]]
        difference = adjusted_bank - adjusted_book
        summary.append(["Difference", amount_text(difference)])
        verdict = ("Reconciled: the difference is 0.00." if difference == 0
                   else f"NOT RECONCILED: the difference is {amount_text(difference)}.")
    return render_document(info, [
        paragraph(info.title, "title"),
        paragraph(f"At the end of {data.as_of.isoformat()}. {data.statement_label} Amounts in {info.currency}."),
        *tables(["", "Amount"], summary, col_widths=[390, 100], numeric_cols=(1,),
                bold_rows=[i for i, row in enumerate(summary) if row[0].startswith(("Adjusted", "Difference"))]),
        paragraph(verdict, "heading"),
        *_items("Outstanding cheques and payments", data.outstanding, "None: every payment in the books is on the bank."),
        *_items("Deposits in transit", data.in_transit, "None: every deposit in the books is on the bank."),
        *_items("Bank items not in the books", data.unrecorded, "None: the books hold every bank line."),
    ])
