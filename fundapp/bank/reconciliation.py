"""The bank pages' lists and the reconciliation at a date: the statement's ending balance against the books,
with what is still open on either side; a month's status, which the ledger asks before it closes the month."""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _

from fundapp.bank.models import BankImport, BankMatch, BankStatementLine
from fundapp.bank.services import BANK_ACCOUNT, BookPosting, _book_postings, bank_account, first_day
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import JournalEntry, Posting
from fundapp.money import money_text

# --- pages' lists ----------------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def lines_in(fund: Fund, start: date, end: date) -> list[BankStatementLine]:
    return list(db.session.scalars(db.select(BankStatementLine).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.line_date >= start, BankStatementLine.line_date <= end)
        .order_by(BankStatementLine.line_date, BankStatementLine.id)))


def months_with_lines(fund: Fund) -> list[str]:
    days = db.session.scalars(db.select(BankStatementLine.line_date).where(BankStatementLine.fund_id == fund.id)
                              .distinct())
    return sorted({f"{day:%Y-%m}" for day in days}, reverse=True)


def statements(fund: Fund) -> list[BankImport]:
    return list(db.session.scalars(db.select(BankImport).filter_by(fund_id=fund.id)
                                   .order_by(BankImport.period_end.desc(), BankImport.id.desc())))


def matched_postings(line: BankStatementLine) -> list[BookPosting]:
    fund = db.session.get(Fund, line.fund_id)
    return _book_postings(fund, Posting.id.in_([m.posting_id for m in line.matches])) if line.matches else []


# --- the reconciliation at a date ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenLine:
    """A bank line (or the part of it) the books do not hold by the date."""

    line_id: int
    line_date: date
    amount_cents: int
    description: str
    reference: str


@dataclass
class Reconciliation:
    as_of: date
    #: The ledger's bank account at the end of ``as_of``.
    book_cents: int
    #: The bank's ending balance on the statement ending ``as_of``; None when no statement gives one.
    bank_cents: int | None
    statement: BankImport | None
    #: Money out in the books, not yet through the bank (cheques, ACH, Zelle): negative amounts.
    outstanding: list[BookPosting] = field(default_factory=list)
    #: Money in the books, not yet on the bank's statement (deposits, payouts): positive amounts.
    in_transit: list[BookPosting] = field(default_factory=list)
    #: Bank lines the books lack (fees, interest, anything unmatched).
    unrecorded: list[OpenLine] = field(default_factory=list)
    #: Bank postings before the first statement's period are taken as through the bank already.
    first_day: date | None = None

    @property
    def adjusted_bank_cents(self) -> int | None:
        if self.bank_cents is None:
            return None
        return self.bank_cents + sum(p.amount_cents for p in self.outstanding + self.in_transit)

    @property
    def adjusted_book_cents(self) -> int:
        return self.book_cents + sum(line.amount_cents for line in self.unrecorded)

    @property
    def difference_cents(self) -> int | None:
        """Adjusted bank less adjusted books: 0 when every item is accounted for."""
        adjusted = self.adjusted_bank_cents
        return None if adjusted is None else adjusted - self.adjusted_book_cents


def statement_ending(fund: Fund, as_of: date) -> BankImport | None:
    return db.session.scalar(db.select(BankImport).where(
        BankImport.fund_id == fund.id, BankImport.period_end == as_of, BankImport.ending_balance_cents.is_not(None))
        .order_by(BankImport.id.desc()).limit(1))


