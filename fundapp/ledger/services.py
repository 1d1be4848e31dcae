"""Posting to the books, reversing, balances and periods. Functions flush; callers commit.

Closing a month writes, in its ``ledger.close_month`` audit record, a snapshot of the month
counted from the postings themselves: per account the net cents and the number of postings,
and a SHA-256 over every (entry id, account, cents) in order. The audit record is sealed
(see ``fundapp.audit``), so ``check_closed_months`` can tell a month changed behind the
app's back (by someone who owns the database and turned its guards off) from one left alone.
"""
from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable, Iterable, Sequence

from flask_babel import format_date, gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.models import AuditRecord
from fundapp.audit.services import record_change, wait_for_writers
from fundapp.extensions import db, insert_or_merge
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.ledger.models import (CASH_ACCOUNTS, CHART, DAY_TOTAL_SLOTS, Account, AccountType, ClosedPeriod,
                                   DayTotal, JournalEntry, Posting)


class LedgerError(ValueError):
    """An entry or action the books refuse; the message says why, for people."""


class PeriodClosed(LedgerError):
    pass


class AlreadyReversed(LedgerError):
    pass


# --- validation: small pure checks, each raising LedgerError -----------------------------------


def validate_postings(postings: Sequence[tuple[str, int]]) -> None:
    if len(postings) < 2:
        raise LedgerError("an entry needs at least two postings")
    for account, amount in postings:
        if type(amount) is not int:
            raise LedgerError(f"amount for {account} must be integer cents, not {type(amount).__name__}")
        if amount == 0:
            raise LedgerError(f"posting to {account} has a zero amount")
    total = sum(amount for _account, amount in postings)
    if total != 0:
        raise LedgerError(f"entry does not balance: postings sum to {total} cents, not 0")


def validate_accounts(postings: Sequence[tuple[str, int]], known: dict[str, Account]) -> None:
    unknown = sorted({account for account, _amount in postings if account not in known})
    if unknown:
        raise LedgerError(f"unknown account(s): {', '.join(unknown)}")


def validate_open_period(fund: Fund, entry_date: date) -> None:
    if is_closed(fund, entry_date):
        raise PeriodClosed(_("%(month)s is closed: date the entry in an open month, or reopen %(key)s first.",
                             month=format_date(entry_date, "MMMM yyyy"), key=f"{entry_date:%Y-%m}"))


# --- the chart of accounts ---------------------------------------------------------------------


def chart(fund: Fund) -> dict[str, Account]:
    """The fund's accounts by name, read only. The standard chart is opened by ``fund init`` (``open_chart``);
    one missing means init was not run, so this raises rather than writing on a read."""
    accounts = {a.name: a for a in db.session.scalars(db.select(Account).filter_by(fund_id=fund.id))}
    missing = [name for name in CHART if name not in accounts]
    if missing:
        raise FundNotInitialised(f"The chart of accounts of the fund {fund.slug!r} ({', '.join(missing)})")
    return accounts


def open_chart(fund: Fund) -> list[str]:
    """Open the standard chart's accounts the fund lacks (flushes); returns their names. For ``fund init``."""
    have = set(db.session.scalars(db.select(Account.name).filter_by(fund_id=fund.id)))
    missing = [name for name in CHART if name not in have]
    if missing:
        try:
            with db.session.begin_nested():
                for name in missing:
                    db.session.add(Account(fund_id=fund.id, name=name))
        except IntegrityError:  # another transaction opened them first
            pass
    return missing


def open_account(fund: Fund, name: str) -> Account:
    """The fund's account ``name``, opened if it is not yet there (an account beyond the standard chart, such
    as Expenses:BankFees, opened by the action that first books to it)."""
    root = name.split(":", 1)[0]
    if root not in set(AccountType) or ":" not in name or len(name) > 100:
        raise LedgerError(f"not an account name: {name!r}")
    accounts = chart(fund)
    if name not in accounts:
        try:
            with db.session.begin_nested():
                db.session.add(Account(fund_id=fund.id, name=name))
        except IntegrityError:  # another transaction opened it first
            pass
        accounts = chart(fund)
    return accounts[name]


