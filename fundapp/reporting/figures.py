"""The fund's figures for the dashboard, the reports and the public page, all read from the books.

Money figures are sums of postings (``fundapp.ledger``); counts and categories
come from the applications whose approvals those postings book. Weeks run Monday
to Sunday. The runway assumes no new gifts: it is how long the money available to
grant lasts if grants go on at the last four weeks' pace.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fundapp.accounts.models import Member
from fundapp.applications.models import Application
from fundapp.applications.states import GRANTED, PENDING
from fundapp.audit.models import AuditRecord
from fundapp.audit.services import last_anchored_at
from fundapp.extensions import db
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger
from fundapp.ledger.models import CASH_ACCOUNTS, Account, DayTotal, JournalEntry, Posting
from fundapp.reporting.privacy import Group, Period, complete_periods, merge_small_groups

GIFTS, GRANTS = "Income:Donations", "Expenses:HardshipGrants"
CHART_WEEKS = 13
PACE_DAYS = 28


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Week:
    start: date
    gifts_cents: int  # gifts less refunds booked that week
    grants_cents: int  # grants approved that week
    cash_cents: int  # cash on hand at the week's end (or today, for this week)


@dataclass(frozen=True)
class Dashboard:
    today: date
    stripe_cents: int
    bank_cents: int
    undeposited_cents: int
    committed_cents: int  # approved, not yet paid
    reserve_cents: int
    available_cents: int
    weeks: list[Week]  # oldest first; the last is this week
    weekly_spend_cents: int  # average over the last PACE_DAYS days
    runs_dry_on: date | None  # None when no grant was made in the last PACE_DAYS days
    queue_count: int
    queue_cents: int
    runs_dry_with_queue_on: date | None
    oldest_waiting: Application | None
    categories: list[tuple[str, int, int]]  # (category, grants, cents), all time
    anchored_at: datetime | None  # when the audit trail's head was last anchored outside the database (None: never)

    @property
    def cash_cents(self) -> int:
        return self.stripe_cents + self.bank_cents + self.undeposited_cents


#: The runway shown at most: a century (a huge gift would otherwise point past the calendar's end).
RUNWAY_MAX_DAYS = 36_525


def runway(available_cents: int, spent_cents: int, days: int, today: date) -> date | None:
    """The day the money available runs out if spending goes on at ``spent_cents`` per ``days`` days."""
    if spent_cents <= 0:
        return None
    if available_cents <= 0:
        return today
    return today + timedelta(days=min(available_cents * days // spent_cents, RUNWAY_MAX_DAYS))


def pace(fund: Fund, today: date) -> int:
    """Grants approved over the last ``PACE_DAYS`` days, to ``today`` (cents): the runway's pace."""
    return ledger.period_totals(fund, today - timedelta(days=PACE_DAYS - 1), today).get(GRANTS, 0)


def daily_totals(fund: Fund, accounts: tuple[str, ...], start: date, end: date) -> dict[tuple[date, str], int]:
    """(day, account) -> net movement in cents (debit positive), for the days that have postings."""
    rows = db.session.execute(
        db.select(DayTotal.day, Account.name, db.func.sum(DayTotal.cents))
        .join(Account, Account.id == DayTotal.account_id)
        .where(DayTotal.fund_id == fund.id, DayTotal.day >= start, DayTotal.day <= end, Account.name.in_(accounts))
        .group_by(DayTotal.day, Account.name))
    return {(day, name): int(total) for day, name, total in rows}


def weeks(fund: Fund, today: date, count: int = CHART_WEEKS, totals: dict[str, int] | None = None) -> list[Week]:
    """Gifts, grants and cash on hand for the ``count`` weeks up to this one (``totals``: the balances at
    ``today``, when the caller has them)."""
    first = week_start(today) - timedelta(weeks=count - 1)
    totals = ledger.balances(fund, today) if totals is None else totals
    moved = daily_totals(fund, (GIFTS, GRANTS, *CASH_ACCOUNTS), first, today)
    # Cash before the first week: today's, less what moved since (one range query, not a second full sum).
    cash = sum(totals.get(name, 0) for name in CASH_ACCOUNTS) - sum(
        cents for (_day, name), cents in moved.items() if name in CASH_ACCOUNTS)
    by_week: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (day, name), cents in moved.items():
        by_week[week_start(day)][name] += cents
    result = []
    for n in range(count):
        start = first + timedelta(weeks=n)
        totals = by_week[start]
        cash += sum(totals[name] for name in CASH_ACCOUNTS)
        result.append(Week(start, -totals[GIFTS], totals[GRANTS], cash))
    return result


def join_approval(query, fund: Fund):
    """``query`` over applications joined to the entry that booked each one's grant (for its date)."""
    return query.join(JournalEntry, db.and_(
        JournalEntry.fund_id == fund.id, JournalEntry.source_kind == "grant.approval",
        JournalEntry.source_id == db.cast(Application.id, db.String)))


