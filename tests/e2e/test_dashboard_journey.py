"""The treasurer reads the dashboard on a phone, then a visitor reads the public page: the charts draw
under our CSP, axe-core finds no violations, and the figures shown are the books'."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.reporting import figures
from reports.style import amount_text
from tests.e2e.conftest import axe_violations, sign_in_as
from tests.e2e.helpers import shot
from tests.factories import gift


def _charts_drawn(page) -> list[int]:
    """The natural width of every chart image: 0 for one the browser could not draw."""
    return page.eval_on_selector_all("figure.chart img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")


def test_the_dashboard_and_the_public_page_draw_their_charts_accessibly(live_server, phone, fund, create_user,
                                                                           grants):  # noqa: F811
    today = clock.today(fund)
    gift(fund, 9_000_00, today - timedelta(days=40))
    gift(fund, 1_250_00, today - timedelta(days=3))
    for n in range(7):
        grants(150_00 + 10_00 * n, category=("rent", "food", "utilities")[n % 3], day=today - timedelta(days=4 * n),
               paid=n % 2 == 0)
    grants(400_00, day=today, approve=False)
    create_user("tess@example.org", "treasurer", name="Tess Treasurer")

    page = phone
    sign_in_as(page, live_server, "tess@example.org")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    available = amount_text(ledger.available_to_grant(fund, today))
    expect(page.locator('[data-figure="available"]')).to_have_text(f"${available}")
    expect(page.get_by_text("1 application waiting, asking for $400.00 in all.")).to_be_visible()
    expect(page.locator('[data-figure="runway"]')).to_contain_text("lasts until")
    page.wait_for_load_state("networkidle")
    assert _charts_drawn(page) == [300, 300, 300]  # drawn, and the phone's drawings (larger type)
    page.get_by_text("The figures in this chart (USD)").first.click()
    expect(page.get_by_role("table", name="Gifts and grants per week")).to_be_visible()
    assert axe_violations(page) == []
    shot(page, "60-dashboard")
    page.get_by_role("link", name="Reports and exports").click()
    with page.expect_download() as monthly:
        page.get_by_role("button", name="Download the PDF").first.click()
    assert open(monthly.value.path(), "rb").read(5) == b"%PDF-"
    assert axe_violations(page) == []

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="See where the money goes").click()
    published = figures.public_figures(fund, today)  # grants as of the last complete period
    assert 0 < published.granted_cents < ledger.balance(fund, "Expenses:HardshipGrants")  # this week's wait
    expect(page.locator('[data-figure="granted"]')).to_have_text(f"${amount_text(published.granted_cents)}")
    expect(page.locator('[data-figure="raised"]')).to_have_text("$10,250.00")
    page.wait_for_load_state("networkidle")
    assert _charts_drawn(page) == [300, 300]
    assert axe_violations(page) == []
    shot(page, "61-public")
    assert page.problems == []  # no CSP violation, no script error

