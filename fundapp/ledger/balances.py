"""Balances and statements: sums of the day totals (themselves sums of postings, checked by check_day_totals),
the statements of activities and financial position, the trial balance, and the entries streamed for exports."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Result, Select

from fundapp.audit.services import wait_for_writers
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger.models import CASH_ACCOUNTS, CHART, Account, AccountType, DayTotal, JournalEntry, Posting
from fundapp.ledger.posting import chart


def _sum_query(fund: Fund, start: date | None, end: date | None) -> Select[tuple[str, int]]:
    dated = db.true()
    if start is not None:
        dated = db.and_(dated, DayTotal.day >= start)
    if end is not None:
        dated = db.and_(dated, DayTotal.day <= end)
    # The date test sits in the join, so an account with nothing in range still gets its row (of 0).
    totals = (db.select(DayTotal.account_id, DayTotal.cents)
              .where(DayTotal.fund_id == fund.id, dated).subquery())
    return (db.select(Account.name, db.func.coalesce(db.func.sum(totals.c.cents), 0))
            .select_from(Account)
            .outerjoin(totals, totals.c.account_id == Account.id)
            .where(Account.fund_id == fund.id)
            .group_by(Account.name))


def _posting_day_sums(fund: Fund) -> Select[tuple[int, date, int, int]]:
    """(account id, day, net cents, entries crediting) straight from the postings."""
    credit = db.case((Posting.amount_cents < 0, JournalEntry.id))
    return (db.select(Posting.account_id, JournalEntry.entry_date.label("day"),
                      db.func.sum(Posting.amount_cents).label("cents"),
                      db.func.count(db.distinct(credit)).label("credits"))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.fund_id == fund.id)
            .group_by(Posting.account_id, JournalEntry.entry_date))


def check_day_totals(fund: Fund) -> list[str]:
    """Every (account, day) whose day total differs from its postings; empty when they agree."""
    wait_for_writers()  # both sums see the same books: no booking lands between them
    names = {account.id: name for name, account in chart(fund).items()}
    kept: dict[tuple[int, date], tuple[int, int]] = {}
    for account_id, day, cents, credits in db.session.execute(
            db.select(DayTotal.account_id, DayTotal.day, db.func.sum(DayTotal.cents), db.func.sum(DayTotal.credits))
            .where(DayTotal.fund_id == fund.id).group_by(DayTotal.account_id, DayTotal.day)):
        if cents or credits:
            kept[(account_id, day)] = (int(cents), int(credits))
    posted = {(account_id, day): (int(cents), int(credits))
              for account_id, day, cents, credits in db.session.execute(_posting_day_sums(fund))}
    return [f"{names.get(account_id, account_id)} on {day.isoformat()}: day totals {kept.get((account_id, day))}, "
            f"postings {posted.get((account_id, day))}"
            for account_id, day in sorted(kept.keys() | posted.keys()) if kept.get((account_id, day)) != posted.get((account_id, day))]


def rebuild_day_totals(fund: Fund) -> None:
    """Write the fund's day totals again from its postings (after bulk inserts, or to repair)."""
    wait_for_writers()  # a booking landing mid-rebuild would be counted twice, or deadlock with the delete
    db.session.execute(db.delete(DayTotal).where(DayTotal.fund_id == fund.id))
    sums = _posting_day_sums(fund).subquery()
    db.session.execute(db.insert(DayTotal).from_select(
        ["fund_id", "account_id", "day", "slot", "cents", "credits"],
        db.select(db.literal(fund.id), sums.c.account_id, sums.c.day, db.literal(0), sums.c.cents, sums.c.credits)))


def balances(fund: Fund, as_of: date | None = None) -> dict[str, int]:
    """Every account's balance in cents (debit positive) at the end of ``as_of``."""
    return period_totals(fund, None, as_of)


def period_totals(fund: Fund, start: date | None, end: date | None) -> dict[str, int]:
    """Every account's net movement in cents (debit positive) from ``start`` to ``end``, both included."""
    totals = {name: int(total) for name, total in db.session.execute(_sum_query(fund, start, end))}
    if not totals.keys() >= set(CHART):  # every account has its row: one missing means init was not run
        chart(fund)  # raises FundNotInitialised naming them
    return totals


def _root(name: str) -> AccountType:
    return AccountType(name.split(":", 1)[0])


def net_assets(totals: dict[str, int]) -> int:
    """Assets less liabilities, from debit-positive balances (what the trial balance shows on one day)."""
    return sum(cents for name, cents in totals.items() if _root(name) in (AccountType.ASSETS, AccountType.LIABILITIES))


