"""A donor's year-end statement: every gift of the year with its receipt number, and the total.

``render(StatementData) -> bytes``; in the words it is handed (English by default), with the same Publication 1771
statements as the receipts.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from babel.dates import format_date

from reports.receipt import ReceiptWords, deductibility_text
from reports.style import DocumentInfo, PageWords, amount_text, paragraph, render_document, tables


@dataclass(frozen=True)
class StatementWords:
    """A statement's words in the donor's language, handed over translated by the app (``fundapp.pdf_text``);
    the defaults are the English msgids. The Publication 1771 sentences are the receipt's (``receipt``)."""

    title: str = "Your gifts in {year}"
    intro: str = "Thank you, {name}. These are your gifts to {legal} in {year}."
    date: str = "Date"
    receipt_number: str = "Receipt"
    gift: str = "Gift"
    refunded: str = "Refunded"
    contribution: str = "Contribution"
    disputed: str = "Disputed and lost"
    total: str = "Total"
    period: str = "Year {year}"
    receipt: ReceiptWords = field(default_factory=ReceiptWords)


@dataclass(frozen=True)
class StatementGift:
    day: date
    receipt_number: str
    amount_cents: int
    refunded_cents: int
    #: What a lost card dispute took back (not received, like a refund).
    disputed_cents: int = 0

    @property
    def contribution_cents(self) -> int:
        return self.amount_cents - self.refunded_cents - self.disputed_cents


@dataclass(frozen=True)
class StatementData:
    fund_name: str
    legal_name: str
    ein: str
    legal_form: str
    contact_email: str
    donor_name: str
    year: int
    currency: str
    language: str
    gifts: Sequence[StatementGift]
    issued_at: datetime
    #: The footer's words, in the donor's language.
    page_words: PageWords = PageWords()
    #: The statement's own words, in the donor's language (``language`` sets only how dates are written).
    words: StatementWords = StatementWords()

    @property
    def total_cents(self) -> int:
        return sum(g.contribution_cents for g in self.gifts)


def render(data: StatementData) -> bytes:
    text = data.words
    locale = "es_US" if data.language == "es" else "en_US"
    # A "disputed" column only when a gift lost a dispute: every other statement stays as it was.
    disputed = any(g.disputed_cents for g in data.gifts)
    head = [text.date, text.receipt_number, text.gift, text.refunded, *([text.disputed] if disputed else []),
            text.contribution]
    rows = []
    for g in data.gifts:
        row = [format_date(g.day, "medium", locale=locale), g.receipt_number, amount_text(g.amount_cents),
               amount_text(g.refunded_cents) if g.refunded_cents else ""]
        if disputed:
            row.append(amount_text(g.disputed_cents) if g.disputed_cents else "")
        rows.append(row + [amount_text(g.contribution_cents)])
    rows.append([text.total] + [""] * (len(head) - 2) + [f"{amount_text(data.total_cents)} {data.currency}"])
    widths = [80, 80, 80, 80, 80, 90] if disputed else [95, 90, 95, 95, 115]
    title = text.title.format(year=data.year)
    info = DocumentInfo(fund_name=data.fund_name, title=title, period=text.period.format(year=data.year),
                        generated_at=data.issued_at, currency=data.currency, words=data.page_words)
    return render_document(info, [
        paragraph(title, "title"),
        paragraph(text.intro.format(name=data.donor_name, legal=data.legal_name, year=data.year)),
        *tables(head, rows, col_widths=widths, numeric_cols=tuple(range(2, len(head))), total_row=True),
        paragraph(text.receipt.no_goods, "heading"),
        paragraph(deductibility_text(text.receipt, data.legal_form, data.legal_name, data.ein)),
        paragraph(text.receipt.questions.format(email=data.contact_email), "small"),
    ])
