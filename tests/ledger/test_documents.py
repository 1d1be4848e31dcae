"""The ledger PDFs from real books: the command, the treasurer's downloads, and totals that match the books."""
from __future__ import annotations

import io
import os
import re
import subprocess  # nosec B404 # runs the flask command of this project, no shell
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import documents
from fundapp.ledger import services as ledger
from reports.ledger import normal_balance
from reports.style import amount_text
from tests.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_trial_balance_pdf_totals_equal_the_books(runner, books, tmp_path):
    path = tmp_path / "tb.pdf"
    result = runner.invoke(args=["fund", "report", "trial-balance", "--to", "2026-10-31", "-o", str(path)])
    assert result.exit_code == 0, result.output
    text = text_of(path.read_bytes())
    lines = ledger.trial_balance(books, date(2026, 10, 31))
    total = sum(line.debit_cents for line in lines)
    assert total == sum(line.credit_cents for line in lines) > 0
    assert re.search(rf"Total\s+{re.escape(amount_text(total))}\s+{re.escape(amount_text(total))}", text)
    assert "Debits equal credits." in text
    for line in lines:
        if line.debit_cents:
            assert re.search(rf"{line.account}\s+{re.escape(amount_text(line.debit_cents))}", text), line


def test_journal_pdf_closing_balances_equal_the_books(runner, books, tmp_path):
    path = tmp_path / "journal.pdf"
    start, end = date(2026, 9, 1), date(2026, 10, 31)
    result = runner.invoke(args=["fund", "report", "journal", "--from", "2026-09-01", "--to", "2026-10-31",
                                 "-o", str(path)])
    assert result.exit_code == 0, result.output
    text = text_of(path.read_bytes())
    before = ledger.balances(books, start - timedelta(days=1))
    after = ledger.balances(books, end)
    moved = ledger.period_totals(books, start, end)
    for account in ledger.chart(books):
        section = text[text.index(account):]
        opening = re.search(r"Opening balance\s+([\d,.-]+)", section).group(1)
        closing = re.search(r"Closing balance · \d+ postings\s+[\d,.-]+\s+[\d,.-]+\s+([\d,.-]+)", section).group(1)
        assert opening == amount_text(normal_balance(account, before[account])), account
        assert closing == amount_text(normal_balance(account, after[account])), account
        assert after[account] - before[account] == moved[account]
    assert "2026-08-" not in text.split("Period")[1]  # nothing from before the period


def test_statement_of_activities_ends_at_net_assets_in_the_books(runner, books, tmp_path):
    path = tmp_path / "activities.pdf"
    start, end = date(2026, 9, 1), date(2026, 9, 20)  # the books have entries on both days
    result = runner.invoke(args=["fund", "report", "activities", "--from", "2026-09-01", "--to", "2026-09-20",
                                 "-o", str(path)])
    assert result.exit_code == 0, result.output
    text = text_of(path.read_bytes())
    at_end = ledger.balances(books, end)
    net_assets = sum(cents for name, cents in at_end.items() if name.startswith(("Assets:", "Liabilities:")))
    assert re.search(rf"Net assets at the end of the period\s+{re.escape(amount_text(net_assets))}", text)
    revenue = -ledger.period_totals(books, start, end)["Income:Donations"]
    assert revenue > 0 and re.search(rf"Total revenue\s+{re.escape(amount_text(revenue))}", text)


def test_report_command_refuses_a_period_that_makes_no_sense(runner, fund, tmp_path):
    path = tmp_path / "x.pdf"
    backwards = runner.invoke(args=["fund", "report", "journal", "--from", "2026-10-31", "--to", "2026-10-01",
                                    "-o", str(path)])
    assert backwards.exit_code == 1 and "first day comes after the last day" in backwards.output
    open_ended = runner.invoke(args=["fund", "report", "activities", "--from", "2026-10-01", "-o", str(path)])
    assert open_ended.exit_code == 1 and "needs a first and a last day" in open_ended.output
    assert not path.exists()


