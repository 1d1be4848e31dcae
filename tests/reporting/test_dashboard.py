"""The trustees' dashboard: its figures are the books', its runway is right by hand, its charts are honest."""
from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from fundapp.accounts.models import User
from fundapp.applications.models import Application
from fundapp.extensions import db
from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.ledger.models import CASH_ACCOUNTS
from fundapp.reporting import charts, figures
from fundapp.review import services as review
from fundapp.review.models import GrantPayment
from reports.charts import svg
from reports.style import amount_text
from tests.conftest import sign_in
from tests.factories import TODAY, gift


def test_the_runway_matches_a_hand_computed_example(fund, grants):
    fund.reserve_cents = 1_000_00
    gift(fund, 11_000_00, date(2026, 10, 1))
    grants(500_00, day=TODAY - timedelta(days=30), paid=True)  # before the 4 weeks: not in the pace
    grants(400_00, day=TODAY - timedelta(days=27), paid=True)  # the first day of the 4 weeks
    grants(500_00, day=TODAY - timedelta(days=10))
    grants(500_00, day=TODAY)
    grants(2_100_00, day=TODAY, approve=False)  # waiting
    found = figures.dashboard(fund, TODAY)
    # 11,000 - 1,000 reserve - 1,900 granted = 8,100 available; 1,400 in 28 days = 50 a day -> 162 days.
    assert found.available_cents == 8_100_00
    assert found.weekly_spend_cents == 350_00
    assert found.runs_dry_on == date(2027, 5, 6)
    # With the 2,100 waiting approved: 6,000 / 50 = 120 days.
    assert (found.queue_count, found.queue_cents) == (1, 2_100_00)
    assert found.runs_dry_with_queue_on == date(2027, 3, 25)
    assert found.committed_cents == 1_000_00 and found.oldest_waiting.amount_requested_cents == 2_100_00


def test_no_recent_grants_means_no_runway_and_an_empty_fund_runs_dry_today(fund, grants):
    gift(fund, 100_00, date(2026, 9, 1))
    grants(50_00, day=date(2026, 9, 2))
    assert figures.dashboard(fund, TODAY).runs_dry_on is None
    assert figures.runway(0, 100, 28, TODAY) == TODAY and figures.runway(-5, 100, 28, TODAY) == TODAY


def test_dashboard_figures_equal_the_books_on_a_generated_scenario(fund, grants):
    rng = random.Random(7)
    first = TODAY - timedelta(days=120)
    for _n in range(60):
        gift(fund, rng.randint(1_00, 900_00), first + timedelta(days=rng.randint(0, 120)))
    made = []
    for _n in range(25):
        day = first + timedelta(days=rng.randint(0, 118))
        made.append(grants(rng.randint(20_00, 500_00), category=rng.choice(["rent", "food", "medical"]),
                           worksite=rng.choice(["North", "South"]), day=day, paid=rng.random() < 0.6))
    paid = [a for a in made if a.status == "paid"]
    tom = db.session.scalar(db.select(User).filter_by(email="tom@example.org"))
    review.void_payment(fund, db.session.scalar(db.select(GrantPayment).filter_by(application_id=paid[0].id)),
                        reason="cheque lost", actor=tom)
    db.session.commit()
    found = figures.dashboard(fund, TODAY)
    books = ledger.balances(fund, TODAY)
    assert found.cash_cents == sum(books.get(name, 0) for name in CASH_ACCOUNTS)
    assert found.committed_cents == -books["Liabilities:GrantsPayable"]
    assert found.available_cents == ledger.available_to_grant(fund, TODAY)
    assert sum(cents for _c, _n, cents in found.categories) == books["Expenses:HardshipGrants"]
    assert sum(count for _c, count, _cents in found.categories) == 25
    window = ledger.period_totals(fund, found.weeks[0].start, TODAY)
    assert sum(w.gifts_cents for w in found.weeks) == -window["Income:Donations"]
    assert sum(w.grants_cents for w in found.weeks) == window["Expenses:HardshipGrants"]
    assert found.weeks[-1].cash_cents == found.cash_cents
    assert [w.start.weekday() for w in found.weeks] == [0] * figures.CHART_WEEKS


def test_charts_are_valid_svg_named_for_screen_readers_and_drawn_to_the_table(app, fund, grants):
    gift(fund, 2_000_00, TODAY - timedelta(days=20))
    for cents, category in ((300_00, "rent"), (120_00, "food"), (450_00, "rent"), (80_00, "medical")):
        grants(cents, category=category, day=TODAY - timedelta(days=cents // 100 % 13))
    with app.test_request_context():
        chart = charts.grants_by_category(figures.grants_by(fund, Application.category))
        weekly = charts.gifts_and_grants(figures.weeks(fund, TODAY))
    text = svg(chart)
    root = ET.fromstring(text.encode())
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == "Grants by category"
    assert "largest first" in root.find(f"{ns}desc").text
    assert root.get("role") == "img" and "style=" not in text  # draws under a CSP without inline styles
    assert chart.rows == [["Rent or mortgage", "2", "750.00"], ["Food", "1", "120.00"],
                          ["Medical costs or medicine", "1", "80.00"]]
    # The picture is the table: each bar's length is its amount at one scale.
    bars = [float(r.get("width")) for r in root.iter(f"{ns}rect") if float(r.get("x")) == 130]  # from the axis
    amounts = sorted(int(row[2].replace(",", "").replace(".", "")) for row in chart.rows)
    assert len(bars) == 3
    scales = {round(width / cents, 9) for width, cents in zip(sorted(bars), amounts, strict=True)}
    assert len(scales) == 1
    weekly_root = ET.fromstring(svg(weekly).encode())
    legend = [r.get("fill") for r in weekly_root.iter(f"{ns}rect") if float(r.get("y")) > 200]
    grant_fill = legend[1]  # the legend names gifts, then grants
    drawn = sorted(float(r.get("height")) for r in weekly_root.iter(f"{ns}rect")
                   if r.get("fill") == grant_fill and float(r.get("y")) == 45)  # bars stand on the axis
    grants_column = sorted(int(row[2].replace(",", "").replace(".", "")) for row in weekly.rows if row[2] != "0.00")
    assert len(drawn) == len(grants_column) and len({round(h / c, 9) for h, c in zip(drawn, grants_column, strict=True)}) == 1


def test_the_dashboard_page_shows_the_books_figures_to_trustees(client, create_user, fund, grants):
    gift(fund, 5_000_00, clock.today(fund) - timedelta(days=3))
    grants(300_00, day=clock.today(fund) - timedelta(days=1))
    grants(900_00, day=clock.today(fund), approve=False)
    create_user("tess@example.org", "treasurer")
    sign_in(client, "tess@example.org")
    page = client.get("/review/dashboard").get_data(as_text=True)
    figure = dict(re.findall(r'data-figure="([a-z-]+)">([^<]+)<', page))
    assert figure["available"] == f"${amount_text(ledger.available_to_grant(fund))}"
    assert figure["committed"] == "$300.00" and figure["cash"] == "$5,000.00"
    assert "1 application waiting, asking for $900.00 in all." in page
    for name in ("weekly", "cash", "categories"):
        assert f'src="/review/dashboard/{name}.svg"' in page
        response = client.get(f"/review/dashboard/{name}.svg")
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        ET.fromstring(response.data)
    assert client.get("/review/dashboard/nothing.svg").status_code == 404