def reconcile(fund: Fund, as_of: date) -> Reconciliation:
    """The bank reconciliation at the end of ``as_of``: the books' and the bank's balances and what lies between."""
    statement = statement_ending(fund, as_of)
    start = first_day(fund)
    result = Reconciliation(as_of=as_of, book_cents=ledger.balance(fund, BANK_ACCOUNT, as_of),
                            bank_cents=statement.ending_balance_cents if statement else None, statement=statement,
                            first_day=start)
    if start is None:
        return result
    # A posting counts as through the bank at as_of when a line dated by then accounts for it.
    cleared_by_then = db.exists().where(BankMatch.posting_id == Posting.id, BankMatch.line_id == BankStatementLine.id,
                                        BankStatementLine.line_date <= as_of)
    open_postings = _book_postings(fund, JournalEntry.entry_date >= start, JournalEntry.entry_date <= as_of,
                                   ~cleared_by_then)
    # An entry and its reversal that both never reached the bank cancel out (a payment voided before it cleared).
    ids = {p.entry_id for p in open_postings}
    reversed_pairs = {p.entry_id for p in open_postings if p.reversal_of_id in ids} | \
        {p.reversal_of_id for p in open_postings if p.reversal_of_id in ids}
    for posting in open_postings:
        if posting.entry_id in reversed_pairs:
            continue
        (result.outstanding if posting.amount_cents < 0 else result.in_transit).append(posting)
    # What of each line dated by as_of the books had not recorded by as_of.
    recorded = db.select(db.func.coalesce(db.func.sum(BankMatch.amount_cents), 0)).join(
        Posting, Posting.id == BankMatch.posting_id).join(JournalEntry, JournalEntry.id == Posting.entry_id).where(
        BankMatch.line_id == BankStatementLine.id, JournalEntry.entry_date <= as_of).scalar_subquery()
    rows = db.session.execute(db.select(BankStatementLine, recorded).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.account_id == bank_account(fund).id,
        BankStatementLine.line_date <= as_of).order_by(BankStatementLine.line_date, BankStatementLine.id))
    for line, recorded_cents in rows:
        recorded_cents = int(recorded_cents)  # PostgreSQL's sum of BIGINT is NUMERIC
        if line.amount_cents != recorded_cents:
            result.unrecorded.append(OpenLine(line.id, line.line_date, line.amount_cents - recorded_cents,
                                              line.description, line.reference))
    return result


def month_status(fund: Fund, month: str) -> dict:
    """The month's reconciliation, for the close: the statement ending in it, the difference there, and how many
    of its bank lines are unmatched. "ready" when a statement ends in the month with a difference of 0 and
    every line of the month is matched, or when the fund does not reconcile with the bank at all, or the month
    ends before its first statement."""
    start, end = month_bounds(month)
    uses_bank = db.session.scalar(db.select(BankImport.id).filter_by(fund_id=fund.id).limit(1)) is not None
    unmatched = db.session.scalar(db.select(db.func.count(BankStatementLine.id)).where(
        BankStatementLine.fund_id == fund.id, BankStatementLine.line_date >= start,
        BankStatementLine.line_date <= end, BankStatementLine.matched_cents == 0)) or 0
    statement = db.session.scalar(db.select(BankImport).where(
        BankImport.fund_id == fund.id, BankImport.period_end >= start, BankImport.period_end <= end,
        BankImport.ending_balance_cents.is_not(None)).order_by(BankImport.period_end.desc(), BankImport.id.desc())
        .limit(1))
    difference = reconcile(fund, statement.period_end).difference_cents if statement is not None else None
    reconciled = statement is not None and difference == 0 and unmatched == 0
    before_bank = uses_bank and end < first_day(fund)
    if not uses_bank:
        summary = _("No bank statement has been imported: there is nothing to reconcile.")
    elif before_bank:
        summary = _("The month ends before the first bank statement imported (from %(first)s): there is nothing "
                    "to reconcile.", first=first_day(fund).isoformat())
    elif reconciled:
        summary = _("Reconciled with the statement ending %(end)s: every bank line is matched and the difference is "
                    "%(difference)s.", end=statement.period_end.isoformat(), difference=money_text(0, fund.currency))
    elif statement is None:
        summary = _("The bank statement of %(month)s is not reconciled: no statement ending in the month with its "
                    "ending balance is imported, and %(count)s bank line(s) are not matched.", month=month,
                    count=unmatched)
    else:
        summary = _("The bank statement of %(month)s is not reconciled: the difference at %(end)s is %(difference)s "
                    "and %(count)s bank line(s) are not matched.", month=month, end=statement.period_end.isoformat(),
                    difference=money_text(difference, fund.currency), count=unmatched)
    return {"ready": reconciled or not uses_bank or before_bank, "reconciled": reconciled, "month": month,
            "statement_end": statement.period_end.isoformat() if statement else None,
            "difference_cents": difference, "unmatched_lines": int(unmatched), "summary": summary}


def cleared_entries(fund: Fund, entry_ids: list[int]) -> dict[int, tuple[date, str]]:
    """The bank line that each of these entries' bank postings was matched to (for the payouts page)."""
    if not entry_ids:
        return {}
    rows = db.session.execute(
        db.select(Posting.entry_id, BankStatementLine.line_date, BankStatementLine.description)
        .join(BankMatch, BankMatch.posting_id == Posting.id).join(BankStatementLine, BankStatementLine.id == BankMatch.line_id)
        .where(BankMatch.fund_id == fund.id, Posting.entry_id.in_(entry_ids)))
    return {entry_id: (day, description) for entry_id, day, description in rows}


ledger.CLOSE_CHECKS["bank_reconciliation"] = month_status
ledger.CLEARING.append(cleared_entries)
