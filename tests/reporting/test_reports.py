"""Reports and CSV exports: files that open cleanly, totals that are the books', PDFs that say what they must."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from fundapp.donations import booking, offline
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.payments.facts import PaymentSettled, RefundSettled
from fundapp.reporting import documents, exports
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from reports.style import amount_text
from tests.conftest import sign_in
from tests.factories import midday

HOSTILE = "=cmd|' /C calc'!A0"


@pytest.fixture
def scenario(fund, grants):  # noqa: F811
    """Card gifts with fees and a refund, cheques, grants in three categories, paid, part paid and voided."""
    today = clock.today(fund)
    for n in range(8):
        booking.record_settled_payment(fund, PaymentSettled(
            charge_id=f"ch_{n}", payment_intent_id=None, invoice_id=None, subscription_id=None, customer_id=None,
            gross_cents=2_500 * (n + 1), fee_cents=103, net_cents=2_500 * (n + 1) - 103, currency="USD",
            at=midday(fund, today - timedelta(days=n * 3)), email="evil@example.org" if n == 0 else f"d{n % 3}@example.org", name=HOSTILE if n == 0 else f"Dee {n}"),
            notify=False)
    refunded = booking.record_refund(fund, RefundSettled("re_1", "ch_5", 1_000, "USD", midday(fund, today)))
    booking.apply_refunds(fund, refunded, 1_000)
    offline.record_offline_gift(fund, name="Ana Cheque", email="", amount_cents=50_000, method="cheque",
                                  received_on=today - timedelta(days=2), reference="101", notify=False)
    db.session.commit()
    made = [grants(10_000 + n * 1_000, category=("rent", "food", "medical")[n % 3], day=today - timedelta(days=n),
                   paid=n % 2 == 0) for n in range(7)]
    tom = db.session.scalar(db.select(review.User).filter_by(email="tom@example.org"))
    review.void_payment(fund, db.session.scalar(db.select(GrantPayment).filter_by(application_id=made[0].id)),
                        reason="cheque lost", actor=tom)
    db.session.commit()
    return made


def _table(fund, name):
    header, rows = exports.TABLES[name]
    text = "".join(exports.csv_chunks(header, rows(fund)))
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the mark
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def test_csv_exports_open_with_the_csv_module_and_add_up_to_the_books(fund, scenario):
    books = ledger.balances(fund)
    gifts = _table(fund, "donations")
    assert len(gifts) == 9 and sum(_cents(g["kept"]) for g in gifts) == -books["Income:Donations"]
    assert sum(_cents(g["fee"]) for g in gifts) == books["Expenses:PaymentFees"]
    assert all(len(g["date"]) == 10 and g["date"][4] == "-" for g in gifts)  # ISO dates
    assert {g["donor"] for g in gifts} >= {"'" + HOSTILE, "Ana Cheque"}  # a formula is never a formula
    donors = _table(fund, "donors")
    assert sum(_cents(d["given"]) for d in donors) == -books["Income:Donations"]
    assert sum(int(d["gifts"]) for d in donors) == 9
    granted = _table(fund, "grants")
    assert sum(_cents(g["approved"]) for g in granted) == books["Expenses:HardshipGrants"]
    assert sum(_cents(g["approved"]) - _cents(g["paid"]) for g in granted) == -books["Liabilities:GrantsPayable"]
    register = _table(fund, "register")
    assert [r["date"] for r in register] == sorted(r["date"] for r in register)
    assert sum(_cents(r["amount"]) for r in register) == books["Expenses:HardshipGrants"]
    assert all(r["recipient"] and r["purpose"] and r["decided_by"] == "Test Person" for r in register)
    payments = _table(fund, "payments")
    kept = sum(_cents(p["amount"]) for p in payments if not p["voided_on"])
    assert len(payments) == 4 and sum(1 for p in payments if p["void_reason"] == "cheque lost") == 1
    assert kept == sum(_cents(g["paid"]) for g in granted)


def test_the_members_csv_never_holds_a_group_under_five(fund, grants):  # noqa: F811
    from fundapp.reporting.figures import week_start

    last_week = week_start(clock.today(fund)) - timedelta(days=7)
    ledger.post_entry(fund, entry_date=last_week - timedelta(days=30), memo="gifts", source_kind="t", source_id="1",
                      postings=[("Assets:Bank", 5_000_00), ("Income:Donations", -5_000_00)])
    for n in range(7):
        grants(100_00 + n, category=("rent", "rent", "food")[n % 3], day=last_week + timedelta(days=n))
    grants(100_00, category="medical", day=clock.today(fund))  # this week's: not published yet
    rows = _table(fund, "members")
    assert rows and all(int(r["grants"]) >= 5 for r in rows)
    assert sum(int(r["grants"]) for r in rows if r["group"] == "category") == 7
    assert sum(int(r["grants"]) for r in rows if r["group"] == "period") == 7
    assert not any("medical" in r["category"] for r in rows)


def test_the_monthly_report_carries_the_dashboards_figures_charts_and_the_books(app, fund, scenario):
    today = clock.today(fund)
    with app.test_request_context():
        pdf = documents.monthly_report(fund, today.strftime("%Y-%m"), today)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Available to grant\n{amount_text(ledger.available_to_grant(fund, today))}" in text
    assert f"Approved, not yet paid\n{amount_text(-ledger.balance(fund, 'Liabilities:GrantsPayable', today))}" in text
    for chart in ("Gifts and grants per week", "Cash on hand", "Grants by category"):
        assert chart in text  # the drawings themselves, not only their tables
    assert "Statement of activities" in text and "Expenses:HardshipGrants" in text
    assert "by worksite" in text and "North" in text


def test_the_monthly_reports_net_assets_at_the_end_are_assets_less_liabilities(app, fund):
    """An opening balance booked inside the month counts (it was dropped: the end figure came out $150 short)."""
    today = clock.today(fund)
    first = today.replace(day=1)
    ledger.post_entry(fund, entry_date=first, memo="opening", source_kind="t", source_id="open",
                      postings=[("Assets:Bank", 150_00), ("Equity:Opening", -150_00)])
    ledger.post_entry(fund, entry_date=today, memo="gift", source_kind="t", source_id="gift",
                      postings=[("Assets:Bank", 40_00), ("Income:Donations", -40_00)])
    db.session.commit()
    with app.test_request_context():
        pdf = documents.monthly_report(fund, today.strftime("%Y-%m"), today)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    books = ledger.balances(fund, today)
    assets_less_liabilities = sum(cents for name, cents in books.items() if name.startswith(("Assets:", "Liabilities:")))
    assert assets_less_liabilities == 190_00
    assert f"Net assets at the end\n{amount_text(assets_less_liabilities)}" in text


def test_the_members_report_has_no_names_worksites_or_small_groups_in_either_language(app, fund, grants):  # noqa: F811
    today = clock.today(fund)
    from fundapp.reporting.figures import week_start

    last_week = week_start(today) - timedelta(days=7)
    ledger.post_entry(fund, entry_date=today - timedelta(days=30), memo="gifts", source_kind="t", source_id="1",
                      postings=[("Assets:Bank", 5_000_00), ("Income:Donations", -5_000_00)])
    for n in range(6):
        grants(100_00 + n, category="rent", day=last_week + timedelta(days=n))
    for n in range(4):
        grants(250_00, category="medical", worksite="South Yard", day=last_week + timedelta(days=n))
    with app.test_request_context():
        english = documents.members_report(fund, today, "en")
        spanish = documents.members_report(fund, today, "es")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(english)).pages)
    assert "Other needs, merged" in text and "Medical" not in text and "South Yard" not in text
    assert "M 1" not in text and "250.00" not in text
    assert "Informe para los miembros" in "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(spanish)).pages)


def test_the_treasurer_downloads_reports_from_the_page_and_bad_months_are_refused(client, create_user, fund,
                                                                                    scenario):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/reports/").get_data(as_text=True)
    assert "Monthly report to the board" in page and "/reports/register.csv" in page
    response = client.get("/reports/donations.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.get_data(as_text=True).startswith("\ufeffreceipt,date,donor")
    for kind in ("donors", "register", "members"):
        pdf = client.get(f"/reports/{kind}.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/reports/monthly.pdf?month={clock.today(fund):%Y-%m}").data.startswith(b"%PDF")
    for bad in ("2026-13", "next month", "2999-01"):
        refused = client.get(f"/reports/monthly.pdf?month={bad}", follow_redirects=True)
        assert refused.request.path == "/reports/" and "error" in refused.get_data(as_text=True)
    assert client.get("/reports/nothing.pdf").status_code == 404
    assert client.get("/reports/nothing.csv").status_code == 404


def test_the_commands_write_the_same_reports(runner, fund, scenario, tmp_path):
    out = tmp_path / "register.pdf"
    result = runner.invoke(args=["fund", "report", "register", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Grants register" in PdfReader(out).pages[0].extract_text()
    csv_out = tmp_path / "grants.csv"
    result = runner.invoke(args=["fund", "export", "grants", "-o", str(csv_out)])
    assert result.exit_code == 0 and "Wrote 7 rows of grants" in result.output
    assert len(list(csv.reader(csv_out.open(encoding="utf-8-sig")))) == 8
    refused = runner.invoke(args=["fund", "report", "monthly", "--month", "2026-13", "-o", str(out)])
    assert refused.exit_code != 0 and "YYYY-MM" in refused.output


def test_year_end_statements_go_out_in_batches_from_the_page_with_progress(client, create_user, fund):
    from fundapp.donations.models import StatementSent
    from fundapp.mail import OutboxMessage, deliver_pending

    today = clock.today(fund)
    for n in range(30):
        offline.record_offline_gift(fund, name=f"Donor {n}", email=f"donor{n}@example.org", amount_cents=1_000 + n,
                                      method="cash", received_on=today, notify=False)
    db.session.commit()
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get(f"/reports/?year={today.year}").get_data(as_text=True)
    assert f"{today.year}: 0 of 30 queued, 0 delivered" in page and "Send the 30 statements due" in page
    first = client.post("/reports/statements", data={"year": today.year, "all": "1"})
    assert first.status_code == 302 and "continue=1" in first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert f"{today.year}: 25 of 30 queued, 0 delivered" in page and 'data-continue="yes"' in page and "js/continue.js" in page
    last = client.post("/reports/statements", data={"year": today.year, "all": "1"}, follow_redirects=True)
    page = last.get_data(as_text=True)
    assert "5 statements queued for mailing; 0 to go." in page and f"Every donor with gifts in {today.year} has" in page
    assert f"{today.year}: 30 of 30 queued, 0 delivered" in page  # the page only queues: the worker mails
    assert 'data-refresh="yes"' in page and "js/continue.js" in page  # reloads to show the worker's progress
    assert db.session.scalar(db.select(db.func.count(StatementSent.id))) == 30
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(
        OutboxMessage.attachment_name == f"statement-{today.year}.pdf")) == 30  # one each, never two
    assert deliver_pending() == (30, 0)  # what the worker does
    page = client.get(f"/reports/?year={today.year}").get_data(as_text=True)
    assert f"{today.year}: 30 of 30 queued, 30 delivered" in page and "js/continue.js" not in page


def test_amounts_stay_numbers_while_text_that_looks_like_a_formula_is_neutralised():
    rows = "".join(exports.csv_chunks(["amount", "memo"], [[exports._money(-1_250), "-1+1"], [exports._money(5), "@x"]]))
    assert list(csv.reader(io.StringIO(rows.removeprefix("\ufeff")))) == [
        ["amount", "memo"], ["-12.50", "'-1+1"], ["0.05", "'@x"]]