# --- posting and reversing ---------------------------------------------------------------------


def find_entry(fund: Fund, source_kind: str, source_id: str) -> JournalEntry | None:
    return db.session.scalar(db.select(JournalEntry).filter_by(
        fund_id=fund.id, source_kind=source_kind, source_id=str(source_id)))


def post_entry(fund: Fund, *, entry_date: date, memo: str, source_kind: str, source_id,
               postings: Sequence[tuple[str, int]], actor=None, reversal_of: JournalEntry | None = None
               ) -> JournalEntry:
    """Post one balanced entry; a source already posted returns its first entry unchanged."""
    source_id = str(source_id)
    existing = find_entry(fund, source_kind, source_id)
    if existing is not None:
        return existing
    postings = list(postings)
    validate_postings(postings)
    accounts = chart(fund)
    validate_accounts(postings, accounts)
    validate_open_period(fund, entry_date)
    entry = JournalEntry(fund_id=fund.id, entry_date=entry_date, memo=memo[:500], source_kind=source_kind,
                         source_id=source_id, actor_id=getattr(actor, "id", None),
                         reversal_of_id=reversal_of.id if reversal_of is not None else None)
    entry.postings = [Posting(account_id=accounts[name].id, amount_cents=amount) for name, amount in postings]
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        existing = find_entry(fund, source_kind, source_id)  # a concurrent transaction posted it first
        if existing is None:
            raise
        return existing
    record_change("ledger.post", "journal_entry", entry.id, actor=actor, fund_id=fund.id,
                  after={"date": entry_date.isoformat(), "memo": entry.memo, "source": f"{source_kind}:{source_id}",
                         "postings": [[name, amount] for name, amount in postings]})
    # After the audit record: its lock orders every booking, so day-total rows are always taken in turn
    # (taking them first could deadlock with a transaction that holds the audit lock and books again).
    _add_to_day_totals(fund, entry)
    return entry


def _add_to_day_totals(fund: Fund, entry: JournalEntry) -> None:
    """Add the entry's postings to its day's totals (an upsert per account, in the entry's transaction)."""
    by_account: dict[int, list[int]] = {}
    for posting in entry.postings:
        net_and_credit = by_account.setdefault(posting.account_id, [0, 0])
        net_and_credit[0] += posting.amount_cents
        net_and_credit[1] = 1 if posting.amount_cents < 0 else net_and_credit[1]
    statement = insert_or_merge(DayTotal).values([
        {"fund_id": fund.id, "account_id": account_id, "day": entry.entry_date, "slot": entry.id % DAY_TOTAL_SLOTS,
         "cents": cents, "credits": credits} for account_id, (cents, credits) in sorted(by_account.items())])
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["fund_id", "account_id", "day", "slot"],
        set_={"cents": DayTotal.cents + statement.excluded.cents,
              "credits": DayTotal.credits + statement.excluded.credits}))


def reverse_entry(entry: JournalEntry, *, entry_date: date, memo: str, actor=None) -> JournalEntry:
    """Cancel an entry by posting its mirror image, linked to it; an entry is reversed once."""
    if entry.reversal_of_id is not None:
        raise LedgerError(f"entry {entry.id} is itself a reversal and cannot be reversed")
    if db.session.scalar(db.select(JournalEntry.id).filter_by(reversal_of_id=entry.id)) is not None:
        raise AlreadyReversed(f"entry {entry.id} has already been reversed")
    fund = db.session.get(Fund, entry.fund_id)
    postings = [(p.account.name, -p.amount_cents) for p in entry.postings]
    return post_entry(fund, entry_date=entry_date, memo=memo, source_kind="reversal", source_id=entry.id,
                      postings=postings, actor=actor, reversal_of=entry)


# --- balances: sums of the day totals (themselves sums of postings, checked by check_day_totals) --


def _sum_query(fund: Fund, start: date | None, end: date | None):
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


def _posting_day_sums(fund: Fund):
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
    chart(fund)
    return {name: int(total) for name, total in db.session.execute(_sum_query(fund, start, end))}


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


