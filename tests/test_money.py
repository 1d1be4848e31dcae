"""Parsing and formatting money: integer cents only."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundapp.money import InvalidAmount, babel_format_cents, format_cents, parse_amount


@pytest.mark.parametrize("text, cents", [
    ("20", 2000), ("$20", 2000), ("20.5", 2050), ("1,234.56", 123456), (" 0.01 ", 1), ("0", 0),
    ("99999999.99", 9999999999), ("1,234,567", 123456700),
    ("١٢٣.٤٥", 12345), ("１２３.４５", 12345), ("１,２３４", 123400),  # digits of any script, full-width too
])
def test_parse_amount_gives_exact_cents(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "-5", "1.005", "NaN", "inf", "1e400", "0.1.2"])
def test_parse_amount_refuses_what_is_not_money(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text)


@pytest.mark.parametrize("text, message", [
    ("", "Enter an amount."), ("-5", "cannot be negative"), ("1.005", "two digits after the decimal point"),
    ("12 dollars", "in numbers"), ("12,50", "a point for the cents"), ("1,23", "a point for the cents"),
    ("12,5000", "a point for the cents"), ("1234567890123", "too large"), ("1,000,000,000,000.00", "too large"),
])
def test_parse_amount_says_what_is_wrong(text, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(text)


def test_parse_amount_with_a_maximum():
    assert parse_amount("10,000", maximum_cents=1_000_000) == 1_000_000
    with pytest.raises(InvalidAmount, match=r"too large: the most is \$10,000.00"):
        parse_amount("10,000.01", maximum_cents=1_000_000)


def test_parse_amount_speaks_spanish(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("es"), pytest.raises(InvalidAmount) as refused:
        parse_amount("1.005")
    assert "decimal" in str(refused.value) and "Use at most" not in str(refused.value)


@pytest.mark.parametrize("cents, locale, text", [
    (123456, "en_US", "$1,234.56"), (123456, "es_US", "$1,234.56"), (5, "es_US", "$0.05"),
    (-250, "en_US", "-$2.50"), (100_000_000_00, "es_US", "$100,000,000.00"),
])
def test_format_cents_per_locale(cents, locale, text):
    assert format_cents(cents, "USD", locale) == text


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=-10**13, max_value=10**13),
       locale=st.sampled_from(["en_US", "es_US", "es_ES", "es_MX", "en_CA", "fr_CA", "en_GB", "de_DE", "hi_IN"]),
       currency=st.sampled_from(["USD", "CAD", "EUR", "MXN", "GBP", "JPY"]))
def test_format_cents_writes_what_babel_writes(cents, locale, currency):
    """The plain formatter is Babel's ``format_currency`` to the character, for the fund's locales (en_US, es_US)
    and others, including those it leaves to Babel (Indian grouping, a currency without cents)."""
    from babel.numbers import format_currency

    expected = format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)
    assert format_cents(cents, currency, locale) == babel_format_cents(cents, currency, locale) == expected