@dataclass(frozen=True)
class Activities:
    """A period's revenue, expenses and equity entries per account (normal side, so positive), and net assets
    (assets less liabilities) the day before it.

    Net assets at the end are the start plus revenue less expenses plus the period's equity entries (an
    opening balance carried in, say): the two together are every movement that is not between assets and
    liabilities, so the end equals assets less liabilities on the period's last day.
    """

    revenue: list[tuple[str, int]]
    expenses: list[tuple[str, int]]
    net_assets_start_cents: int
    #: Equity accounts moved in the period (credit positive); empty when none was.
    equity: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_revenue_cents(self) -> int:
        return sum(cents for _name, cents in self.revenue)

    @property
    def total_expenses_cents(self) -> int:
        return sum(cents for _name, cents in self.expenses)

    @property
    def change_cents(self) -> int:
        """The change in net assets from operations: revenue less expenses."""
        return self.total_revenue_cents - self.total_expenses_cents

    @property
    def equity_change_cents(self) -> int:
        return sum(cents for _name, cents in self.equity)

    @property
    def net_assets_end_cents(self) -> int:
        return self.net_assets_start_cents + self.change_cents + self.equity_change_cents


def activities(fund: Fund, start: date, end: date) -> Activities:
    """The statement of activities: net assets the day before, what came in, what went out, equity entries."""
    moved = period_totals(fund, start, end)
    # Equity entries dated inside the period (an opening balance booked on its first day) change net assets
    # without being revenue: left out, the statement closed short of the books by their amount.
    return Activities(
        revenue=[(name, -cents) for name, cents in sorted(moved.items()) if _root(name) is AccountType.INCOME],
        expenses=[(name, cents) for name, cents in sorted(moved.items()) if _root(name) is AccountType.EXPENSES],
        net_assets_start_cents=net_assets(balances(fund, start - timedelta(days=1))),
        equity=[(name, -cents) for name, cents in sorted(moved.items())
                if _root(name) is AccountType.EQUITY and cents])


@dataclass(frozen=True)
class FinancialPosition:
    """The balance sheet at the end of a day: each asset (debit positive), each liability and equity account
    (credit positive), and the surplus: all revenue less all expenses since the books began."""

    assets: list[tuple[str, int]]
    liabilities: list[tuple[str, int]]
    equity: list[tuple[str, int]]
    surplus_cents: int

    @property
    def total_assets_cents(self) -> int:
        return sum(cents for _name, cents in self.assets)

    @property
    def total_liabilities_cents(self) -> int:
        return sum(cents for _name, cents in self.liabilities)

    @property
    def net_assets_cents(self) -> int:
        """Opening equity plus the accumulated surplus."""
        return sum(cents for _name, cents in self.equity) + self.surplus_cents

    @property
    def total_liabilities_and_net_assets_cents(self) -> int:
        return self.total_liabilities_cents + self.net_assets_cents


def financial_position(fund: Fund, as_of: date | None = None) -> FinancialPosition:
    """The statement of financial position at the end of ``as_of`` (today's books when None)."""
    totals = sorted(balances(fund, as_of).items())
    return FinancialPosition(
        assets=[(name, cents) for name, cents in totals if _root(name) is AccountType.ASSETS],
        liabilities=[(name, -cents) for name, cents in totals if _root(name) is AccountType.LIABILITIES],
        equity=[(name, -cents) for name, cents in totals if _root(name) is AccountType.EQUITY],
        surplus_cents=-sum(cents for name, cents in totals
                           if _root(name) in (AccountType.INCOME, AccountType.EXPENSES)))


def journal_lines(fund: Fund, start: date | None = None, end: date | None = None
                  ) -> Result[tuple[str, date, int, str, int]]:
    """(account, date, entry id, memo, cents) for every posting, by account then date, streamed."""
    query = (db.select(Account.name, JournalEntry.entry_date, JournalEntry.id, JournalEntry.memo,
                       Posting.amount_cents)
             .join(JournalEntry, JournalEntry.id == Posting.entry_id)
             .join(Account, Account.id == Posting.account_id)
             .where(JournalEntry.fund_id == fund.id)
             .order_by(Account.name, JournalEntry.entry_date, JournalEntry.id, Posting.id))
    if start is not None:
        query = query.where(JournalEntry.entry_date >= start)
    if end is not None:
        query = query.where(JournalEntry.entry_date <= end)
    return db.session.execute(query.execution_options(yield_per=2000))


def balance(fund: Fund, account: str, as_of: date | None = None) -> int:
    return balances(fund, as_of).get(account, 0)


@dataclass(frozen=True)
class TrialBalanceLine:
    account: str
    type: AccountType
    debit_cents: int
    credit_cents: int


