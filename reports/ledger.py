"""Ledger PDFs: the journal by account with running balances, the trial balance, the statement of activities
and the statement of financial position (balance sheet).

Plain data in, PDF bytes out; nothing here knows Flask or the database. The
trial balance and the statements are short and use platypus. The journal can
hold hundreds of thousands of postings, so it is drawn line by line straight on
the canvas while its rows are streamed in, the page count in the footer a form
drawn once at the end and referenced from every page, and the canvas writes it
straight into the file (``reports.streaming``): what stays in memory is a few
small objects per page.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from reports import fonts
from reports.streaming import StreamingCanvas
from reports.style import (
    BRAND,
    MARGIN,
    PAGE_COUNT_FORM,
    DocumentInfo,
    amount_text,
    draw_frame,
    paragraph,
    render_document,
    tables,
)

#: Accounts whose balance is normally a debit; the others (liabilities, income, equity) are credits.
DEBIT_NORMAL_ROOTS = ("Assets", "Expenses")


def normal_balance(account: str, cents: int) -> int:
    """A debit-positive balance turned to the account's normal side, so a healthy balance is positive."""
    return cents if account.split(":", 1)[0] in DEBIT_NORMAL_ROOTS else -cents


# --- trial balance -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    debit_cents: int
    credit_cents: int


def render_trial_balance(info: DocumentInfo, rows: Sequence[TrialBalanceRow]) -> bytes:
    """Every account's balance as a debit or a credit, with the two totals (which must be equal)."""
    total_debit = sum(row.debit_cents for row in rows)
    total_credit = sum(row.credit_cents for row in rows)
    body = [[row.account, amount_text(row.debit_cents) if row.debit_cents else "",
             amount_text(row.credit_cents) if row.credit_cents else ""] for row in rows]
    body.append(["Total", amount_text(total_debit), amount_text(total_credit)])
    verdict = ("Debits equal credits." if total_debit == total_credit
               else f"OUT OF BALANCE by {amount_text(total_debit - total_credit)}.")
    return render_document(info, [
        paragraph(info.title, "title"),
        paragraph(f"Balances at the end of {info.period}. Amounts in {info.currency}."),
        *tables(["Account", "Debit", "Credit"], body, col_widths=[270, 110, 110], numeric_cols=(1, 2),
                total_row=True),
        paragraph(verdict, "heading"),
    ])


# --- statement of activities ---------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityStatement:
    """A period's revenue and expenses (each on its normal side, so positive), net assets the day before it,
    and equity entries dated in it (an opening balance carried in; credit positive)."""

    revenue: Sequence[tuple[str, int]]
    expenses: Sequence[tuple[str, int]]
    net_assets_start_cents: int
    equity: Sequence[tuple[str, int]] = ()

    @property
    def total_revenue_cents(self) -> int:
        return sum(cents for _, cents in self.revenue)

    @property
    def total_expenses_cents(self) -> int:
        return sum(cents for _, cents in self.expenses)

    @property
    def change_cents(self) -> int:
        return self.total_revenue_cents - self.total_expenses_cents

    @property
    def net_assets_end_cents(self) -> int:
        return self.net_assets_start_cents + self.change_cents + sum(cents for _, cents in self.equity)


def render_activities(info: DocumentInfo, statement: ActivityStatement) -> bytes:
    """Net assets at the start, revenue, expenses, the change in net assets, any equity entries of the
    period, and net assets at the end (assets less liabilities on the period's last day)."""
    rows = [["Net assets at the start of the period", amount_text(statement.net_assets_start_cents)],
            ["Revenue", ""]]
    rows += [[f"   {account}", amount_text(cents)] for account, cents in statement.revenue]
    rows += [["Total revenue", amount_text(statement.total_revenue_cents)], ["Expenses", ""]]
    rows += [[f"   {account}", amount_text(cents)] for account, cents in statement.expenses]
    rows += [
        ["Total expenses", amount_text(statement.total_expenses_cents)],
        ["Change in net assets (revenue less expenses)", amount_text(statement.change_cents)],
    ]
    if statement.equity:
        rows += [["Opening balances and other equity entries in the period", ""]]
        rows += [[f"   {account}", amount_text(cents)] for account, cents in statement.equity]
    rows += [["Net assets at the end of the period", amount_text(statement.net_assets_end_cents)]]
    return render_document(info, [
        paragraph(info.title, "title"),
        paragraph(f"Period: {info.period}. Amounts in {info.currency}. Net assets are assets less liabilities: "
                  "at the start, on the day before the period; at the end, on its last day (as on the trial "
                  "balance and the statement of financial position at that day)."),
        *tables(["", "Amount"], rows, col_widths=[330, 160], numeric_cols=(1,),
                bold_rows=[i for i, row in enumerate(rows) if not row[0].startswith(" ")]),
    ])


