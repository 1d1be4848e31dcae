"""Bank reconciliation: importing statements, matching their lines to the books, fees, the report, the close."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from fundapp.audit.models import AuditRecord
from fundapp.bank import documents
from fundapp.bank import reconciliation as bank_rec
from fundapp.bank import services as bank
from fundapp.bank.models import BankImport, BankMatch, BankStatementLine
from fundapp.extensions import db
from fundapp.ledger import services as ledger
from tests.bank.conftest import BOOKS_OCTOBER, data, line, posting_for

NOVEMBER_LAYOUT = dict(date_column="Posted Date", date_format="%m/%d/%Y", description_column="Description",
                       debit_column="Debit", credit_column="Credit", reference_column="Check Number")


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def match_all_october(fund) -> None:
    """What the treasurer does for October: the suggestions confirmed, the split, the fee and the interest."""
    for fitid in ("OCT-001", "OCT-002", "OCT-004", "OCT-005"):
        found = line(fund, fitid)
        best = bank.suggestions(fund, found)[0]
        bank.match_line(fund, found.id, [p.posting_id for p in best.postings])
    bank.match_line(fund, line(fund, "OCT-003").id, [posting_for(fund, "slip 13"), posting_for(fund, "slip 14")])
    bank.book_bank_item(fund, line(fund, "OCT-006").id, "fee")
    bank.book_bank_item(fund, line(fund, "OCT-007").id, "interest")
    db.session.commit()


# --- import --------------------------------------------------------------------------------------------------


def test_an_ofx_statement_keeps_its_lines_ids_period_and_ending_balance(october):
    statement = db.session.scalar(db.select(BankImport))
    assert (statement.period_start, statement.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    assert statement.ending_balance_cents == 1_526_747 and statement.line_count == 7
    assert len(statement.sha256) == 64 and statement.file_format == "ofx"
    cheque = line(october, "OCT-004")
    assert (cheque.line_date, cheque.amount_cents, cheque.reference, cheque.matched_cents) == \
        (date(2026, 10, 15), -50_000, "2001", 0)
    assert cheque.account_id == bank.bank_account(october).id
    assert line(october, "OCT-007").amount_cents == 37
    assert db.session.scalar(db.select(AuditRecord).filter_by(action="bank.import")).after["lines"] == 7


def test_a_csv_statement_is_read_with_the_columns_chosen_and_the_layout_is_remembered(books):
    layout = bank.save_csv_format(books, **NOVEMBER_LAYOUT)
    found = bank.import_statement(books, data("2026-11.csv"), filename="2026-11.csv", file_format="csv",
                                  layout=layout, ending_balance_cents=1_556_697, statement_end=date(2026, 11, 30))
    db.session.commit()
    lines = db.session.scalars(db.select(BankStatementLine).order_by(BankStatementLine.line_date)).all()
    assert [(l.line_date, l.amount_cents, l.reference) for l in lines] == [
        (date(2026, 11, 3), 61_450, ""), (date(2026, 11, 4), -30_000, "2002"), (date(2026, 11, 30), -1_500, "")]
    assert all(l.fitid is None for l in lines)
    assert (found.period_end, found.ending_balance_cents) == (date(2026, 11, 30), 1_556_697)
    assert bank.csv_format(books).debit_column == "Debit"


def test_a_csv_statement_starts_on_the_day_it_says_not_on_its_first_line(books):
    """November's first line is on the 3rd: read from the lines alone, the statement would start then, and a bank
    entry of the 1st or 2nd that never reached the bank would count as through it before the first statement."""
    layout = bank.save_csv_format(books, **NOVEMBER_LAYOUT)
    with pytest.raises(bank.BankError, match="starts on 2026-11-04 but holds lines from 2026-11-03"):
        bank.import_statement(books, data("2026-11.csv"), filename="2026-11.csv", file_format="csv", layout=layout,
                              statement_start=date(2026, 11, 4), statement_end=date(2026, 11, 30))
    db.session.rollback()
    found = bank.import_statement(books, data("2026-11.csv"), filename="2026-11.csv", file_format="csv",
                                  layout=layout, statement_start=date(2026, 11, 1), statement_end=date(2026, 11, 30))
    db.session.commit()
    assert (found.period_start, found.period_end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert bank.first_day(books) == date(2026, 11, 1)


def test_a_csv_with_a_column_the_layout_names_is_refused_with_the_file_s_columns(books):
    layout = bank.save_csv_format(books, **{**NOVEMBER_LAYOUT, "reference_column": "Cheque"})
    with pytest.raises(bank.BankError, match='no column "Cheque". Its columns are: "Posted Date", "Description"'):
        bank.import_statement(books, data("2026-11.csv"), filename="x.csv", file_format="csv", layout=layout)
    with pytest.raises(bank.BankError, match="Row 2: the date 11/03/2026 is not written as 2026-10-31"):
        bank.import_statement(books, data("2026-11.csv"), filename="x.csv", file_format="csv",
                              layout=bank.save_csv_format(books, **{**NOVEMBER_LAYOUT, "date_format": "%Y-%m-%d"}))
    assert db.session.scalar(db.select(sa.func.count(BankStatementLine.id))) == 0


def test_the_same_file_imported_twice_is_refused_with_the_reason(october):
    with pytest.raises(bank.BankError, match=r"already imported on .* \(import #\d+, 2026-10.ofx\)"):
        bank.import_statement(october, data("2026-10.ofx"), filename="again.ofx", file_format="ofx")
    db.session.rollback()
    assert db.session.scalar(db.select(sa.func.count(BankImport.id))) == 1


def test_lines_already_imported_are_refused_by_bank_id_and_by_fingerprint_naming_them(october):
    with pytest.raises(bank.BankError) as refused:
        bank.import_statement(october, data("overlap.ofx"), filename="overlap.ofx", file_format="ofx")
    assert "1 line(s) of this file are already imported" in str(refused.value)
    assert "2026-10-15 -$500.00 (2001 CHECK 2001), already in import #" in str(refused.value)
    db.session.rollback()
    layout = bank.save_csv_format(october, **NOVEMBER_LAYOUT)
    bank.import_statement(october, data("2026-11.csv"), filename="2026-11.csv", file_format="csv", layout=layout)
    db.session.commit()
    with pytest.raises(bank.BankError, match=r"2026-11-30 -\$15.00 \(SERVICE FEE\), already in import"):
        bank.import_statement(october, data("overlap.csv"), filename="overlap.csv", file_format="csv", layout=layout)
    db.session.rollback()
    assert db.session.scalar(db.select(sa.func.count(BankStatementLine.id))) == 10  # nothing of either file kept


def test_a_file_that_is_not_a_statement_is_refused_clearly(books):
    with pytest.raises(bank.BankError, match="not an OFX or QFX statement"):
        bank.import_statement(books, b"<html>hello</html>", filename="x.ofx", file_format="ofx")
    with pytest.raises(bank.BankError, match="Say which columns"):
        bank.import_statement(books, data("2026-11.csv"), filename="x.csv", file_format="csv")


# --- matching ------------------------------------------------------------------------------------------------


def test_suggestions_find_the_posting_by_amount_date_and_reference(october):
    cheque = bank.suggestions(october, line(october, "OCT-004"))
    assert [s.postings[0].memo for s in cheque] == ["Grant payment to Ana Garcia (cheque 2001)"]
    assert cheque[0].reference_hit and cheque[0].days_off == 3
    payout = bank.suggestions(october, line(october, "OCT-001"))[0]
    assert payout.postings[0].memo == "Stripe payout po_demo_1" and payout.days_off == 1
    deposit = bank.suggestions(october, line(october, "OCT-002"))[0]
    assert deposit.reference_hit and "slip 12" in deposit.postings[0].memo
    # One bank deposit of two deposits in the books: suggested as the pair.
    pair = bank.suggestions(october, line(october, "OCT-003"))[0]
    assert sorted(p.amount_cents for p in pair.postings) == [8_000, 12_000]
    # Nothing within a day either side: the cheque cleared three days after it was written.
    assert bank.suggestions(october, line(october, "OCT-004"), window_days=1) == []
    assert bank.suggestions(october, line(october, "OCT-006")) == []  # the fee is not in the books


def test_a_confirmed_match_marks_the_line_and_the_posting_is_matched_once(october):
    cheque, other = line(october, "OCT-004"), line(october, "OCT-005")
    posting = posting_for(october, "cheque 2001")
    bank.match_line(october, cheque.id, [posting])
    db.session.commit()
    assert line(october, "OCT-004").matched_cents == -50_000
    with pytest.raises(bank.BankError, match="already matched"):
        bank.match_line(october, cheque.id, [posting_for(october, "zelle ZEL-77")])
    db.session.rollback()
    with pytest.raises(bank.BankError, match="add up to -\\$300.00; the bank line is -\\$250.00"):
        bank.match_line(october, other.id, [posting_for(october, "cheque 2002")])
    db.session.rollback()
    with pytest.raises(bank.BankError, match="already matched to another bank line"):
        bank.match_line(october, other.id, [posting])
    db.session.rollback()
    assert line(october, "OCT-005").matched_cents == 0
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="bank.match"))
    assert record.object_id == str(cheque.id) and record.after["kind"] == "match"


def test_a_bank_line_split_across_two_deposits(october):
    deposit = line(october, "OCT-003")
    with pytest.raises(bank.BankError, match="add up to \\$120.00; the bank line is \\$200.00"):
        bank.match_line(october, deposit.id, [posting_for(october, "slip 13")])
    db.session.rollback()
    bank.match_line(october, deposit.id, [posting_for(october, "slip 13"), posting_for(october, "slip 14")])
    db.session.commit()
    matches = db.session.scalars(db.select(BankMatch).filter_by(line_id=deposit.id)).all()
    assert sorted(m.amount_cents for m in matches) == [8_000, 12_000] and {m.kind for m in matches} == {"split"}
    assert line(october, "OCT-003").matched_cents == 20_000


def test_an_unmatched_fee_is_booked_as_an_expense_entry_and_matched(october):
    fee = line(october, "OCT-006")
    with pytest.raises(bank.BankError, match="not interest"):
        bank.book_bank_item(october, fee.id, "interest")
    db.session.rollback()
    entry = bank.book_bank_item(october, fee.id, "fee")
    db.session.commit()
    assert (entry.entry_date, entry.source_kind, entry.source_id) == (date(2026, 10, 31), "bank.line", str(fee.id))
    assert sorted((p.account.name, p.amount_cents) for p in entry.postings) == [
        ("Assets:Bank", -1_500), ("Expenses:BankFees", 1_500)]
    assert ledger.balance(october, "Expenses:BankFees") == 1_500
    assert line(october, "OCT-006").matched_cents == -1_500
    assert db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.post", object_id=str(entry.id)))
    interest = bank.book_bank_item(october, line(october, "OCT-007").id, "interest")
    db.session.commit()
    assert ledger.balance(october, "Income:Interest") == -37 and interest.source_id == str(line(october, "OCT-007").id)


def test_unmatching_is_audited_and_refused_once_the_month_is_closed(october):
    cheque = line(october, "OCT-004")
    bank.match_line(october, cheque.id, [posting_for(october, "cheque 2001")])
    db.session.commit()
    bank.unmatch_line(october, cheque.id)
    db.session.commit()
    assert line(october, "OCT-004").matched_cents == 0
    assert db.session.scalar(db.select(sa.func.count(BankMatch.id))) == 0
    assert db.session.scalar(db.select(AuditRecord).filter_by(action="bank.unmatch")).before["postings"][0][1] == -50_000
    bank.match_line(october, cheque.id, [posting_for(october, "cheque 2001")])
    ledger.close_month(october, "2026-10")
    db.session.commit()
    with pytest.raises(bank.BankError, match="2026-10 is closed"):
        bank.unmatch_line(october, cheque.id)


def test_the_database_refuses_a_line_matched_in_part(october):
    cheque = line(october, "OCT-004")
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(BankStatementLine).where(BankStatementLine.id == cheque.id)
                           .values(matched_cents=-1_000))
        db.session.flush()
    db.session.rollback()


def test_on_postgresql_a_line_s_matches_must_sum_to_what_it_says_is_matched(october):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the deferred trigger is PostgreSQL's")
    cheque = line(october, "OCT-004")
    db.session.execute(sa.update(BankStatementLine).where(BankStatementLine.id == cheque.id)
                       .values(matched_cents=-50_000))
    with pytest.raises(sa.exc.IntegrityError, match="bank_line_matches_sum"):
        db.session.commit()
    db.session.rollback()


# --- the report ----------------------------------------------------------------------------------------------


def test_the_report_shows_a_difference_of_zero_when_everything_is_matched(october):
    match_all_october(october)
    found = bank_rec.reconcile(october, date(2026, 10, 31))
    assert found.book_cents == BOOKS_OCTOBER - 1_500 + 37 and found.bank_cents == 1_526_747
    assert [p.memo for p in found.outstanding] == ["Grant payment to Maria Nguyen (cheque 2002)"]
    assert found.in_transit == [] and found.unrecorded == [] and found.difference_cents == 0
    text = pdf_text(documents.reconciliation_pdf(october, date(2026, 10, 31)))
    assert "Reconciled: the difference is 0.00." in text
    assert "15,267.47" in text and "Grant payment to Maria Nguyen (cheque 2002)" in text and "-300.00" in text


def test_the_report_names_each_outstanding_item_when_lines_are_not_matched(october):
    text = pdf_text(documents.reconciliation_pdf(october, date(2026, 10, 31)))
    for named in ("Grant payment to Ana Garcia (cheque 2001)", "Grant payment to Maria Nguyen (cheque 2002)",
                  "Grant payment to Luis Smith (zelle ZEL-77)", "Stripe payout po_demo_1", "Bank deposit slip 12",
                  "MONTHLY SERVICE FEE", "INTEREST PAID"):
        assert named in text
    # Nothing matched: every bank line is unrecorded and every posting outstanding, which still balances.
    assert bank_rec.reconcile(october, date(2026, 10, 31)).difference_cents == 0
    # A statement whose balance disagrees with the books shows the difference.
    db.session.execute(sa.update(BankImport).values(ending_balance_cents=1_526_700))
    db.session.commit()
    assert "NOT RECONCILED: the difference is -0.47." in pdf_text(documents.reconciliation_pdf(october, date(2026, 10, 31)))
    assert "No bank statement ends on this date" in pdf_text(documents.reconciliation_pdf(october, date(2026, 10, 30)))


def test_the_month_status_tells_the_close_whether_it_is_reconciled(october):
    status = bank_rec.month_status(october, "2026-10")
    assert (status["ready"], status["reconciled"], status["unmatched_lines"]) == (False, False, 7)
    match_all_october(october)
    status = bank_rec.month_status(october, "2026-10")
    assert (status["ready"], status["difference_cents"], status["unmatched_lines"]) == (True, 0, 0)
    ledger.close_month(october, "2026-10")
    db.session.commit()
    record = db.session.scalar(db.select(AuditRecord).filter_by(action="ledger.close_month"))
    assert record.after["bank_reconciliation"] == {"ready": True, "reconciled": True, "month": "2026-10",
                                                   "statement_end": "2026-10-31", "difference_cents": 0,
                                                   "unmatched_lines": 0}


def test_a_month_before_the_first_statement_has_nothing_to_reconcile(october):
    status = bank_rec.month_status(october, "2026-09")
    assert (status["ready"], status["reconciled"]) == (True, False)
    assert "before the first bank statement imported (from 2026-10-01)" in status["summary"]


def test_the_books_with_a_bank_fee_and_interest_still_export_and_print(october, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from fundapp.ledger import documents as ledger_documents
    from fundapp.ledger import exports

    match_all_october(october)
    path = tmp_path / "books.beancount"
    with open(path, "w") as out:
        exports.write_beancount(october, out)
    check = subprocess.run([str(Path(sys.executable).parent / "bean-check"), str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Expenses:BankFees" in path.read_text() and "Income:Interest" in path.read_text()
    text = pdf_text(ledger_documents.ledger_pdf(october, "activities", date(2026, 10, 1), date(2026, 10, 31)))
    assert "Expenses:BankFees" in text and "Income:Interest" in text