def test_a_refused_report_leaves_the_file_there_before_as_it_was(runner, books, tmp_path):
    path = tmp_path / "journal.pdf"
    path.write_bytes(b"last month's journal")
    refused = runner.invoke(args=["fund", "report", "journal", "--from", "2026-10-31", "--to", "2026-10-01",
                                  "-o", str(path)])
    assert refused.exit_code == 1
    assert path.read_bytes() == b"last month's journal" and os.listdir(tmp_path) == ["journal.pdf"]
    written = runner.invoke(args=["fund", "report", "journal", "-o", str(path)])
    assert written.exit_code == 0, written.output
    assert f"({path.stat().st_size:,} bytes)" in written.output and os.listdir(tmp_path) == ["journal.pdf"]
    assert "Journal by account" in text_of(path.read_bytes())


def test_the_journal_written_into_a_file_is_the_one_the_page_downloads(books, tmp_path):
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    path = tmp_path / "journal.pdf"
    with open(path, "wb") as out:  # a file on disk: its pages wait in a spool beside it
        documents.write_ledger_pdf(books, "journal", date(2026, 8, 15), None, out, generated_at=at)
    assert path.read_bytes() == documents.ledger_pdf(books, "journal", date(2026, 8, 15), None, generated_at=at)


def test_the_report_command_imports_neither_stripe_nor_alembic(app, books, tmp_path):
    """The command as an operator runs it, its imports listed by Python itself (``-X importtime``)."""
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "flask", "--app", "wsgi", "fund", "report",
                           "journal", "-o", str(tmp_path / "journal.pdf")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # nosec B603 # fixed arguments
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"fundapp.payments.gateway", "fundapp.donations.views", "reportlab.pdfgen.canvas"} <= imported
    assert not {name for name in imported if name.split(".")[0] in ("stripe", "alembic", "flask_migrate")}
    assert "Journal by account" in text_of((tmp_path / "journal.pdf").read_bytes())


@pytest.fixture
def treasurer(client, create_user, books):
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    return client


def test_treasurer_downloads_the_pdfs(treasurer):
    response = treasurer.get("/admin/ledger/report?kind=trial-balance&to=2026-10-31")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('-trial-balance-2026-10-31.pdf"')
    assert "Debits equal credits." in text_of(response.data)
    journal = treasurer.get("/admin/ledger/report?kind=journal&from=2026-09-01&to=2026-09-30")
    assert journal.status_code == 200 and "Journal by account" in text_of(journal.data)


def test_a_report_without_its_dates_comes_back_with_a_message(treasurer):
    response = treasurer.get("/admin/ledger/report?kind=activities&from=2026-10-01", follow_redirects=True)
    assert response.status_code == 200
    assert "needs a first and a last day" in response.get_data(as_text=True)
    assert treasurer.get("/admin/ledger/report?kind=nonsense").status_code == 302


def test_treasurer_closes_and_reopens_a_month_on_the_page(treasurer, books):
    from fundapp.audit.models import AuditRecord

    asked = treasurer.post("/admin/ledger/close-month", data={"close-month": "2026-09"}).get_data(as_text=True)
    assert "From now on no entry can be dated in 2026-09" in asked and ledger.closed_months(books) == []
    closed = treasurer.post("/admin/ledger/close-month", data={"close-month": "2026-09", "confirmed": "yes"},
                            follow_redirects=True)
    assert "2026-09 is closed." in closed.get_data(as_text=True)
    assert ledger.closed_months(books) == ["2026-09"]
    again = treasurer.post("/admin/ledger/close-month", data={"close-month": "2026-09"})
    assert again.status_code == 422 and "2026-09 is already closed." in again.get_data(as_text=True)
    this_month = treasurer.post("/admin/ledger/close-month", data={"close-month": clock.month(books)})
    assert this_month.status_code == 422 and "has not ended yet" in this_month.get_data(as_text=True)
    bad = treasurer.post("/admin/ledger/close-month", data={"close-month": "Sept"})
    assert bad.status_code == 422 and "YYYY-MM" in bad.get_data(as_text=True)
    no_reason = treasurer.post("/admin/ledger/reopen-month", data={"reopen-month": "2026-09", "reopen-reason": ""})
    assert no_reason.status_code == 422 and ledger.closed_months(books) == ["2026-09"]
    reopened = treasurer.post("/admin/ledger/reopen-month", data={"reopen-month": "2026-09", "reopen-reason": "late cheque"},
                              follow_redirects=True)
    assert "2026-09 is open again." in reopened.get_data(as_text=True)
    assert ledger.closed_months(books) == []
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.reopen_month"))
    assert record.after["reason"] == "late cheque" and record.actor_id is not None
