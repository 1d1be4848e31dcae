"""Posting to the books and reversing: the chart of accounts, the checks every entry passes, and the entry itself.
Functions flush; callers commit."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from fundapp.audit.services import record_change
from fundapp.extensions import db, insert_or_merge
from fundapp.funds.models import Fund, FundNotInitialised
from fundapp.ledger.errors import AlreadyReversed, LedgerError, PeriodClosed
from fundapp.ledger.models import CHART, DAY_TOTAL_SLOTS, Account, AccountType, DayTotal, JournalEntry, Posting
from fundapp.ledger.periods import is_closed

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


def post_entry(fund: Fund, *, entry_date: date, memo: str, source_kind: str, source_id: str | int,
               postings: Sequence[tuple[str, int]], actor: object = None, reversal_of: JournalEntry | None = None
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

