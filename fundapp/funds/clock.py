"""The fund's clock: the one place that turns moments into the fund's dates and back.

Timestamps (``*_at``) are stored in UTC. Every date a person sees, and every date that decides a period
(a gift's day and tax year, a journal entry's date, "today", "this week", "this month", a closed month),
is a date on the fund's own calendar, in its IANA time zone (``Fund.time_zone``). A gift at 23:30 on
December 31 in Los Angeles is a gift of December 31, on that year's statement, whatever UTC says.

``now()`` is where every "today" reads the wall clock (one place a test can set); the functions also take
the moment (``now=``) so callers can say which they mean. Timestamps to store still come from
``extensions.utcnow``.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fundapp.extensions import utcnow


def now() -> datetime:
    """The current moment, in UTC."""
    return utcnow()


def zone(fund) -> ZoneInfo:
    """The fund's time zone (its name is checked when saved, see ``funds.services.is_time_zone``; ZoneInfo
    keeps each zone it has read)."""
    return ZoneInfo(fund.time_zone)


def local(fund, moment: datetime | None = None) -> datetime:
    """A UTC moment (now when None) as the fund's wall-clock time, aware of the zone."""
    moment = now() if moment is None else moment
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the fund's clock")
    return moment.astimezone(zone(fund))


def local_date(fund, moment: datetime) -> date:
    """The fund's calendar day at a UTC moment."""
    return local(fund, moment).date()


def today(fund, now: datetime | None = None) -> date:
    """The fund's today."""
    return local(fund, now).date()


def month(fund, now: datetime | None = None) -> str:
    """The fund's current month, "YYYY-MM"."""
    return f"{today(fund, now):%Y-%m}"


def start_of(fund, day: date) -> datetime:
    """The UTC moment the fund's ``day`` begins: local midnight, or where the clocks jump forward at midnight
    (America/Santiago), the moment they jump, when the day's first minute (01:00) starts."""
    return datetime.combine(day, time.min, tzinfo=zone(fund)).astimezone(UTC)


def day_bounds_utc(fund, day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the fund's ``day``: 23 or 25 hours long on the days the clocks change."""
    return start_of(fund, day), start_of(fund, day + timedelta(days=1))


def period_bounds_utc(fund, start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC of the fund's days ``start`` to ``end`` inclusive; None leaves that side open.
    Query timestamps with ``at >= lower`` and ``at < upper``."""
    return (start_of(fund, start) if start else None,
            start_of(fund, end + timedelta(days=1)) if end else None)


def stamp(fund, moment: datetime | None = None) -> str:
    """A moment (now when None) for people: "2026-11-30 16:00 PST", in the fund's zone with its abbreviation."""
    return local(fund, moment).strftime("%Y-%m-%d %H:%M %Z")
