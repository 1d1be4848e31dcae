"""Money at the edges: user text -> integer cents, integer cents -> display.

Inside the app every amount is an ``int`` of cents. Floats never touch money:
parsing goes through ``Decimal`` and refuses fractions of a cent.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern
from flask_babel import get_locale
from flask_babel import gettext as _


class InvalidAmount(ValueError):
    """The text is not an amount of money we accept."""


_AMOUNT = re.compile(r"^(\d+)(\.\d+)?$")  # plain digits: no signs, exponents or NaN
#: Commas only between groups of three digits before the point: "1,234.50"; "12,50" is someone's 12.50.
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
MAX_DIGITS = 12  # a trillion dollars less a cent: far above any fund, far below BIGINT cents


def parse_amount(text: str | int | Decimal, maximum_cents: int | None = None) -> int:
    """Parse "1,234.50", "$20" or "20" into cents (123450, 2000, 2000); messages are for people."""
    cleaned = str(text).strip().replace("$", "").replace(" ", "")
    if "," in cleaned:
        if not _GROUPED.match(cleaned.lstrip("-")):
            raise InvalidAmount(_("Use a point for the cents and commas only between thousands, for example "
                                  "12.50 or 1,234.50."))
        cleaned = cleaned.replace(",", "")
    if not cleaned:
        raise InvalidAmount(_("Enter an amount."))
    if cleaned.startswith("-"):
        raise InvalidAmount(_("The amount cannot be negative."))
    found = _AMOUNT.match(cleaned)
    if not found:
        raise InvalidAmount(_("Write the amount in numbers, for example 25 or 1,234.50."))
    if len(found.group(1).lstrip("0")) > MAX_DIGITS:
        raise InvalidAmount(_("That amount is too large."))
    cents = Decimal(cleaned) * 100
    if cents != cents.to_integral_value():
        raise InvalidAmount(_("Use at most two digits after the decimal point."))
    if maximum_cents is not None and cents > maximum_cents:
        raise InvalidAmount(_("That amount is too large: the most is %(most)s.", most=format_cents(maximum_cents)))
    return int(cents)


@lru_cache(maxsize=16)
def _currency_pattern(locale: str) -> tuple[Locale, NumberPattern]:
    parsed = Locale.parse(locale)
    return parsed, parsed.currency_formats["standard"]


def display_locale(language: str) -> str:
    """The Babel locale amounts are formatted in for a page or mail in ``language`` ("en" or "es")."""
    return "es_US" if language == "es" else "en_US"


def babel_format_cents(cents: int, currency: str = "USD", locale: str = "en_US") -> str:
    """What ``babel.numbers.format_currency`` writes for these cents (the reference ``format_cents`` matches)."""
    parsed, pattern = _currency_pattern(locale)
    text: str = pattern.apply(Decimal(cents).scaleb(-2), parsed, currency=currency, currency_digits=True)
    return text


_PROBE = 123_456_789  # 1,234,567.89: every digit different, so each separator and group shows


@lru_cache(maxsize=64)
def _shape(locale: str, currency: str) -> tuple[str, str, str, str, str, str] | None:
    """How ``locale`` writes ``currency``, read off Babel's own output once: (prefix, negative prefix, group
    separator, decimal separator, suffix, negative suffix); None when it is not "groups of three, two decimals"
    (Babel then writes every amount itself)."""
    shapes = []
    for probe in (_PROBE, -_PROBE):
        text = babel_format_cents(probe, currency, locale)
        digits = [i for i, char in enumerate(text) if char.isdigit()]
        if len(digits) != 9:
            return None
        first, last = digits[0], digits[-1]
        shapes.append((text[:first], text[first + 1], text[last - 2], text[last + 1:]))
    (prefix, group, point, suffix), (negative, _g, _p, negative_suffix) = shapes
    shape = (prefix, negative, group, point, suffix, negative_suffix)
    for probe in (_PROBE, -_PROBE, 0, 5, -100_000_000_00):  # the shape must write what Babel writes, or go unused
        if _write(probe, shape) != babel_format_cents(probe, currency, locale):
            return None
    return shape


def _write(cents: int, shape: tuple[str, str, str, str, str, str]) -> str:
    prefix, negative, group, point, suffix, negative_suffix = shape
    whole, part = divmod(abs(cents), 100)
    digits = f"{whole:,}".replace(",", group)
    if cents < 0:
        return f"{negative}{digits}{point}{part:02d}{negative_suffix}"
    return f"{prefix}{digits}{point}{part:02d}{suffix}"


def format_cents(cents: int, currency: str = "USD", locale: str = "en_US") -> str:
    """Format cents for people: 123450 -> "$1,234.50" (en_US and es_US alike).

    Exactly what ``babel.numbers.format_currency`` writes (a test holds them equal), in plain Python: the
    locale's symbols and separators are read off Babel once per locale and currency, since Babel itself takes
    some 35 microseconds an amount and a page of 50 cases writes about 200.
    """
    shape = _shape(locale, currency)
    return _write(cents, shape) if shape is not None else babel_format_cents(cents, currency, locale)


def money_text(cents: int, currency: str = "USD") -> str:
    """Cents as the reader's language writes money (the ``money`` filter in templates, messages, mail)."""
    return format_cents(cents, currency, display_locale(str(get_locale() or "en")))


def decimal_text(cents: int) -> str:
    """12345 -> "123.45", -5 -> "-0.05": exact, two decimals, no float (exports, and what a form shows to edit)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
