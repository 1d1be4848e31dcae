"""What the donor is told (issue 16, item 6): the tax statement of the fund's legal form on the donate page
and at Stripe Checkout, amounts in the fund's currency, the portal link in a monthly gift's receipt, and a
corrected receipt and statement after a lost card dispute."""
from __future__ import annotations

import html

import pytest

from fundapp.extensions import db

UNION_EN = "are not deductible as charitable contributions for federal income tax purposes"
UNION_ES = "no son deducibles como donaciones benéficas en el impuesto federal sobre la renta"
CHARITY_EN = "section 501(c)(3) of the Internal Revenue Code (EIN 98-7654321). Your contribution is tax-deductible"
CHARITY_ES = "sección 501(c)(3) del Código de Rentas Internas (EIN 98-7654321). Tu contribución es deducible"


def set_fund(fund, **settings):
    for name, value in settings.items():
        setattr(fund, name, value)
    db.session.commit()


def donate_page(client, language="en") -> str:
    response = client.get("/donate", headers={"Accept-Language": language})
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def tax_box(page: str) -> str:
    """The conspicuous statement's paragraph on the page."""
    start = page.index('<p class="tax-statement"')
    return page[start:page.index("</p>", start)]


@pytest.mark.parametrize("language, expected, absent", [
    ("en", UNION_EN, "tax-deductible"),
    ("es", UNION_ES, "deducible en la medida"),
])
def test_a_union_fund_says_on_the_donate_page_that_gifts_are_not_deductible(client, fund, language, expected,
                                                                            absent):
    set_fund(fund, legal_form="501(c)(5)", legal_name="Local 7 Strike Fund")
    box = tax_box(donate_page(client, language))
    assert "<strong>" in box and expected in box and "Local 7 Strike Fund" in box
    assert absent not in box


@pytest.mark.parametrize("language, expected, absent", [
    ("en", CHARITY_EN, "not deductible"),
    ("es", CHARITY_ES, "no son deducibles"),
])
def test_a_charity_fund_says_on_the_donate_page_that_gifts_are_deductible(client, fund, language, expected, absent):
    set_fund(fund, legal_form="501(c)(3)", legal_name="Strikers' Families Trust", ein="98-7654321")
    box = tax_box(donate_page(client, language))
    assert expected in box and "Strikers' Families Trust" in box
    assert absent not in box


@pytest.mark.parametrize("language, button, other_label", [
    ("en", "€25.00", "Another amount (euros)"),
    ("es", "EUR25.00", "Otra cantidad (euros)"),  # what Babel's es_US gives for euros, as on every other page
])
def test_a_euro_fund_shows_its_amounts_in_euros(client, fund, language, button, other_label):
    set_fund(fund, currency="EUR")
    page = donate_page(client, language)
    buttons = page[page.index('<legend>'):page.index("</fieldset>")]
    assert button in buttons and "$" not in buttons
    assert other_label in page
    assert "$25" not in page  # the card fee example too


def test_a_dollar_fund_shows_its_amounts_in_dollars(client, fund):
    page = donate_page(client)
    buttons = page[page.index('<legend>'):page.index("</fieldset>")]
    assert "$25.00" in buttons and "$250.00" in buttons and "€" not in buttons
    assert "Another amount (US dollars)" in page
