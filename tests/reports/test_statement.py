"""Year-end statements read back with pypdf."""
from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

from pypdf import PdfReader

from fundapp.pdf_text import statement_words
from reports.statement import StatementData, StatementGift, render

DATA = StatementData(fund_name="Local 7 Hardship Fund", legal_name="Local 7 Strike Relief Inc.", ein="12-3456789",
                     legal_form="501(c)(3)", contact_email="fund@local7.example.org", donor_name="Dana Donor",
                     year=2026, currency="USD", language="en", issued_at=datetime(2027, 1, 1, tzinfo=UTC),
                     gifts=[StatementGift(date(2026, 1, 5), "2026-000001", 2_500, 0),
                            StatementGift(date(2026, 6, 5), "2026-000107", 123_456, 23_456)])


def test_statement_lists_each_gift_and_the_total_less_refunds():
    text = PdfReader(io.BytesIO(render(DATA))).pages[0].extract_text()
    assert "Your gifts in 2026" in text and "2026-000001" in text and "2026-000107" in text
    assert re.search(r"Total\s+1,025.00 USD", text)  # 25.00 + 1,234.56 - 234.56
    assert "No goods or services were provided" in text and "tax-deductible" in text


def test_statement_in_spanish(app):
    with app.test_request_context():
        words = statement_words("es")  # the app's catalogue gives the words; the builder draws them
    text = PdfReader(io.BytesIO(render(replace(DATA, language="es", words=words)))).pages[0].extract_text()
    assert "Sus donaciones en 2026" in text and "Contribución" in text and "5 ene 2026" in text
