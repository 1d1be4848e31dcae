"""Parsing and formatting money: integer cents only."""
from __future__ import annotations

import pytest

from fundapp.money import InvalidAmount, format_cents, parse_amount


@pytest.mark.parametrize("text, cents", [
    ("20", 2000), ("$20", 2000), ("20.5", 2050), ("1,234.56", 123456), (" 0.01 ", 1), ("0", 0),
    ("99999999.99", 9999999999),
])
def test_parse_amount_gives_exact_cents(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "-5", "1.005", "NaN", "inf", "1e400", "0.1.2"])
def test_parse_amount_refuses_what_is_not_money(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text)


def test_format_cents_per_locale():
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(5, "USD", "es_US") in ("US$0.05", "$0.05", "0.05 US$", "0,05 US$")
