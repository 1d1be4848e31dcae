"""The year-end pack (issue 17, item 6): every figure equals the books', read back from the files it writes with
the csv module and pypdf; the fiscal year follows the fund's setting."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from pypdf import PdfReader

from fundapp.accounts.models import Member
from fundapp.applications.models import Application
from fundapp.applications.services import current_rules
from fundapp.donations import booking, offline
from fundapp.donations.models import Donor
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from fundapp.payments.facts import PaymentSettled, RefundSettled
from fundapp.reporting import year_end
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from tests.factories import midday


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def table(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def card_gift(fund, charge: str, email: str, name: str, gross: int, day: date):
    return booking.record_settled_payment(fund, PaymentSettled(
        charge_id=charge, payment_intent_id=None, invoice_id=None, subscription_id=None, customer_id=None,
        gross_cents=gross, fee_cents=30, net_cents=gross - 30, currency="USD", at=midday(fund, day), email=email, name=name),
        notify=False)


@pytest.fixture
def year_books(fund, create_user):
    """2025 in a fund on the calendar year: gifts from large and small donors (one partly refunded, some just
    outside the year), and grants in four kinds of need, paid, unpaid, paid the next year or approved the year
    before."""
    tom = create_user("tom@example.org", "trustee")
    ledger.post_entry(fund, entry_date=date(2024, 12, 1), memo="Opening balance", source_kind="t", source_id="open",
                      postings=[("Assets:Bank", 10_000_000), ("Equity:Opening", -10_000_000)])
    card_gift(fund, "ch_a1", "big@example.org", "Bea Big", 300_000, date(2025, 2, 1))
    card_gift(fund, "ch_a2", "big@example.org", "Bea Big", 300_000, date(2025, 9, 1))
    refunded = booking.record_refund(fund, RefundSettled("re_a2", "ch_a2", 50_000, "USD", midday(fund, date(2025, 9, 3))))
    booking.apply_refunds(fund, refunded, 50_000)  # Bea: 550,000 kept, still listed
    card_gift(fund, "ch_b", "almost@example.org", "Al Most", 499_999, date(2025, 5, 5))  # a cent short
    card_gift(fund, "ch_before", "early@example.org", "Earl Early", 900_000, date(2024, 12, 31))  # the year before
    card_gift(fund, "ch_after", "late@example.org", "Lee Late", 900_000, date(2026, 1, 1))  # the year after
    offline.record_offline_gift(fund, name="Carla Cheque", email="carla@example.org", amount_cents=600_000,
                                  received_on=date(2025, 3, 3), method="cheque", reference="77",
                                  postal_address="9 Solidarity St\nOakland, CA 94612", notify=False)
    offline.record_offline_gift(fund, name="Rally bucket", email="", amount_cents=12_345,
                                  received_on=date(2025, 4, 4), method="cash", notify=False)
    members = {}

    def grant(member: str, category: str, amount: int, approved: date, paid: date | None, address: str):
        if member not in members:
            user = create_user(f"{member.lower()}@example.org", "applicant")
            members[member] = Member(fund_id=fund.id, member_id=member, first_name="Member", last_name=member,
                                     worksite="North", unit="U", on_strike=True, user_id=user.id)
            db.session.add(members[member])
            db.session.flush()
        application = Application(
            fund_id=fund.id, applicant_id=members[member].user_id, member_id=members[member].id,
            rules_id=current_rules(fund).id, status="submitted", category=category, amount_requested_cents=amount,
            amount_paid_cents=0, address=address, submitted_at=datetime.combine(approved, time(9), UTC))
        db.session.add(application)
        db.session.flush()
        review.approve(fund, application, amount, actor=tom, decided_on=approved)
        if paid is not None:
            review.record_payment(fund, application, amount_cents=amount, method="cheque", reference="1",
                                  paid_on=paid, actor=tom)
        db.session.commit()
        return application

    grant("M1", "rent", 20_000, date(2025, 2, 10), date(2025, 2, 12), "1 First St")
    grant("M1", "utilities", 8_000, date(2025, 6, 10), date(2025, 6, 11), "1 First St, Apt 2")
    grant("M2", "rent", 15_000, date(2025, 3, 1), None, "2 Second St")
    voided = grant("M3", "medical", 25_000, date(2025, 4, 1), date(2025, 4, 2), "3 Third St")
    grant("M4", "childcare", 9_000, date(2024, 12, 20), date(2025, 1, 5), "4 Fourth St")
    grant("M5", "rent", 12_000, date(2025, 12, 30), date(2026, 1, 2), "5 Fifth St")
    # the medical cheque bounced: voided today (the reversal is dated today, in this year's books)
    review.void_payment(fund, db.session.scalar(db.select(GrantPayment).filter_by(application_id=voided.id)),
                        reason="cheque bounced", actor=tom)
    db.session.commit()
    return fund


def test_the_calendar_year_and_a_fiscal_year_starting_in_july(fund):
    assert year_end.year_span(fund, 2025) == (date(2025, 1, 1), date(2025, 12, 31))
    fund.fiscal_year_start_month = 7
    assert year_end.year_span(fund, 2025) == (date(2025, 7, 1), date(2026, 6, 30))
    fund.fiscal_year_start_month = 3
    assert year_end.year_span(fund, 2023) == (date(2023, 3, 1), date(2024, 2, 29))  # a leap year's February


def test_the_year_end_pack_holds_every_file_and_its_figures_are_the_books(runner, year_books, tmp_path):
    fund, out = year_books, tmp_path / "pack"
    result = runner.invoke(args=["fund", "year-end", "--year", "2025", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(year_end.FILES)
    start, end = date(2025, 1, 1), date(2025, 12, 31)

    # Schedule I, Part III: per type of assistance, recipients and cash granted, equal to the books' expense
    by_type = {row["category"]: row for row in table(out / "grants-to-individuals-by-type.csv")}
    assert {key: (int(row["number_of_recipients"]), int(row["grants"]), cents(row["amount_of_cash_grant"]))
            for key, row in by_type.items()} == {"rent": (3, 3, 47_000), "utilities": (1, 1, 8_000),
                                                 "medical": (1, 1, 25_000)}
    assert by_type["rent"]["type_of_grant_or_assistance"] == "Rent or mortgage"
    assert all(cents(row["amount_of_non_cash_assistance"]) == 0 for row in by_type.values())
    expense = ledger.period_totals(fund, start, end)["Expenses:HardshipGrants"]
    assert sum(cents(row["amount_of_cash_grant"]) for row in by_type.values()) == expense == 80_000
    summary = pdf_text(out / "grants-to-individuals-by-type.pdf")
    assert "Schedule I, Part III" in summary and "800.00" in summary and "Rent or mortgage" in summary

    # Each recipient's grants: approved in the year (the expense) and paid in the year (GrantsPayable debited)
    recipients = {row["member_id"]: row for row in table(out / "grants-per-recipient.csv")}
    assert {key: (int(row["grants"]), cents(row["approved_in_year"]), cents(row["paid_in_year"]))
            for key, row in recipients.items()} == {
        "M1": (2, 28_000, 28_000), "M2": (1, 15_000, 0), "M3": (1, 25_000, 25_000), "M4": (0, 0, 9_000),
        "M5": (1, 12_000, 0)}
    assert recipients["M1"]["address"] == "1 First St, Apt 2"  # the newest application's
    assert recipients["M1"]["types_of_assistance"] == "Rent or mortgage; Utilities (power, gas, water, phone)"
    paid = sum(cents(row["paid_in_year"]) for row in recipients.values())
    payable = ledger.period_totals(fund, start, end)["Liabilities:GrantsPayable"]
    assert paid == 62_000 and payable == -expense + paid  # approvals credit it, payments (less voids) debit it

    # Schedule B: donors of $5,000 or more in the year (refunds deducted), with their addresses
    donors = table(out / "donors-5000-or-more.csv")
    assert [(d["name"], cents(d["total_contributions"]), d["address"], d["type_of_contribution"]) for d in donors] \
        == [("Carla Cheque", 600_000, "9 Solidarity St, Oakland, CA 94612", "Person"),
            ("Bea Big", 550_000, "(address missing)", "Person")]

    # the statements and the trial balance are the books' at the year's end
    trial = table(out / "trial-balance.csv")
    balances = ledger.balances(fund, end)
    for row in trial[:-1]:
        assert cents(row["debit"]) - cents(row["credit"]) == balances[row["account"]]
    assert trial[-1]["account"] == "Total" and trial[-1]["debit"] == trial[-1]["credit"]
    activities = pdf_text(out / "statement-of-activities.pdf")
    assert "Statement of activities" in activities and "2025-01-01 to 2025-12-31" in activities
    assert "Statement of financial position" in pdf_text(out / "balance-sheet.pdf")
    register = table(out / "grants-register.csv")
    assert sorted(cents(r["amount"]) for r in register) == [8_000, 12_000, 15_000, 20_000, 25_000]
    assert all("2025-01-01" <= r["date"] <= "2025-12-31" for r in register)

    readme = (out / "README.txt").read_text()
    for needed in ("Schedule I, Part III", "Schedule B", "Part IX", "Part X", "calendar year 2025",
                   "LEFT FOR THE ACCOUNTANT", "no postal address on file for: Bea Big",
                   "Gifts in the year with no donor email: 1, totalling 123.45 USD"):
        assert needed in readme, needed


def test_a_void_in_a_later_year_counts_against_that_years_payments(year_books, tmp_path):
    today = datetime.now(UTC).date()
    year = today.year
    files = year_end.year_end_files(year_books, year)
    rows = {row["member_id"]: row for row in csv.DictReader(io.StringIO(
        files["grants-per-recipient.csv"].decode("utf-8-sig")))}
    expected_m5 = 12_000 if year == 2026 else 0
    assert cents(rows["M3"]["paid_in_year"]) == -25_000
    assert cents(rows.get("M5", {"paid_in_year": "0"})["paid_in_year"]) == expected_m5
    assert "provisional" in files["README.txt"].decode()


def test_a_fiscal_year_from_july_takes_the_gifts_and_grants_of_its_own_dates(year_books):
    year_books.fiscal_year_start_month = 7
    db.session.commit()
    files = year_end.year_end_files(year_books, 2025)  # 1 July 2025 to 30 June 2026
    by_type = {row["category"]: row for row in csv.DictReader(io.StringIO(
        files["grants-to-individuals-by-type.csv"].decode("utf-8-sig")))}
    assert {key: cents(row["amount_of_cash_grant"]) for key, row in by_type.items()} == {"rent": 12_000}
    donors = list(csv.DictReader(io.StringIO(files["donors-5000-or-more.csv"].decode("utf-8-sig"))))
    assert [(d["name"], cents(d["total_contributions"])) for d in donors] == [("Lee Late", 900_000)]
    assert "fiscal year 2025-07-01 to 2026-06-30" in files["README.txt"].decode()
    assert db.session.scalar(db.select(Donor.postal_address).filter_by(email="late@example.org")) == ""