# --- statement of financial position ------------------------------------------------------------


@dataclass(frozen=True)
class BalanceSheet:
    """Balances at the end of a day on each account's normal side: assets (debit), liabilities and equity
    (credit), and the surplus (all revenue less all expenses since the books began)."""

    assets: Sequence[tuple[str, int]]
    liabilities: Sequence[tuple[str, int]]
    equity: Sequence[tuple[str, int]]
    surplus_cents: int

    @property
    def total_assets_cents(self) -> int:
        return sum(cents for _, cents in self.assets)

    @property
    def total_liabilities_cents(self) -> int:
        return sum(cents for _, cents in self.liabilities)

    @property
    def net_assets_cents(self) -> int:
        return sum(cents for _, cents in self.equity) + self.surplus_cents


def render_balance_sheet(info: DocumentInfo, sheet: BalanceSheet) -> bytes:
    """Assets, liabilities and net assets at a date; liabilities plus net assets must equal the assets."""
    rows = [["Assets", ""]]
    rows += [[f"   {account}", amount_text(cents)] for account, cents in sheet.assets]
    rows += [["Total assets", amount_text(sheet.total_assets_cents)], ["Liabilities", ""]]
    rows += [[f"   {account}", amount_text(cents)] for account, cents in sheet.liabilities]
    rows += [["Total liabilities", amount_text(sheet.total_liabilities_cents)], ["Net assets", ""]]
    rows += [[f"   {account}", amount_text(cents)] for account, cents in sheet.equity]
    rows += [["   Accumulated surplus (revenue less expenses to date)", amount_text(sheet.surplus_cents)],
             ["Total net assets", amount_text(sheet.net_assets_cents)]]
    both = sheet.total_liabilities_cents + sheet.net_assets_cents
    rows += [["Total liabilities and net assets", amount_text(both)]]
    difference = sheet.total_assets_cents - both
    verdict = ("Liabilities and net assets equal the assets." if difference == 0
               else f"OUT OF BALANCE by {amount_text(difference)}.")
    return render_document(info, [
        paragraph(info.title, "title"),
        paragraph(f"At the end of {info.period}. Amounts in {info.currency}."),
        *tables(["", "Amount"], rows, col_widths=[330, 160], numeric_cols=(1,),
                bold_rows=[i for i, row in enumerate(rows) if not row[0].startswith(" ")]),
        paragraph(verdict, "heading"),
    ])


# --- journal by account --------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalLine:
    """One posting, as the journal prints it; lines arrive ordered by account, then date and entry."""

    account: str
    entry_date: date
    entry_id: int
    memo: str
    amount_cents: int  # debit positive


PAGE_WIDTH, PAGE_HEIGHT = LETTER
TOP = PAGE_HEIGHT - 0.85 * 72
BOTTOM = 0.8 * 72
ROW = 11.0
FONT, BOLD, SIZE = fonts.REGULAR, fonts.BOLD, 8
#: Right edges of the numeric columns and left edges of the text ones, in points.
X_DATE, X_ENTRY, X_MEMO = MARGIN, MARGIN + 52, MARGIN + 96
X_DEBIT, X_CREDIT, X_BALANCE = PAGE_WIDTH - MARGIN - 150, PAGE_WIDTH - MARGIN - 75, PAGE_WIDTH - MARGIN
MEMO_WIDTH = X_DEBIT - 70 - X_MEMO


