"""The treasurer's bank page, the close of a month on the books page, and the commands."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from pypdf import PdfReader

from fundapp.audit.models import AuditRecord
from fundapp.bank import services as bank
from fundapp.bank.models import BankImport, BankStatementLine
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.bank.conftest import DATA, data, line, posting_for
from tests.conftest import sign_in

CSV_FORM = {"file_format": "csv", "date_column": "Posted Date", "date_format": "%m/%d/%Y",
            "description_column": "Description", "debit_column": "Debit", "credit_column": "Credit",
            "reference_column": "Check Number", "ending_balance": "15,566.97", "statement_end": "2026-11-30"}


def upload(client, name: str, **fields):
    return client.post("/admin/bank/import", data={**fields, "statement": (io.BytesIO(data(name)), name)},
                       content_type="multipart/form-data")


def test_the_treasurer_imports_an_ofx_statement_and_sees_its_lines_with_suggestions(books, treasurer):
    response = upload(treasurer, "2026-10.ofx", file_format="ofx")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/bank/?month=2026-10")
    page = treasurer.get("/admin/bank/?month=2026-10").get_data(as_text=True)
    assert "Imported 7 bank lines from 2026-10-01 to 2026-10-31." in page
    assert "CHECK 2001" in page and "Reference 2001" in page
    assert "Match with 2026-10-12 · Grant payment to Ana Garcia (cheque 2001)" in page
    assert "(the reference agrees)" in page
    assert "Not reconciled yet." in page and page.count("Not matched") == 7
    again = upload(treasurer, "2026-10.ofx", file_format="ofx")
    assert again.status_code == 422 and "This file was already imported on" in again.get_data(as_text=True)


def test_a_csv_import_remembers_its_columns_for_the_next_one(books, treasurer):
    response = upload(treasurer, "2026-11.csv", **CSV_FORM)
    assert response.status_code == 302
    statement = db.session.scalar(db.select(BankImport))
    assert (statement.ending_balance_cents, statement.period_end) == (1_556_697, date(2026, 11, 30))
    page = treasurer.get("/admin/bank/").get_data(as_text=True)
    assert 'value="Posted Date"' in page and 'value="Check Number"' in page  # the form comes back filled in
    wrong = upload(treasurer, "overlap.csv", **{**CSV_FORM, "date_column": "Date"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "The file has no column &#34;Date&#34;" in body
    overlap = upload(treasurer, "overlap.csv", **{**CSV_FORM, "ending_balance": "not money"})
    assert overlap.status_code == 422
    overlap = upload(treasurer, "overlap.csv", **{**CSV_FORM, "ending_balance": "", "statement_end": ""})
    assert overlap.status_code == 422 and "already in import #" in overlap.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(BankStatementLine.id))) == 3


def test_the_treasurer_matches_splits_books_a_fee_and_undoes_a_match_on_the_page(october, treasurer):
    cheque = line(october, "OCT-004")
    response = treasurer.post(f"/admin/bank/lines/{cheque.id}/match",
                              data={"posting": posting_for(october, "cheque 2001")})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"month=2026-10#line-{cheque.id}")
    assert line(october, "OCT-004").matched_cents == -50_000
    split = line(october, "OCT-003")
    treasurer.post(f"/admin/bank/lines/{split.id}/match",
                   data={"posting": [posting_for(october, "slip 13"), posting_for(october, "slip 14")]})
    assert line(october, "OCT-003").matched_cents == 20_000
    fee = line(october, "OCT-006")
    treasurer.post(f"/admin/bank/lines/{fee.id}/book", data={"kind": "fee"})
    assert ledger.balance(october, "Expenses:BankFees") == 1_500
    wrong = treasurer.post(f"/admin/bank/lines/{line(october, 'OCT-005').id}/match",
                           data={"posting": posting_for(october, "cheque 2002")})
    page = treasurer.get(wrong.headers["Location"]).get_data(as_text=True)
    assert "The entries add up to -$300.00; the bank line is -$250.00." in page
    treasurer.post(f"/admin/bank/lines/{cheque.id}/unmatch")
    assert line(october, "OCT-004").matched_cents == 0
    assert treasurer.post("/admin/bank/lines/999999/unmatch").status_code == 404


def test_the_report_downloads_as_a_pdf(october, treasurer):
    response = treasurer.get("/admin/bank/report?to=2026-10-31")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'reconciliation-2026-10-31.pdf"' in response.headers["Content-Disposition"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Bank reconciliation" in text and "Grant payment to Maria Nguyen (cheque 2002)" in text
    assert treasurer.get("/admin/bank/report?to=soon").status_code == 400


@pytest.mark.parametrize("roles", [("trustee",), ("applicant",), ("donor",)])
def test_only_the_treasurer_may_reconcile(october, client, create_user, roles):
    create_user("someone@example.org", *roles)
    sign_in(client, "someone@example.org")
    cheque = line(october, "OCT-004")
    assert client.get("/admin/bank/").status_code == 403
    assert client.get("/admin/bank/report?to=2026-10-31").status_code == 403
    assert client.post(f"/admin/bank/lines/{cheque.id}/match",
                       data={"posting": posting_for(october, "cheque 2001")}).status_code == 403
    assert line(october, "OCT-004").matched_cents == 0


def test_someone_signed_out_is_sent_to_sign_in(october, client):
    response = client.get("/admin/bank/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_closing_a_month_offers_the_reconciliation_first_and_records_it(october, treasurer):
    page = treasurer.get("/admin/ledger/").get_data(as_text=True)
    assert 'href="/admin/bank/?month=' in page
    refused = treasurer.post("/admin/ledger/close-month", data={"close-month": "2026-10"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "The bank statement of 2026-10 is not reconciled: the difference at 2026-10-31 is $0.00 and 7 bank" in body
    assert "2026-10" not in ledger.closed_months(october)
    closed = treasurer.post("/admin/ledger/close-month", data={"close-month": "2026-10", "close-not_reconciled_ok": "y",
                                                               "confirmed": "yes"})
    assert closed.status_code == 302 and "2026-10" in ledger.closed_months(october)
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.close_month"))
    assert record.after["bank_reconciliation"]["reconciled"] is False
    assert record.after["bank_reconciliation"]["unmatched_lines"] == 7
    assert record.after["bank_reconciliation"]["difference_cents"] == 0


def test_the_page_speaks_spanish(october, client, create_user):
    create_user("tesorera@example.org", "treasurer", language="es")
    sign_in(client, "tesorera@example.org")
    page = client.get("/admin/bank/?month=2026-10").get_data(as_text=True)
    assert "Conciliación bancaria" in page and "Importar un estado de cuenta" in page


# --- the commands --------------------------------------------------------------------------------------------


def test_import_bank_reads_ofx_and_refuses_the_same_file_again(books, runner):
    result = runner.invoke(args=["fund", "import-bank", str(DATA / "2026-10.ofx")])
    assert result.exit_code == 0, result.output
    assert "Imported 7 bank lines from 2026-10-01 to 2026-10-31 (ending balance $15,267.47)." in result.output
    again = runner.invoke(args=["fund", "import-bank", str(DATA / "2026-10.ofx"), "--format", "ofx"])
    assert again.exit_code == 1 and "already imported" in again.output
    assert db.session.scalar(db.select(db.func.count(BankStatementLine.id))) == 7


def test_import_bank_reads_csv_with_the_remembered_layout_only(books, runner):
    refused = runner.invoke(args=["fund", "import-bank", str(DATA / "2026-11.csv"), "--format", "csv"])
    assert refused.exit_code == 1 and "no CSV column layout is saved" in refused.output
    bank.save_csv_format(books, date_column="Posted Date", date_format="%m/%d/%Y", description_column="Description",
                         debit_column="Debit", credit_column="Credit", reference_column="Check Number")
    db.session.commit()
    result = runner.invoke(args=["fund", "import-bank", str(DATA / "2026-11.csv")])
    assert result.exit_code == 0, result.output
    assert "Imported 3 bank lines from 2026-11-03 to 2026-11-30 (ending balance unknown)." in result.output


def test_report_bank_reconciliation_writes_the_pdf(october, runner, tmp_path):
    target = tmp_path / "rec.pdf"
    result = runner.invoke(args=["fund", "report", "bank-reconciliation", "--to", "2026-10-31", "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = "\n".join(page.extract_text() for page in PdfReader(str(target)).pages)
    assert re.search(r"Difference\s+0\.00", text) and "Grant payment to Ana Garcia (cheque 2001)" in text
    missing = runner.invoke(args=["fund", "report", "bank-reconciliation", "-o", str(target)])
    assert missing.exit_code == 1 and "needs --to" in missing.output
