"""Names in any script print in every PDF (issue 18, item 3), and the PDF fixes of issue 17, item 8.

Each kind of PDF gets a name mixing Polish, Vietnamese, Chinese, Arabic, Hebrew and an emoji, and is read back
with pypdf: the Latin and Chinese text extracts exactly, the Arabic and Hebrew letters are there, the emoji
became the substitute, every font is an embedded broad one, and every character read back was drawn in a font
that has a glyph for it (so none printed as a .notdef box).
"""
from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from fundapp.accounts.models import Member
from fundapp.applications.models import Application
from fundapp.applications.services import current_rules
from fundapp.donations import offline
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.pdf_text import award_words, page_words
from fundapp.reporting import documents
from fundapp.review import documents as review_documents
from fundapp.review import services as review
from reports import fonts, grants, receipt, statement
from reports.fund_report import Section, render_report
from reports.ledger import (
    ActivityStatement,
    BalanceSheet,
    JournalLine,
    TrialBalanceRow,
    render_activities,
    render_balance_sheet,
    render_journal,
    render_trial_balance,
)
from reports.style import DocumentInfo

LATIN, CJK, ARABIC, HEBREW, EMOJI = "Łódź Nguyễn", "王小明", "سارة", "שרה", "🦄"
NAME = f"{LATIN} {CJK} {ARABIC} {HEBREW} {EMOJI}"
WHEN = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
INFO = DocumentInfo(fund_name=f"Fondo {CJK}", title="Journal by account", period="2026", generated_at=WHEN)
#: Embedded font name (after the subset prefix) -> our font.
EMBEDDED = {"DejaVuSansCondensed": fonts.REGULAR, "DejaVuSansCondensed-Bold": fonts.BOLD,
            "DroidSansFallback": fonts.CJK}


def read(pdf: bytes) -> tuple[list[str], list[tuple[str, str]]]:
    """Each page's text, and every piece of text with the embedded font it is drawn in."""
    pieces: list[tuple[str, str]] = []

    def visit(text, _cm, _tm, font, _size):
        if text.strip():
            pieces.append(((font or {}).get("/BaseFont", ""), text))

    reader = PdfReader(io.BytesIO(pdf))
    return [page.extract_text(visitor_text=visit) for page in reader.pages], pieces


def check_scripts(pdf: bytes) -> str:
    """The mixed name reads back as described at the top; returns all the text."""
    pages, pieces = read(pdf)
    text = "\n".join(pages)
    assert LATIN in text, text
    assert CJK in text.replace("\n", ""), text  # a narrow column may wrap a Chinese name between characters
    letters = unicodedata.normalize("NFKC", text)  # Arabic's joined forms back to letters
    for rtl in (ARABIC, HEBREW):
        assert rtl in letters or rtl[::-1] in letters, rtl
    assert EMOJI not in text and fonts.SUBSTITUTE in text
    used = set()
    for base, piece in pieces:
        assert "+" in base, f"{base} is not an embedded subset"
        font = EMBEDDED[base.split("+", 1)[1]]  # KeyError: a font that is not ours (Helvetica...)
        used.add(font)
        missing = [char for char in piece if not char.isspace() and not fonts.has_glyph(font, char)]
        assert missing == [], f"{missing} drawn in {font}, which has no glyph for them (.notdef)"
    assert {fonts.REGULAR, fonts.CJK} <= used
    return text


def receipt_data(**changes) -> receipt.ReceiptData:
    values = dict(fund_name=f"Fondo {CJK}", legal_name="Local 7 Strike Relief Inc.", ein="12-3456789",
                  legal_form="501(c)(5)", contact_email="fund@example.org", receipt_number="2026-000042",
                  donor_name=NAME, gift_date=date(2026, 11, 3), amount_cents=2_500, refunded_cents=0,
                  currency="USD", method="card", monthly=False, dedication_kind="memory", dedication_name=NAME,
                  language="en", issued_at=WHEN)
    return receipt.ReceiptData(**{**values, **changes})


def award_data(**changes) -> grants.AwardLetterData:
    values = dict(fund_name="Local 7 Hardship Fund", legal_name="Local 7 Strike Relief Inc.", case_id=12,
                  member_name=NAME, purpose="rent", amount_approved_cents=40_000, amount_requested_cents=50_000,
                  payee=f"{CJK} Properties", note=f"Memo: {NAME}", currency="USD", language="en",
                  decided_on=date(2026, 11, 3))
    return grants.AwardLetterData(**{**values, **changes})


def test_a_receipt_prints_a_name_in_any_script():
    check_scripts(receipt.render(receipt_data()))


def test_a_years_statement_prints_a_name_in_any_script():
    check_scripts(statement.render(statement.StatementData(
        fund_name=f"Fondo {CJK}", legal_name="Local 7", ein="12-3456789", legal_form="501(c)(3)",
        contact_email="fund@example.org", donor_name=NAME, year=2026, currency="USD", language="es",
        gifts=[statement.StatementGift(date(2026, 3, 1), "2026-000001", 2_500, 0)], issued_at=WHEN)))


