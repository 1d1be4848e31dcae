"""Posting to the books and reversing: the chart of accounts, the checks every entry passes, and the entry itself.
Functions flush; callers commit."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import Change, record_changes
from fundapp.extensions import db, insert_or_merge
from fundapp.funds import clock
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.ledger.errors import AlreadyReversed, LedgerError, PeriodClosed
from fundapp.ledger.models import CHART, DAY_TOTAL_SLOTS, Account, AccountType, DayTotal, JournalEntry, Posting
from fundapp.ledger.periods import closed_months, is_closed

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


def find_entry(fund: Fund, source_kind: str, source_id: str | int) -> JournalEntry | None:
    found: JournalEntry | None = db.session.scalar(db.select(JournalEntry).filter_by(
        fund_id=fund.id, source_kind=source_kind, source_id=str(source_id)))
    return found


@dataclass(frozen=True)
class NewEntry:
    """One entry to post (``post_entries`` posts several at once)."""

    entry_date: date
    memo: str
    source_kind: str
    source_id: str
    postings: tuple[tuple[str, int], ...]


def post_entry(fund: Fund, *, entry_date: date, memo: str, source_kind: str, source_id: str | int,
               postings: Sequence[tuple[str, int]], actor: object = None, reversal_of: JournalEntry | None = None
               ) -> JournalEntry:
    """Post one balanced entry; a source already posted returns its first entry unchanged."""
    return post_entries(fund, [NewEntry(entry_date, memo, source_kind, str(source_id), tuple(postings))],
                        actor=actor, reversal_of=reversal_of)[0]


def post_entries(fund: Fund, new: Sequence[NewEntry], *, actor: object = None,
                 reversal_of: JournalEntry | None = None) -> list[JournalEntry]:
    """Post balanced entries, in order, with one read of what is posted already, one of the chart and of the
    closed months, one INSERT each for the entries and their postings, one audit append and one upsert of the
    day totals (a booked batch of gifts). A source already posted gives its first entry, unchanged; one posted
    meanwhile by a concurrent transaction does too when a single entry is posted (in a batch the IntegrityError
    is raised, and the caller books its items one by one)."""
    if not new:
        return []
    keys = list(dict.fromkeys((item.source_kind, str(item.source_id)) for item in new))
    found = {(entry.source_kind, entry.source_id): entry for entry in db.session.scalars(
        db.select(JournalEntry).where(JournalEntry.fund_id == fund.id,
                                      sa.tuple_(JournalEntry.source_kind, JournalEntry.source_id).in_(keys)))}
    accounts = chart(fund)
    closed = set(closed_months(fund))
    entries: list[tuple[JournalEntry, list[tuple[int, int]]]] = []
    for item in new:
        key = (item.source_kind, str(item.source_id))
        if key in found:
            continue
        postings = list(item.postings)
        validate_postings(postings)
        validate_accounts(postings, accounts)
        if f"{item.entry_date:%Y-%m}" in closed:
            validate_open_period(fund, item.entry_date)  # raises PeriodClosed, worded for people
        entry = JournalEntry(fund_id=fund.id, entry_date=item.entry_date, memo=item.memo[:500],
                             source_kind=item.source_kind, source_id=key[1], actor_id=getattr(actor, "id", None),
                             reversal_of_id=reversal_of.id if reversal_of is not None else None)
        found[key] = entry
        entries.append((entry, [(accounts[name].id, amount) for name, amount in postings]))
    if entries:
        try:
            with db.session.begin_nested():
                db.session.add_all([entry for entry, _postings in entries])
        except IntegrityError:
            if len(keys) > 1:
                raise
            existing = find_entry(fund, *keys[0])  # a concurrent transaction posted it first
            if existing is None:
                raise
            return [existing]
        # The postings by executemany (one short statement, pipelined), not one ORM object each; an entry's
        # ``postings`` are read from the database when first asked for.
        db.session.execute(sa.insert(Posting.__table__), [
            {"entry_id": entry.id, "account_id": account_id, "amount_cents": amount}
            for entry, postings in entries for account_id, amount in postings])
        for entry, _postings in entries:
            db.session.expire(entry, ["postings"])
        names = {account.id: name for name, account in accounts.items()}
        record_changes([Change("ledger.post", "journal_entry", entry.id, actor=actor, fund_id=fund.id, after={
            "date": entry.entry_date.isoformat(), "memo": entry.memo,
            "source": f"{entry.source_kind}:{entry.source_id}",
            "postings": [[names[account_id], amount] for account_id, amount in postings]})
            for entry, postings in entries])
        _refuse_months_closed_meanwhile(fund, [entry.entry_date for entry, _postings in entries])
        # After the audit records: their lock orders every booking, so day-total rows are always taken in turn
        # (taking them first could deadlock with a transaction that holds the audit lock and books again).
        _add_to_day_totals(fund, entries)
    return [found[(item.source_kind, str(item.source_id))] for item in new]


def _refuse_months_closed_meanwhile(fund: Fund, days: Sequence[date]) -> None:
    """Closing a month takes the audit lock, which ``record_changes`` now holds: a month closed after the closed
    months were read above, and before that lock, is seen here, and entries dated in it are refused with the
    rest of their transaction. Only an ended month can be closed, so entries of the fund's current month (nearly
    all of them) need no second read."""
    this_month = clock.month(fund)
    past = {f"{day:%Y-%m}" for day in days if f"{day:%Y-%m}" < this_month}
    closed = past & set(closed_months(fund)) if past else set()
    if closed:
        validate_open_period(fund, min(day for day in days if f"{day:%Y-%m}" in closed))  # raises PeriodClosed


def _add_to_day_totals(fund: Fund, entries: Sequence[tuple[JournalEntry, list[tuple[int, int]]]]) -> None:
    """Add the entries' postings (account id, cents) to their days' totals, in the entries' transaction: one
    upsert per day, account and slot, sorted, by executemany."""
    totals: dict[tuple[int, date, int], list[int]] = {}
    for entry, postings in entries:
        credited = set()  # an entry counts once as a credit of an account, however many postings it has there
        for account_id, amount in postings:
            net_and_credit = totals.setdefault((account_id, entry.entry_date, entry.id % DAY_TOTAL_SLOTS), [0, 0])
            net_and_credit[0] += amount
            if amount < 0 and account_id not in credited:
                credited.add(account_id)
                net_and_credit[1] += 1
    statement = insert_or_merge(DayTotal.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["fund_id", "account_id", "day", "slot"],
        set_={"cents": DayTotal.__table__.c.cents + statement.excluded.cents,
              "credits": DayTotal.__table__.c.credits + statement.excluded.credits})
    db.session.execute(statement, [
        {"fund_id": fund.id, "account_id": account_id, "day": day, "slot": slot, "cents": cents, "credits": credits}
        for (account_id, day, slot), (cents, credits) in sorted(totals.items())])


def reverse_entry(entry: JournalEntry, *, entry_date: date, memo: str, actor: object = None) -> JournalEntry:
    """Cancel an entry by posting its mirror image, linked to it; an entry is reversed once."""
    if entry.reversal_of_id is not None:
        raise LedgerError(f"entry {entry.id} is itself a reversal and cannot be reversed")
    if db.session.scalar(db.select(JournalEntry.id).filter_by(reversal_of_id=entry.id)) is not None:
        raise AlreadyReversed(f"entry {entry.id} has already been reversed")
    fund = db.session.get(Fund, entry.fund_id)
    postings = [(p.account.name, -p.amount_cents) for p in entry.postings]
    return post_entry(fund, entry_date=entry_date, memo=memo, source_kind="reversal", source_id=entry.id,
                      postings=postings, actor=actor, reversal_of=entry)