def grants_by(fund: Fund, column, until: date | None = None, since: date | None = None) -> list[tuple[str, int, int]]:
    """(value of ``column``, number of grants, cents approved) over every grant made (booked from ``since``
    to ``until``, when given), largest first."""
    query = (db.select(column, db.func.count(Application.id), db.func.sum(Application.amount_approved_cents))
             .select_from(Application).join(Member, Member.id == Application.member_id)
             .where(Application.fund_id == fund.id, Application.status.in_(list(GRANTED))))
    if since is not None or until is not None:
        query = join_approval(query, fund)
        if since is not None:
            query = query.where(JournalEntry.entry_date >= since)
        if until is not None:
            query = query.where(JournalEntry.entry_date <= until)
    rows = db.session.execute(query.group_by(column))
    return sorted(((value or "", int(count), int(cents or 0)) for value, count, cents in rows),
                  key=lambda row: (-row[2], row[0]))


def dashboard(fund: Fund, today: date) -> Dashboard:
    totals = ledger.balances(fund, today)
    available = ledger.available_from(fund, totals)
    spent = pace(fund, today)
    waiting = db.session.scalars(db.select(Application).where(
        Application.fund_id == fund.id, Application.status.in_(list(PENDING)))
        .order_by(Application.submitted_at, Application.id)).all()
    queue_cents = sum(a.amount_requested_cents for a in waiting)
    return Dashboard(
        today=today, stripe_cents=totals.get("Assets:Stripe", 0), bank_cents=totals.get("Assets:Bank", 0),
        undeposited_cents=totals.get("Assets:Undeposited", 0),
        committed_cents=-totals.get("Liabilities:GrantsPayable", 0), reserve_cents=fund.reserve_cents,
        available_cents=available, weeks=weeks(fund, today, totals=totals), weekly_spend_cents=spent * 7 // PACE_DAYS,
        runs_dry_on=runway(available, spent, PACE_DAYS, today), queue_count=len(waiting), queue_cents=queue_cents,
        runs_dry_with_queue_on=runway(available - queue_cents, spent, PACE_DAYS, today),
        oldest_waiting=waiting[0] if waiting else None,
        categories=grants_by(fund, Application.category, until=today), anchored_at=last_anchored_at())


# --- what members and the public see: totals, and groups of at least five grants ---------------


def approvals(fund: Fund) -> list[tuple[date, int]]:
    """(day, cents) of every grant approval booked, oldest first."""
    return [(day, int(cents)) for day, cents in db.session.execute(
        db.select(JournalEntry.entry_date, Posting.amount_cents)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(JournalEntry.fund_id == fund.id, JournalEntry.source_kind == "grant.approval", Account.name == GRANTS)
        .order_by(JournalEntry.entry_date, JournalEntry.id))]


@dataclass(frozen=True)
class PublicFigures:
    raised_cents: int
    gifts: int
    goal_cents: int
    grants_to: date | None  # grants are published up to this day (None: too few grants yet)
    grants: int
    granted_cents: int
    categories: list[Group]
    periods: list[tuple[Period, int]]  # each period with the gifts (cents) booked in it


def public_figures(fund: Fund, today: date) -> PublicFigures:
    """Gifts from the books as of today; grants as of the end of the last complete period (see
    ``privacy``), by category and by period, with no group under MINIMUM_GROUP."""
    totals = ledger.balances(fund, today)
    made = approvals(fund)
    periods: list[tuple[Period, int]] = []
    grants_to = None
    if made:
        first_gift = db.session.scalar(
            db.select(db.func.min(DayTotal.day)).join(Account, Account.id == DayTotal.account_id)
            .where(DayTotal.fund_id == fund.id, Account.name == GIFTS))
        first = week_start(min(made[0][0], first_gift or made[0][0]))
        by_week: dict[date, list[int]] = defaultdict(list)
        for day, cents in made:
            by_week[week_start(day)].append(cents)
        finished = (week_start(today) - first).days // 7  # this week is not over: it waits
        weekly = [Period(start, start + timedelta(days=6), len(by_week[start]), sum(by_week[start]))
                  for start in (first + timedelta(weeks=n) for n in range(finished))]
        complete = complete_periods(weekly)
        if complete:
            grants_to = complete[-1].end
            gifts = daily_totals(fund, (GIFTS,), first, grants_to)
            for period in complete:
                periods.append((period, -sum(cents for (day, _n), cents in gifts.items()
                                             if period.start <= day <= period.end)))
    published = [cents for day, cents in made if grants_to is not None and day <= grants_to]
    return PublicFigures(
        raised_cents=-totals.get(GIFTS, 0), gifts=ledger.count_entries_crediting(fund, GIFTS),
        goal_cents=fund.goal_cents, grants_to=grants_to, grants=len(published), granted_cents=sum(published),
        categories=merge_small_groups(grants_by(fund, Application.category, until=grants_to)) if grants_to else [],
        periods=periods)


_PUBLIC_CACHE: dict[int, tuple[tuple, PublicFigures]] = {}


def public_figures_cached(fund: Fund, today: date) -> PublicFigures:
    """``public_figures``, computed again only when the fund's records change (or the day or goal does).

    The public page is the one anyone can load as often as they like. Every booking writes an audit
    record, and audit records are appended one at a time in commit order (the chain's lock), so the
    newest record says whether the copy this process holds is current.
    """
    newest = db.session.execute(db.select(AuditRecord.id, AuditRecord.hash)
                                .order_by(AuditRecord.id.desc()).limit(1)).first()
    version = (today, fund.goal_cents, tuple(newest) if newest else None)
    held = _PUBLIC_CACHE.get(fund.id)
    if held is not None and held[0] == version:
        return held[1]
    found = public_figures(fund, today)
    _PUBLIC_CACHE[fund.id] = (version, found)
    return found
