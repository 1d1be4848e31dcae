"""What members and the public see: the books' totals, and never a group of fewer than five grants."""
from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fundapp.ledger import services as ledger
from fundapp.reporting import figures
from fundapp.reporting.privacy import MINIMUM_GROUP, Period, merge_small_groups, merge_small_periods
from reports.style import amount_text
from tests.reporting.test_dashboard import TODAY, gift, grants  # noqa: F401

groups = st.lists(st.tuples(st.sampled_from(["rent", "food", "medical", "childcare", "utilities", "other",
                                             "transportation"]),
                            st.integers(0, 12), st.integers(1, 10_000_00))
                  .map(lambda g: (g[0], g[1], g[2] if g[1] else 0)),  # no grants, no money
                  max_size=7, unique_by=lambda g: g[0])


@settings(max_examples=400, deadline=None)
@given(groups)
def test_no_group_shown_holds_fewer_than_five_grants_and_the_totals_stay_whole(raw):
    shown = merge_small_groups(raw)
    total = sum(count for _k, count, _c in raw)
    if total < MINIMUM_GROUP:
        assert shown == []
        return
    assert all(group.count >= MINIMUM_GROUP for group in shown)
    assert sum(g.count for g in shown) == total and sum(g.cents for g in shown) == sum(c for _k, _n, c in raw)
    small = {key for key, count, _c in raw if 0 < count < MINIMUM_GROUP}
    assert not any(len(g.keys) == 1 and g.keys[0] in small for g in shown)  # a small group never stands alone
    assert sorted(k for g in shown for k in g.keys) == sorted(k for k, count, _c in raw if count)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 5_000_00)), max_size=30))
def test_periods_shown_hold_five_grants_each_cover_every_week_and_add_up(weeks):
    start = date(2026, 6, 1)
    periods = [Period(start + timedelta(weeks=n), start + timedelta(weeks=n, days=6), count, cents if count else 0)
               for n, (count, cents) in enumerate(weeks)]
    merged = merge_small_periods(periods)
    total = sum(p.count for p in periods)
    if total < MINIMUM_GROUP:
        assert merged == []
        return
    assert all(p.count >= MINIMUM_GROUP for p in merged)
    assert sum(p.count for p in merged) == total and sum(p.cents for p in merged) == sum(p.cents for p in periods)
    assert merged[0].start == periods[0].start and merged[-1].end == periods[-1].end
    assert all(a.end + timedelta(days=1) == b.start for a, b in zip(merged, merged[1:]))  # no gaps, no overlaps


def test_a_category_with_four_grants_never_appears_alone_on_the_public_page(client, fund, grants):  # noqa: F811
    gift(fund, 20_000_00, TODAY - timedelta(days=60))
    for n in range(6):
        grants(100_00 + n, category="rent", day=TODAY - timedelta(days=3 * n))
    for n in range(4):
        grants(250_00, category="medical", worksite="South", day=TODAY - timedelta(days=2 * n))
    found = figures.public_figures(fund, TODAY)
    # 4 medical grants are too few alone; merged they are still 4, so the 6 rent grants join them.
    assert [(g.keys, g.count) for g in found.categories] == [(("medical", "rent"), 10)]
    page = client.get("/transparency").get_data(as_text=True)
    assert "Medical" not in page and "South" not in page and "$250.00" not in page
    assert "Other needs, merged" in page
    figure = dict(re.findall(r'data-figure="([a-z]+)">([^<]+)<', page))
    assert figure["granted"] == f"${amount_text(ledger.balance(fund, 'Expenses:HardshipGrants'))}"
    assert figure["raised"] == "$20,000.00"
    assert all(p.count >= MINIMUM_GROUP for p, _gifts in found.periods)
    assert sum(gifts for _p, gifts in found.periods) == -ledger.balance(fund, "Income:Donations")
    for name in ("categories", "periods"):
        assert client.get(f"/transparency/{name}.svg").status_code == 200


def test_with_fewer_than_five_grants_the_public_page_shows_no_amount_granted(client, fund, grants):  # noqa: F811
    gift(fund, 1_000_00, TODAY - timedelta(days=10))
    grants(321_00, day=TODAY - timedelta(days=1))
    page = client.get("/transparency").get_data(as_text=True)
    assert "$321.00" not in page and "1 grant" in page
    assert "The breakdown appears once there are 5 grants." in page
    assert client.get("/transparency/categories.svg").status_code == 404


def test_the_public_figures_are_reused_until_the_books_change(fund, grants):  # noqa: F811
    gift(fund, 5_000_00, TODAY - timedelta(days=9))
    for n in range(5):
        grants(100_00, day=TODAY - timedelta(days=n))
    first = figures.public_figures_cached(fund, TODAY)
    assert figures.public_figures_cached(fund, TODAY) is first  # nothing new: the same figures, not summed again
    grants(100_00, day=TODAY)
    fresh = figures.public_figures_cached(fund, TODAY)
    assert fresh is not first and (fresh.grants, fresh.granted_cents) == (6, 600_00)
