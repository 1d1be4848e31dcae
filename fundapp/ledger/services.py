"""Posting to the books, reversing, balances and periods. Functions flush; callers commit."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger.models import CASH_ACCOUNTS, CHART, Account, AccountType, ClosedPeriod, JournalEntry, Posting


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
        raise PeriodClosed(
            f"{entry_date:%B %Y} is closed: date the entry in an open month, or reopen {entry_date:%Y-%m} first")


# --- the chart of accounts ---------------------------------------------------------------------


def chart(fund: Fund) -> dict[str, Account]:
    """The fund's accounts by name, creating the standard chart on first use."""
    accounts = {a.name: a for a in db.session.scalars(db.select(Account).filter_by(fund_id=fund.id))}
    missing = [name for name in CHART if name not in accounts]
    if missing:
        try:
            with db.session.begin_nested():
                for name in missing:
                    db.session.add(Account(fund_id=fund.id, name=name))
        except IntegrityError:  # another transaction made them first
            pass
        accounts = {a.name: a for a in db.session.scalars(db.select(Account).filter_by(fund_id=fund.id))}
    return accounts


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
    return entry


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


# --- balances: always sums of postings ---------------------------------------------------------


def _sum_query(fund: Fund, as_of: date | None):
    query = (db.select(Account.name, db.func.coalesce(db.func.sum(Posting.amount_cents), 0))
             .select_from(Account)
             .outerjoin(Posting, Posting.account_id == Account.id)
             .outerjoin(JournalEntry, JournalEntry.id == Posting.entry_id)
             .where(Account.fund_id == fund.id)
             .group_by(Account.name))
    if as_of is not None:
        query = query.where(db.or_(JournalEntry.entry_date <= as_of, JournalEntry.id.is_(None)))
    return query


def balances(fund: Fund, as_of: date | None = None) -> dict[str, int]:
    """Every account's balance in cents (debit positive) at the end of ``as_of``."""
    chart(fund)
    return {name: int(total) for name, total in db.session.execute(_sum_query(fund, as_of))}


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


def available_to_grant(fund: Fund, as_of: date | None = None) -> int:
    """Cash (Stripe, bank, undeposited) minus grants approved but unpaid minus the reserve."""
    totals = balances(fund, as_of)
    cash = sum(totals.get(name, 0) for name in CASH_ACCOUNTS)
    payable = -totals.get("Liabilities:GrantsPayable", 0)
    return cash - payable - fund.reserve_cents


# --- periods -------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    if not _MONTH.match(text or ""):
        raise LedgerError(f"a month is written YYYY-MM, e.g. 2026-10, not {text!r}")
    return text


def is_closed(fund: Fund, day: date) -> bool:
    return db.session.scalar(db.select(ClosedPeriod.id).filter_by(fund_id=fund.id, month=f"{day:%Y-%m}")) is not None


def closed_months(fund: Fund) -> list[str]:
    return list(db.session.scalars(db.select(ClosedPeriod.month).filter_by(fund_id=fund.id).order_by(ClosedPeriod.month)))


def close_month(fund: Fund, month: str, *, actor=None) -> ClosedPeriod:
    """Close a month: from now on no entry may be dated in it."""
    month = parse_month(month)
    if month in closed_months(fund):
        raise LedgerError(f"{month} is already closed")
    period = ClosedPeriod(fund_id=fund.id, month=month, closed_by_id=getattr(actor, "id", None))
    db.session.add(period)
    db.session.flush()
    record_change("ledger.close_month", "period", month, actor=actor, fund_id=fund.id, after={"closed": True})
    return period


def reopen_month(fund: Fund, month: str, *, reason: str, actor=None) -> None:
    """Reopen a closed month (an audited treasurer action with a stated reason)."""
    month = parse_month(month)
    if not reason.strip():
        raise LedgerError("say why the month is reopened")
    period = db.session.scalar(db.select(ClosedPeriod).filter_by(fund_id=fund.id, month=month))
    if period is None:
        raise LedgerError(f"{month} is not closed")
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
