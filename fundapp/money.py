"""Money at the edges: user text -> integer cents, integer cents -> display.

Inside the app every amount is an ``int`` of cents. Floats never touch money:
parsing goes through ``Decimal`` and refuses fractions of a cent.
"""
from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency


class InvalidAmount(ValueError):
    """The text is not an amount of money we accept."""


_AMOUNT = re.compile(r"^\d{1,12}(\.\d+)?$")  # plain digits: no signs, exponents or NaN


def parse_amount(text: str | int | Decimal) -> int:
    """Parse "1,234.50", "$20" or "20" into cents (123450, 2000, 2000)."""
    cleaned = str(text).strip().replace(",", "").replace("$", "").replace(" ", "")
    if not cleaned:
        raise InvalidAmount("empty amount")
    if cleaned.startswith("-"):
        raise InvalidAmount("amount cannot be negative")
    if not _AMOUNT.match(cleaned):
        raise InvalidAmount(f"not an amount: {str(text)[:40]!r}")
    cents = Decimal(cleaned) * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount("amount has fractions of a cent")
    return int(cents)


def format_cents(cents: int, currency: str = "USD", locale: str = "en_US") -> str:
    """Format cents for people: 123450 -> "$1,234.50" (en) or "1234,50 US$" (es)."""
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)
