"""One clock for the fund: timestamps stay in UTC, every date people see or that decides a period is on the
fund's calendar (its time zone), across the year's end and the days the clocks change."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader

from fundapp.donations import booking, giving, offline, receipts
from fundapp.donations.models import Donation
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import documents as ledger_documents
from fundapp.ledger import services as ledger
from fundapp.payments.facts import PaymentSettled, RefundSettled
from fundapp.reporting import documents as reporting_documents
from tests.conftest import sign_in

UTC = UTC
#: 23:30 on December 31, 2026 in Los Angeles (PST, UTC-8); already 2027 in UTC and in Madrid.
NEW_YEARS_EVE_LA = datetime(2027, 1, 1, 7, 30, tzinfo=UTC)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def settle(fund, at: datetime, charge_id: str = "ch_clock", gross: int = 5_000) -> Donation:
    return booking.record_settled_payment(fund, PaymentSettled(
        charge_id=charge_id, payment_intent_id=None, invoice_id=None, subscription_id=None, customer_id=None,
        gross_cents=gross, fee_cents=0, net_cents=gross, currency=fund.currency, at=at,
        email="eve@example.org", name="Eve Year"), notify=False)


def in_zone(fund, name: str):
    fund.time_zone = name
    db.session.flush()
    return fund


# --- the year's end ------------------------------------------------------------------------------


def test_a_gift_at_2330_on_new_years_eve_in_los_angeles_is_that_days_and_that_years(fund):
    assert fund.time_zone == "America/Los_Angeles"  # the default
    gift = settle(fund, NEW_YEARS_EVE_LA)
    db.session.commit()
    assert gift.received_on == date(2026, 12, 31)
    assert (gift.receipt_year, gift.receipt_number) == (2026, "2026-000001")
    assert ledger.find_entry(fund, "stripe.charge", "ch_clock").entry_date == date(2026, 12, 31)
    assert receipts.statement_years(gift.donor) == [2026]
    statement = pdf_text(receipts.statement_for(fund, gift.donor, 2026))
    assert "2026-000001" in statement and "Dec 31, 2026" in statement
    with pytest.raises(giving.DonationError):
        receipts.statement_for(fund, gift.donor, 2027)
    assert ledger.period_totals(fund, date(2026, 12, 1), date(2026, 12, 31))["Income:Donations"] == -5_000
    assert ledger.period_totals(fund, date(2027, 1, 1), date(2027, 1, 31))["Income:Donations"] == 0


@pytest.mark.parametrize("zone, moment, day", [
    ("America/Los_Angeles", NEW_YEARS_EVE_LA, date(2026, 12, 31)),
    ("Europe/Madrid", NEW_YEARS_EVE_LA, date(2027, 1, 1)),
    ("UTC", NEW_YEARS_EVE_LA, date(2027, 1, 1)),
    # 23:30 UTC on the 31st: still the old year in UTC and Los Angeles, already the new one in Madrid
    ("America/Los_Angeles", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2026, 12, 31)),
    ("Europe/Madrid", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2027, 1, 1)),
    ("UTC", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2026, 12, 31)),
])
def test_the_gifts_day_year_and_entry_date_follow_the_funds_zone(fund, zone, moment, day):
    gift = settle(in_zone(fund, zone), moment)
    db.session.commit()
    assert gift.received_on == day and gift.receipt_year == day.year
    assert gift.receipt_number == f"{day.year}-000001"
    assert ledger.find_entry(fund, "stripe.charge", "ch_clock").entry_date == day
    assert receipts.statement_years(gift.donor) == [day.year]


def test_a_refund_is_dated_on_the_funds_day_it_happened(fund):
    gift = settle(fund, datetime(2026, 11, 20, 20, tzinfo=UTC))
    booking.record_refund(fund, RefundSettled("re_clock", "ch_clock", 1_000, "USD",
                                                datetime(2026, 11, 21, 6, 15, tzinfo=UTC)))  # 22:15 on the 20th
    db.session.commit()
    assert gift.received_on == date(2026, 11, 20)
    assert ledger.find_entry(fund, "stripe.refund", "re_clock").entry_date == date(2026, 11, 20)


# --- the days the clocks change (Los Angeles, 2026) ------------------------------------------------


def test_the_day_the_clocks_go_forward_has_23_hours_and_the_day_they_go_back_25(fund):
    start, end = clock.day_bounds_utc(fund, date(2026, 3, 8))
    assert (start, end) == (datetime(2026, 3, 8, 8, tzinfo=UTC), datetime(2026, 3, 9, 7, tzinfo=UTC))
    assert end - start == timedelta(hours=23)
    start, end = clock.day_bounds_utc(fund, date(2026, 11, 1))
    assert (start, end) == (datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC))
    assert end - start == timedelta(hours=25)
    assert clock.day_bounds_utc(fund, date(2026, 11, 2))[1] - clock.day_bounds_utc(fund, date(2026, 11, 2))[0] \
        == timedelta(hours=24)
    # every moment of the day, and none outside it, is dated that day
    assert clock.local_date(fund, start) == date(2026, 11, 1)
    assert clock.local_date(fund, end - timedelta(seconds=1)) == date(2026, 11, 1)
    assert clock.local_date(fund, start - timedelta(seconds=1)) == date(2026, 10, 31)
    assert clock.local_date(fund, end) == date(2026, 11, 2)
    assert clock.period_bounds_utc(fund, date(2026, 3, 8), date(2026, 11, 1)) == (
        datetime(2026, 3, 8, 8, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC))
    assert clock.period_bounds_utc(fund, None, None) == (None, None)


def test_where_the_clocks_jump_at_midnight_the_day_starts_when_they_jump(fund):
    start, end = clock.day_bounds_utc(in_zone(fund, "America/Santiago"), date(2026, 9, 6))
    assert (start, end) == (datetime(2026, 9, 6, 4, tzinfo=UTC), datetime(2026, 9, 7, 3, tzinfo=UTC))
    assert clock.stamp(fund, start) == "2026-09-06 01:00 -03"  # 00:00 never happened that day
    assert clock.local_date(fund, start - timedelta(seconds=1)) == date(2026, 9, 5)


def test_a_gift_in_the_repeated_hour_is_dated_that_day_and_stamped_in_the_zone_in_force(fund):
    first, second = datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert clock.stamp(fund, first) == "2026-11-01 01:30 PDT"
    assert clock.stamp(fund, second) == "2026-11-01 01:30 PST"
    gifts = [settle(fund, first, "ch_pdt"), settle(fund, second, "ch_pst"),
             settle(fund, datetime(2026, 11, 2, 7, 59, tzinfo=UTC), "ch_late")]  # 23:59 PST
    db.session.commit()
    assert [g.received_on for g in gifts] == [date(2026, 11, 1)] * 3
    assert {ledger.find_entry(fund, "stripe.charge", c).entry_date for c in ("ch_pdt", "ch_pst", "ch_late")} == {
        date(2026, 11, 1)}


# --- today, this month, closed months ---------------------------------------------------------------


def test_today_and_this_month_are_the_funds(fund):
    assert clock.today(fund, NEW_YEARS_EVE_LA) == date(2026, 12, 31)
    assert clock.month(fund, NEW_YEARS_EVE_LA) == "2026-12"
    assert clock.month(in_zone(fund, "Europe/Madrid"), NEW_YEARS_EVE_LA) == "2027-01"
    assert clock.today(fund, datetime(2026, 12, 31, 22, 59, tzinfo=UTC)) == date(2026, 12, 31)  # 23:59 CET
    assert clock.today(fund, datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == date(2027, 1, 1)
    with pytest.raises(ValueError):
        clock.local(fund, datetime(2026, 12, 31, 23, 0))  # a naive time is a bug, not a guess


def test_a_late_payment_for_a_closed_month_is_booked_on_the_funds_today(fund, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NEW_YEARS_EVE_LA)  # the one place the wall clock is read
    ledger.close_month(fund, "2026-11")
    gift = settle(fund, datetime(2026, 11, 30, 20, tzinfo=UTC))
    db.session.commit()
    assert gift.received_on == date(2026, 11, 30)  # the receipt keeps the donor's day
    # November is closed: the entry goes to the fund's today, December 31 (UTC says January 1)
    assert ledger.find_entry(fund, "stripe.charge", "ch_clock").entry_date == date(2026, 12, 31)


def test_a_gift_dated_tomorrow_on_the_funds_calendar_is_refused(fund, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NEW_YEARS_EVE_LA)
    with pytest.raises(giving.DonationError, match="future"):
        offline.record_offline_gift(fund, name="Ana", email="", amount_cents=1_000, method="cash",
                                      received_on=date(2027, 1, 1), notify=False)
    gift = offline.record_offline_gift(fund, name="Ana", email="", amount_cents=1_000, method="cash",
                                         received_on=date(2026, 12, 31), notify=False)
    assert gift.receipt_number == "2026-000001"


# --- "generated" stamps ---------------------------------------------------------------------------


def test_pdf_stamps_show_the_funds_wall_clock_and_zone(fund):
    at = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    balance = pdf_text(ledger_documents.ledger_pdf(fund, "trial-balance", None, date(2026, 11, 30), generated_at=at))
    assert "generated 2026-11-30 16:00 PST" in balance and "UTC" not in balance
    in_zone(fund, "Europe/Madrid")
    balance = pdf_text(ledger_documents.ledger_pdf(fund, "trial-balance", None, date(2026, 11, 30), generated_at=at))
    assert "generated 2026-12-01 01:00 CET" in balance
    in_zone(fund, "America/Los_Angeles")
    donors = pdf_text(reporting_documents.donors_pdf(fund, generated_at=datetime(2026, 7, 4, 19, 5, tzinfo=UTC)))
    assert "generated 2026-07-04 12:05 PDT" in donors


def test_a_receipt_and_a_statement_are_stamped_in_the_funds_zone(fund):
    gift = settle(fund, NEW_YEARS_EVE_LA)
    db.session.commit()
    receipt = pdf_text(receipts.receipt_for(fund, gift))
    assert f"generated {clock.stamp(fund, gift.settled_at)}" in receipt
    assert clock.stamp(fund, gift.settled_at).endswith(("PST", "PDT"))
    assert "2026-12-31" in receipt
    statement = pdf_text(receipts.statement_for(fund, gift.donor, 2026))
    assert "generated 2027-01-01 00:00 PST" in statement


def test_the_audit_trail_shows_times_on_the_funds_clock(client, fund, create_user):

    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    from fundapp.audit.models import AuditRecord

    record = db.session.scalar(db.select(AuditRecord).order_by(AuditRecord.id.desc()))
    page = client.get("/audit/").get_data(as_text=True)
    assert clock.stamp(fund, record.created_at) in page
    assert "(UTC)" not in page


def test_the_reports_page_offers_the_funds_current_month(client, fund, create_user, monkeypatch):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    monkeypatch.setattr(clock, "now", lambda: NEW_YEARS_EVE_LA)
    page = client.get("/reports/").get_data(as_text=True)
    assert 'name="month" type="month" value="2026-12"' in page  # UTC is in January already
    in_zone(fund, "Europe/Madrid")
    db.session.commit()
    assert 'value="2027-01"' in client.get("/reports/").get_data(as_text=True)