def test_the_award_letter_case_file_and_batch_sheet_print_names_in_any_script():
    check_scripts(grants.render_award_letter(award_data()))
    check_scripts(grants.render_case_file(grants.CaseFileData(
        fund_name="Local 7", legal_name="Local 7", case_id=12, status="paid", recipient_name=NAME,
        member_number="M-1", address=f"ul. Piotrkowska 1, {LATIN}", worksite=CJK, category="Rent", purpose=NAME,
        household="3", payee=NAME, amount_requested_cents=50_000, amount_approved_cents=40_000,
        amount_paid_cents=40_000, currency="USD", submitted="2026-11-01", rules_version=1, rules_summary="caps",
        decision_note=NAME, payments=[("2026-11-04", 40_000, "cheque", "101", NAME, "")], generated_at=WHEN)))
    check_scripts(grants.render_batch_sheet(grants.BatchSheetData(
        fund_name="Local 7", currency="USD", prepared_on=date(2026, 11, 4), rows=[(12, NAME, NAME, 40_000)],
        generated_at=WHEN)))


def test_the_ledger_pdfs_print_memos_and_names_in_any_script():
    account = f"Income:{CJK}"
    lines = [JournalLine("Assets:Bank", date(2026, 3, 1), 1, f"Gift from {NAME}", 2_500),
             JournalLine(account, date(2026, 3, 1), 1, f"Gift from {NAME}", -2_500)]
    text = check_scripts(render_journal(INFO, {"Assets:Bank": 0, account: 0}, lines))
    assert "2,500" not in text and "25.00" in text
    check_scripts(render_trial_balance(INFO, [TrialBalanceRow(f"Assets:{NAME}", 2_500, 0),
                                              TrialBalanceRow(account, 0, 2_500)]))
    check_scripts(render_activities(INFO, ActivityStatement([(account, 2_500)], [(f"Expenses:{NAME}", 100)], 0)))
    check_scripts(render_balance_sheet(INFO, BalanceSheet([(f"Assets:{NAME}", 2_500)], [], [], 2_500)))


def test_a_journal_memo_too_long_for_its_column_is_cut_and_still_prints_in_its_fonts():
    memo = f"{NAME} " * 20
    lines = [JournalLine("Assets:Bank", date(2026, 3, 1), 1, memo, 2_500)]
    check_scripts(render_journal(INFO, {"Assets:Bank": 0}, lines + [
        JournalLine("Assets:Bank", date(2026, 3, 2), 2, NAME, 100)]))


def test_a_long_register_starts_its_table_on_the_first_page_under_its_title():
    rows = [[f"2026-01-{n % 28 + 1:02d}", f"{NAME} {n}", "12.00"] for n in range(300)]
    pdf = render_report(DocumentInfo(fund_name="Local 7", title="Grants register", period="2026",
                                     generated_at=WHEN),
                        "Each grant's case file holds the need.",
                        [Section("Grants", header=["Date", "Recipient", "Amount"], rows=rows, numeric_cols=(2,))])
    pages, _pieces = read(pdf)
    assert "Grants register" in pages[0] and f"{LATIN} {CJK}" in pages[0]
    assert "Date" in pages[1] and "Recipient" in pages[1]  # the header repeats on the next page
    check_scripts(pdf)


def test_a_short_section_still_moves_whole_to_the_next_page_with_its_heading():
    """A table that fits on a page is kept with its heading, not split, as before."""
    filler = Section("Filler", header=["Row"], rows=[[str(n)] for n in range(52)])
    short = Section("Short table", header=["Name"], rows=[[f"{LATIN} {n}"] for n in range(10)])
    pages, _pieces = read(render_report(INFO, "", [filler, short]))
    holding = [i for i, page in enumerate(pages) if "Short table" in page]
    assert len(holding) == 1 and f"{LATIN} 9" in pages[holding[0]]


def test_characters_outside_every_font_print_as_the_substitute_and_controls_do_not_reverse_a_name():
    assert fonts.runs("a\u202eb") == [(fonts.REGULAR, "ab")]  # no override: the name is not printed reversed
    assert fonts.runs(f"x{EMOJI}\x07") == [(fonts.REGULAR, f"x{fonts.SUBSTITUTE}{fonts.SUBSTITUTE}")]
    assert fonts.runs("Ł王", fonts.BOLD) == [(fonts.BOLD, "Ł"), (fonts.CJK, "王")]
    assert fonts.visual(HEBREW) == HEBREW[::-1]


def test_a_missing_font_file_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fonts, "DEFAULT_DIRS", ("/nonexistent",))
    monkeypatch.setenv("FUNDAPP_FONT_DIRS", "")
    with pytest.raises(fonts.FontMissing, match="apt-get install fonts-dejavu-extra"):
        fonts.font_path(fonts.REGULAR)


