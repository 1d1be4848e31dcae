"""Receipts (IRS Publication 1771) read back with pypdf: the statements, the amount, the number, the language."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

from pypdf import PdfReader

from fundapp.pdf_text import receipt_words
from reports.receipt import ReceiptData, render

UNION = ReceiptData(fund_name="Local 7 Hardship Fund", legal_name="Local 7 Strike Relief Inc.", ein="12-3456789",
                    legal_form="501(c)(5)", contact_email="fund@local7.example.org", receipt_number="2026-000042",
                    donor_name="Dana <Donor> & Co", gift_date=date(2026, 11, 3), amount_cents=260_600,
                    refunded_cents=0, currency="USD", method="card", monthly=True, dedication_kind="memory",
                    dedication_name="Joe Hill", language="en",
                    issued_at=datetime(2026, 11, 3, 15, 0, tzinfo=UTC))


def text_of(data: ReceiptData) -> str:
    return PdfReader(io.BytesIO(render(data))).pages[0].extract_text()


def test_union_receipt_has_the_pub_1771_content_and_says_not_deductible():
    text = text_of(UNION)
    for expected in ("Local 7 Strike Relief Inc.", "12-3456789", "2026-000042", "November 3, 2026", "2,606.00 USD",
                     "No goods or services were provided in exchange for this contribution.",
                     "not deductible as charitable contributions", "In memory of", "Joe Hill", "monthly gift",
                     "Dana <Donor> & Co"):
        assert expected in text, expected
    assert "tax-deductible to the extent allowed by law" not in text


def test_charity_receipt_says_deductible():
    text = text_of(replace(UNION, legal_form="501(c)(3)"))
    assert "section 501(c)(3)" in text and "tax-deductible to the extent allowed by law" in text


def test_spanish_receipt(app):
    with app.test_request_context():
        words = receipt_words("es")  # the app's catalogue gives the words; the builder draws them
    text = text_of(replace(UNION, language="es", words=words))
    assert "Recibo de su donación" in text
    assert "No se entregaron bienes ni servicios a cambio de esta contribución." in text
    assert "no son deducibles" in text and "En memoria de" in text and "3 de noviembre de 2026" in text


def test_a_refund_gives_a_corrected_receipt_with_the_same_number():
    text = text_of(replace(UNION, refunded_cents=60_600))
    assert "Corrected receipt" in text and "2026-000042" in text
    assert "-606.00 USD" in text and "2,000.00 USD" in text


def test_reissue_is_byte_identical():
    assert render(UNION) == render(replace(UNION))