def _fit(text: str, width: float, font: str = FONT) -> str:
    """Cut ``text`` with an ellipsis so it fits ``width`` points on one line."""
    text = " ".join(text.split())
    if text.isascii():
        measure = lambda piece: stringWidth(piece, font, SIZE)  # noqa: E731 # one font: the fast way
    else:
        measure = lambda piece: fonts.width(fonts.runs(piece, font), SIZE)  # noqa: E731
    if measure(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if measure(text[:mid] + "…") <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


class _JournalWriter:
    """Draws rows top to bottom, starting a new page (with the column header) when one is full."""

    def __init__(self, canvas: Canvas, info: DocumentInfo):
        self.canvas = canvas
        self.info = info
        self.page = 0
        self.y = 0.0
        self.account: str | None = None

    def new_page(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        draw_frame(self.canvas, self.info, self.page, None)
        self.y = TOP
        if self.page == 1:
            c = self.canvas
            c.setFillColor(BRAND)
            fonts.draw(c, MARGIN, self.y - 14, self.info.title, BOLD, 16)
            c.setFillColor(colors.black)
            fonts.draw(c, MARGIN, self.y - 30, f"Period: {self.info.period}. Amounts in {self.info.currency}. "
                                               "Balances are on each account's normal side: debit for assets", FONT, 9)
            c.drawString(MARGIN, self.y - 41, "and expenses, credit for liabilities, income and equity.")
            self.y -= 54
        self.row(["Date", "Entry", "Memo"], ["Debit", "Credit", "Balance"], font=BOLD, rule=True)
        if self.account is not None:
            self.row(["", "", f"{self.account} (continued)"], font=BOLD)

    def room_for(self, rows: int) -> None:
        if self.page == 0 or self.y - rows * ROW < BOTTOM:
            self.new_page()

    def row(self, left: Sequence[str], right: Sequence[str] = ("", "", ""), font: str = FONT,
            rule: bool = False) -> None:
        c = self.canvas
        base = self.y - ROW + 3
        c.setFont(font, SIZE)
        for x, text in zip((X_DATE, X_ENTRY, X_MEMO), left, strict=True):
            if not text:
                continue
            if text.isascii():
                c.drawString(x, base, text)
            else:  # a name in another script: each character in a font that has it
                fonts.draw(c, x, base, text, font, SIZE)
        for x, text in zip((X_DEBIT, X_CREDIT, X_BALANCE), right, strict=True):
            if text:
                c.drawRightString(x, base, text)
        if rule:
            c.setLineWidth(0.6)
            c.line(MARGIN, self.y - ROW, PAGE_WIDTH - MARGIN, self.y - ROW)
        self.y -= ROW


def render_journal(info: DocumentInfo, openings: Mapping[str, int], lines: Iterable[JournalLine]) -> bytes:
    """The journal's PDF as bytes (``write_journal`` into memory)."""
    buffer = io.BytesIO()
    write_journal(info, openings, lines, buffer)
    return buffer.getvalue()


def write_journal(info: DocumentInfo, openings: Mapping[str, int], lines: Iterable[JournalLine],
                  out: BinaryIO) -> None:
    """Each account with its opening balance, every posting with the running balance, and its totals, written
    into ``out`` (a binary file) as it is saved.

    ``openings`` names every account (debit-positive balance before the period);
    ``lines`` is consumed once, in order, so it can be a database cursor.
    """
    fonts.register()
    canvas = StreamingCanvas(out, pagesize=LETTER, invariant=1)
    draw_journal(canvas, info, openings, lines)
    canvas.save()


def draw_journal(canvas: Canvas, info: DocumentInfo, openings: Mapping[str, int],
                 lines: Iterable[JournalLine]) -> None:
    """Draw the journal on ``canvas``, ready to save."""
    canvas.setTitle(f"{info.title} · {info.fund_name}")
    canvas.setAuthor(info.author)
    canvas.setSubject(info.period)
    canvas.setCreator("fundapp")
    out = _JournalWriter(canvas, info)
    stream: Iterator[JournalLine] = iter(lines)
    pending = next(stream, None)
    for account in sorted(openings):
        opening = openings[account]
        running, debits, credits, count = opening, 0, 0, 0
        out.account = None
        out.room_for(3)
        out.y -= 4
        out.row(["", "", account], font=BOLD)
        out.account = account
        out.row(["", "", "Opening balance"], ["", "", amount_text(normal_balance(account, opening))])
        while pending is not None and pending.account == account:
            running += pending.amount_cents
            debits += max(pending.amount_cents, 0)
            credits += max(-pending.amount_cents, 0)
            count += 1
            out.room_for(1)
            out.row([pending.entry_date.isoformat(), str(pending.entry_id), _fit(pending.memo, MEMO_WIDTH)],
                    [amount_text(pending.amount_cents) if pending.amount_cents > 0 else "",
                     amount_text(-pending.amount_cents) if pending.amount_cents < 0 else "",
                     amount_text(normal_balance(account, running))])
            pending = next(stream, None)
        out.room_for(1)
        out.row(["", "", f"Closing balance · {count} postings"],
                [amount_text(debits), amount_text(credits), amount_text(normal_balance(account, running))],
                font=BOLD)
    if pending is not None:
        raise ValueError(f"journal line for {pending.account!r} is out of account order or has no opening")
    if out.page == 0:
        out.new_page()
    # The page count, referenced from every page's footer, drawn once now that it is known.
    canvas.showPage()
    canvas.beginForm(PAGE_COUNT_FORM)
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.grey)
    canvas.drawString(0, 0, str(out.page))
    canvas.endForm()