def trial_balance(fund: Fund, as_of: date | None = None) -> list[TrialBalanceLine]:
    """Each account's balance as a debit or a credit; the two columns' totals are equal."""
    lines = []
    for name, total in sorted(balances(fund, as_of).items()):
        lines.append(TrialBalanceLine(name, AccountType(name.split(":")[0]), max(total, 0), max(-total, 0)))
    return lines


def count_entries_crediting(fund: Fund, account: str) -> int:
    """How many entries credit ``account`` (e.g. gifts received: entries crediting Income:Donations)."""
    total: int | None = db.session.scalar(
        db.select(db.func.coalesce(db.func.sum(DayTotal.credits), 0))
        .join(Account, Account.id == DayTotal.account_id)
        .where(DayTotal.fund_id == fund.id, Account.name == account))
    return int(total or 0)


def available_to_grant(fund: Fund, as_of: date | None = None) -> int:
    """Cash (Stripe, bank, undeposited) minus grants approved but unpaid minus the reserve."""
    return available_from(fund, balances(fund, as_of))


def available_from(fund: Fund, totals: dict[str, int]) -> int:
    """``available_to_grant`` from balances already summed (a page that needs both sums once)."""
    cash = sum(totals.get(name, 0) for name in CASH_ACCOUNTS)
    payable = -totals.get("Liabilities:GrantsPayable", 0)
    return cash - payable - fund.reserve_cents



def entries(fund: Fund, start: date | None = None, end: date | None = None) -> Iterable[JournalEntry]:
    """Entries in date order, streamed (for exports and reports)."""
    query = db.select(JournalEntry).filter_by(fund_id=fund.id).order_by(JournalEntry.entry_date, JournalEntry.id)
    if start is not None:
        query = query.where(JournalEntry.entry_date >= start)
    if end is not None:
        query = query.where(JournalEntry.entry_date <= end)
    found: Iterable[JournalEntry] = db.session.scalars(query.execution_options(yield_per=1000))
    return found


@dataclass(frozen=True)
class FinalFigures:
    """A fund's whole life in its books, for its final report (all cents, from the postings)."""

    raised_cents: int  #: gifts received (credits to Income:Donations)
    returned_cents: int  #: gifts given back: refunds and disputes lost (debits to Income:Donations)
    fees_cents: int  #: card and dispute fees
    granted_cents: int  #: hardship grants (net of any voided)
    transferred_in_cents: int  #: from other funds of the installation
    transferred_out_cents: int  #: to other funds of the installation
    left_cents: int  #: the fund's money now (CASH_ACCOUNTS)
    owed_cents: int  #: grants approved and not yet paid
    other_cents: int = 0  #: money that came in any other way (an opening balance, other income, less bank fees)

    @property
    def adds_up(self) -> bool:
        """What came in, less what went out, is what is left less what is owed: the report adds up."""
        came_in = self.raised_cents + self.transferred_in_cents + self.other_cents
        went_out = self.returned_cents + self.fees_cents + self.granted_cents + self.transferred_out_cents
        return came_in - went_out == self.left_cents - self.owed_cents


def final_figures(fund: Fund) -> FinalFigures:
    """Everything raised, returned, granted and moved, and what is left, summed from every posting in one query."""
    rows = db.session.execute(
        db.select(Account.name, db.func.coalesce(db.func.sum(db.case((Posting.amount_cents > 0, Posting.amount_cents),
                                                                     else_=0)), 0),
                  db.func.coalesce(db.func.sum(db.case((Posting.amount_cents < 0, -Posting.amount_cents), else_=0)), 0))
        .join(Posting, Posting.account_id == Account.id).where(Account.fund_id == fund.id).group_by(Account.name)).all()
    debits = {name: int(debit) for name, debit, _credit in rows}
    credits = {name: int(credit) for name, _debit, credit in rows}

    def net(name: str) -> int:  # debit balance
        return debits.get(name, 0) - credits.get(name, 0)

    cash = sum(net(name) for name in CASH_ACCOUNTS)
    owed = -net("Liabilities:GrantsPayable")
    known = {"Income:Donations", "Expenses:PaymentFees", "Expenses:HardshipGrants", "Expenses:TransfersToOtherFunds",
             "Income:TransfersFromOtherFunds", "Liabilities:GrantsPayable", *CASH_ACCOUNTS}
    other = -sum(net(name) for name in set(debits) | set(credits) if name not in known)
    return FinalFigures(
        raised_cents=credits.get("Income:Donations", 0), returned_cents=debits.get("Income:Donations", 0),
        fees_cents=net("Expenses:PaymentFees"), granted_cents=net("Expenses:HardshipGrants"),
        transferred_in_cents=-net("Income:TransfersFromOtherFunds"),
        transferred_out_cents=net("Expenses:TransfersToOtherFunds"), left_cents=cash, owed_cents=owed,
        other_cents=other)