def journal_lines(fund: Fund, start: date | None = None, end: date | None = None):
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
    return int(db.session.scalar(
        db.select(db.func.coalesce(db.func.sum(DayTotal.credits), 0))
        .join(Account, Account.id == DayTotal.account_id)
        .where(DayTotal.fund_id == fund.id, Account.name == account)) or 0)


def available_to_grant(fund: Fund, as_of: date | None = None) -> int:
    """Cash (Stripe, bank, undeposited) minus grants approved but unpaid minus the reserve."""
    return available_from(fund, balances(fund, as_of))


def available_from(fund: Fund, totals: dict[str, int]) -> int:
    """``available_to_grant`` from balances already summed (a page that needs both sums once)."""
    cash = sum(totals.get(name, 0) for name in CASH_ACCOUNTS)
    payable = -totals.get("Liabilities:GrantsPayable", 0)
    return cash - payable - fund.reserve_cents


# --- periods -------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    if not _MONTH.match(text or ""):
        raise LedgerError(_("Write a month as YYYY-MM, for example 2026-10."))
    return text


def is_closed(fund: Fund, day: date) -> bool:
    return db.session.scalar(db.select(ClosedPeriod.id).filter_by(fund_id=fund.id, month=f"{day:%Y-%m}")) is not None


def closed_months(fund: Fund) -> list[str]:
    return list(db.session.scalars(db.select(ClosedPeriod.month).filter_by(fund_id=fund.id).order_by(ClosedPeriod.month)))


def next_months_to_close(fund: Fund, count: int = 3) -> list[str]:
    """The oldest ``count`` open months that hold entries: the next ones the treasurer closes."""
    days = db.session.scalars(db.select(DayTotal.day).where(DayTotal.fund_id == fund.id).distinct())
    closed = set(closed_months(fund))
    return sorted({f"{day:%Y-%m}" for day in days} - closed)[:count]


def month_snapshot(fund: Fund, month: str) -> dict:
    """The month's books from its postings: {"accounts": {name: {"cents", "postings"}}, "entries", "digest"}."""
    year, number = int(month[:4]), int(month[5:])
    start, end = date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    rows = db.session.execute(
        db.select(JournalEntry.id, Account.name, Posting.amount_cents)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.fund_id == fund.id, JournalEntry.entry_date >= start, JournalEntry.entry_date <= end)
        .order_by(JournalEntry.id, Posting.id).execution_options(yield_per=5000))
    accounts: dict[str, dict[str, int]] = {}
    entry_ids: set[int] = set()
    digest = hashlib.sha256()
    for entry_id, name, cents in rows:
        digest.update(f"{entry_id}|{name}|{cents}\n".encode())
        totals = accounts.setdefault(name, {"cents": 0, "postings": 0})
        totals["cents"] += cents
        totals["postings"] += 1
        entry_ids.add(entry_id)
    return {"accounts": accounts, "entries": len(entry_ids), "digest": digest.hexdigest()}


#: What other domains say about closing a month, by name: ``check(fund, "YYYY-MM") -> dict`` (plain values, with
#: at least "ready": whether that domain sees nothing left to do, and "summary": a sentence for the treasurer).
#: The bank reconciliation registers here, so the ledger imports none of the domains above it; the close keeps
#: each answer (less its summary) in its audit record.
CLOSE_CHECKS: dict[str, Callable[[Fund, str], dict]] = {}

#: How a domain that matches the books to the bank's statement says which entries have reached the bank:
#: ``clearing(fund, entry_ids)`` answers {entry id: (the bank line's date, its description)} for those matched.
#: The bank reconciliation registers here (nothing registered: nothing is known to have cleared).
CLEARING: list[Callable[[Fund, list[int]], dict[int, tuple[date, str]]]] = []


def cleared(fund: Fund, entry_ids: list[int]) -> dict[int, tuple[date, str]]:
    """Which of these entries the bank's statement shows, and as what (see ``CLEARING``)."""
    found: dict[int, tuple[date, str]] = {}
    for clearing in CLEARING:
        found.update(clearing(fund, entry_ids))
    return found