def test_the_award_letter_says_to_be_paid_then_paid_and_carries_the_address_and_signatory(app):
    signed = dict(postal_address="100 Main St\nOakland, CA 94607", signatory_name="Rosa Núñez",
                  signatory_title="Treasurer")
    before, _ = read(grants.render_award_letter(award_data(**signed)))
    assert f"To be paid to {CJK} Properties." in before[0]
    assert "100 Main St" in before[0] and "Oakland, CA 94607" in before[0]
    assert "For Local 7 Strike Relief Inc.: Rosa Núñez, Treasurer" in before[0]
    part, _ = read(grants.render_award_letter(award_data(amount_paid_cents=10_000)))
    assert f"Paid to {CJK} Properties so far: 100.00 USD. The rest, 300.00 USD" in part[0].replace("\n", " ")
    with app.test_request_context():
        spanish = award_words("es")
    after, _ = read(grants.render_award_letter(award_data(amount_paid_cents=40_000, language="es", words=spanish)))
    assert f"Se pagó a {CJK} Properties." in after[0] and "Se pagará" not in after[0]


def _paid_grant(fund, create_user, *, language="es"):
    tom = create_user("tom@example.org", "trustee")
    user = create_user("m1@example.org", "applicant", name=NAME, language=language)
    member = Member(fund_id=fund.id, member_id="M-1", first_name=LATIN, last_name=f"{CJK} {ARABIC} {HEBREW} {EMOJI}",
                    worksite="North", unit="U", on_strike=True, user_id=user.id)
    db.session.add(member)
    db.session.flush()
    application = Application(fund_id=fund.id, applicant_id=user.id, member_id=member.id,
                              rules_id=current_rules(fund).id, status="submitted", category="rent",
                              amount_requested_cents=30_000, amount_paid_cents=0, submitted_at=WHEN)
    db.session.add(application)
    db.session.flush()
    offline.record_offline_gift(fund, name=NAME, email="", amount_cents=100_000, method="cheque",
                                  received_on=clock.today(fund), reference="9", notify=False)
    review.approve(fund, application, 30_000, actor=tom, decided_on=clock.today(fund))
    db.session.commit()
    return application, tom


def test_the_award_letter_from_the_books_names_who_was_paid_in_the_members_language(app, fund, create_user):
    fund.postal_address = "1 Calle Mayor\nLos Ángeles"
    fund.signatory_name, fund.signatory_title = "Ana Ruiz", "Tesorera"
    db.session.commit()
    application, tom = _paid_grant(fund, create_user)
    with app.test_request_context():
        before = read(review_documents.award_letter(fund, application))[0][0]
        review.record_payment(fund, application, amount_cents=30_000, method="cheque", reference="7",
                              paid_on=clock.today(fund), actor=tom)
        db.session.commit()
        after_pdf = review_documents.award_letter(fund, application)
    after = check_scripts(after_pdf)
    assert "Se pagará a" in before and "Se pagó a" not in before
    assert f"Se pagó a {LATIN}" in after and "Se pagará" not in after
    assert "1 Calle Mayor" in after and "Los Ángeles" in after
    assert f"Por {fund.legal_name}: Ana Ruiz, Tesorera" in after
    assert "página 1 de 1" in after and "generado el" in after  # the footer in the member's language


def test_the_donor_list_and_register_print_names_in_any_script_with_rows_on_the_first_page(app, fund,
                                                                                          create_user):
    _paid_grant(fund, create_user)
    with app.test_request_context():
        donors = documents.donors_pdf(fund, generated_at=WHEN)
        register = documents.register_pdf(fund, None, None, generated_at=WHEN)
    for pdf in (donors, register):
        text = check_scripts(pdf)
        first = read(pdf)[0][0]
        assert LATIN in first and "Total" in first  # the table is on page 1, under the title
        assert "page 1 of 1" in text  # these two stay in English for the auditor


def test_the_board_report_and_its_footer_come_in_spanish(app, fund, create_user):
    _paid_grant(fund, create_user)
    today = clock.today(fund)
    with app.test_request_context():
        pdf = documents.report_pdf(fund, "monthly", today, month=today.strftime("%Y-%m"), language="es")
        english = documents.report_pdf(fund, "monthly", today, month=today.strftime("%Y-%m"), language="en")
    pages, _pieces = read(pdf)
    text = "\n".join(pages)
    for spanish in ("Informe mensual a la junta", "Ayudas aprobadas en el mes por categoría", "Total de gastos",
                    "Las cifras provienen de la contabilidad del fondo", f"página 1 de {len(pages)}",
                    "generado el"):
        assert spanish in text, spanish
    assert "Grants approved in the month" not in text and "page 1 of" not in text
    assert "Grants approved in the month by category" in "\n".join(read(english)[0])


def test_a_spanish_receipt_has_a_spanish_footer(app):
    with app.test_request_context():
        words = page_words("es")
    pages, _pieces = read(receipt.render(receipt_data(language="es", page_words=words)))
    assert "página 1 de 1" in pages[0] and "generado el 2026-11-03" in pages[0]
    assert "page 1 of 1" not in pages[0]