def close_checks(fund: Fund, month: str) -> dict[str, dict]:
    """Each registered domain's word on closing ``month``."""
    return {name: check(fund, month) for name, check in sorted(CLOSE_CHECKS.items())}


def close_month(fund: Fund, month: str, *, actor=None) -> ClosedPeriod:
    """Close a month: from now on no entry may be dated in it. Its audit record keeps the month's snapshot, and
    what ``CLOSE_CHECKS`` said of the month (e.g. whether the bank statement was reconciled, and the difference)."""
    month = parse_month(month)
    if month in closed_months(fund):
        raise LedgerError(_("%(month)s is already closed.", month=month))
    wait_for_writers()  # no booking lands in the month between the snapshot and the close
    checks = {name: {key: value for key, value in check.items() if key != "summary"}
              for name, check in close_checks(fund, month).items()}
    period = ClosedPeriod(fund_id=fund.id, month=month, closed_by_id=getattr(actor, "id", None))
    db.session.add(period)
    db.session.flush()
    record_change("ledger.close_month", "period", month, actor=actor, fund_id=fund.id,
                  after={"closed": True, "snapshot": month_snapshot(fund, month), **checks})
    return period


def check_closed_months(fund: Fund) -> list[str]:
    """Each way a closed month differs from the snapshot in its newest close record; empty when none does.

    Months closed before snapshots were kept have none to compare with and are passed over.
    """
    problems = []
    for month in closed_months(fund):
        after = db.session.scalar(
            db.select(AuditRecord.after).where(AuditRecord.fund_id == fund.id, AuditRecord.action == "ledger.close_month",
                                               AuditRecord.object_type == "period", AuditRecord.object_id == month)
            .order_by(AuditRecord.id.desc()).limit(1))
        if after is None:
            problems.append(f"closed month {month}: the audit trail has no record of its closing")
            continue
        then = after.get("snapshot")
        if then is None:
            continue
        now = month_snapshot(fund, month)
        for name in sorted(then["accounts"].keys() | now["accounts"].keys()):
            was = then["accounts"].get(name, {"cents": 0, "postings": 0})
            is_ = now["accounts"].get(name, {"cents": 0, "postings": 0})
            if was["cents"] != is_["cents"]:
                problems.append(f"closed month {month}: {name} was {was['cents']} cents at closing, now {is_['cents']}")
            if was["postings"] != is_["postings"]:
                problems.append(f"closed month {month}: {name} had {was['postings']} postings at closing, "
                                f"now {is_['postings']}")
        if then["entries"] != now["entries"]:
            problems.append(f"closed month {month}: {then['entries']} entries at closing, now {now['entries']}")
        if then["digest"] != now["digest"]:
            problems.append(f"closed month {month}: its postings differ from those at closing (entries, accounts "
                            f"or amounts changed)")
    return problems


def reopen_month(fund: Fund, month: str, *, reason: str, actor=None) -> None:
    """Reopen a closed month (an audited treasurer action with a stated reason)."""
    month = parse_month(month)
    if not reason.strip():
        raise LedgerError(_("Please say why the month is reopened."))
    period = db.session.scalar(db.select(ClosedPeriod).filter_by(fund_id=fund.id, month=month))
    if period is None:
        raise LedgerError(_("%(month)s is not closed.", month=month))
    db.session.delete(period)
    db.session.flush()
    record_change("ledger.reopen_month", "period", month, actor=actor, fund_id=fund.id,
                  before={"closed": True}, after={"closed": False, "reason": reason.strip()})


def entries(fund: Fund, start: date | None = None, end: date | None = None) -> Iterable[JournalEntry]:
    """Entries in date order, streamed (for exports and reports)."""
    query = db.select(JournalEntry).filter_by(fund_id=fund.id).order_by(JournalEntry.entry_date, JournalEntry.id)
    if start is not None:
        query = query.where(JournalEntry.entry_date >= start)
    if end is not None:
        query = query.where(JournalEntry.entry_date <= end)
    return db.session.scalars(query.execution_options(yield_per=1000))
