"""What members and the public see: the books' totals, and never a group of fewer than five grants."""
from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fundapp.funds import clock
from fundapp.ledger import services as ledger
from fundapp.reporting import figures
from fundapp.reporting.privacy import MINIMUM_GROUP, Period, complete_periods, merge_small_groups
from reports.style import amount_text
from tests.factories import gift

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
def test_published_periods_hold_five_grants_each_and_only_ever_grow_by_whole_periods(weeks):
    start = date(2026, 6, 1)
    periods = [Period(start + timedelta(weeks=n), start + timedelta(weeks=n, days=6), count, cents if count else 0)
               for n, (count, cents) in enumerate(weeks)]
    published = complete_periods(periods)
    assert all(p.count >= MINIMUM_GROUP for p in published)
    if published:
        assert published[0].start == periods[0].start
        assert all(a.end + timedelta(days=1) == b.start for a, b in zip(published, published[1:], strict=False))  # no gaps
        covered = [p for p in periods if p.end <= published[-1].end]
        assert sum(p.count for p in published) == sum(p.count for p in covered)
        assert sum(p.cents for p in published) == sum(p.cents for p in covered)
    held_back = sum(p.count for p in periods) - sum(p.count for p in published)
    assert 0 <= held_back < MINIMUM_GROUP  # what waits is always too few to publish alone
    # Comparing today's edition with any later one (more weeks) shows only whole new periods of >= 5.
    for more in range(len(periods) + 1):
        earlier = complete_periods(periods[:more])
        assert published[:len(earlier)] == earlier


def _finished(fund, weeks_ago: int, day: int = 0) -> date:
    """A day in a week that is over, ``weeks_ago`` weeks before this one (day 0 is its Monday)."""
    return figures.week_start(clock.today(fund)) - timedelta(weeks=weeks_ago) + timedelta(days=day)


def test_a_category_with_four_grants_never_appears_alone_on_the_public_page(client, fund, grants):  # noqa: F811
    today = clock.today(fund)
    gift(fund, 20_000_00, _finished(fund, 8))
    for n in range(6):
        grants(100_00 + n, category="rent", day=_finished(fund, 2 + n % 2, n))
    for n in range(4):
        grants(250_00, category="medical", worksite="South", day=_finished(fund, 2, n))
    grants(999_00, category="food", day=today)  # this week is not over: not published yet
    found = figures.public_figures(fund, today)
    # 4 medical grants are too few alone; merged they are still 4, so the 6 rent grants join them.
    assert [(g.keys, g.count) for g in found.categories] == [(("medical", "rent"), 10)]
    assert found.grants_to == _finished(fund, 2, 6)  # the week after holds no grant: it waits
    page = client.get("/transparency").get_data(as_text=True)
    assert "Medical" not in page and "South" not in page and "$250.00" not in page and "$999.00" not in page
    assert "Other needs, merged" in page
    figure = dict(re.findall(r'data-figure="([a-z]+)">([^<]+)<', page))
    published = ledger.balance(fund, "Expenses:HardshipGrants", found.grants_to)
    assert figure["granted"] == f"${amount_text(published)}" and published == 6 * 100_00 + 15 + 4 * 250_00
    assert figure["raised"] == "$20,000.00"
    assert all(p.count >= MINIMUM_GROUP for p, _gifts in found.periods)
    assert sum(gifts for _p, gifts in found.periods) == -ledger.balance(fund, "Income:Donations")
    for name in ("categories", "periods"):
        assert client.get(f"/transparency/{name}.svg").status_code == 200


def test_with_fewer_than_five_grants_the_public_page_shows_no_grant_at_all(client, fund, grants):  # noqa: F811
    gift(fund, 1_000_00, _finished(fund, 3))
    grants(321_00, day=_finished(fund, 2))
    for _n in range(6):
        grants(50_00, day=clock.today(fund))  # many, but this week is not over
    page = client.get("/transparency").get_data(as_text=True)
    assert "$321.00" not in page and "$50.00" not in page and "Grants appear here once at least 5" in page
    assert "The breakdown appears once there are 5 grants." in page
    assert client.get("/transparency/categories.svg").status_code == 404


def test_the_public_figures_are_reused_until_the_records_change(fund, grants):  # noqa: F811
    today = clock.today(fund)
    gift(fund, 5_000_00, _finished(fund, 4))
    for n in range(5):
        grants(100_00, day=_finished(fund, 2, n))
    first = figures.public_figures_cached(fund, today)
    assert figures.public_figures_cached(fund, today) is first  # nothing new: the same figures, not summed again
    assert (first.grants, first.granted_cents) == (5, 500_00)
    for n in range(5):
        grants(100_00, day=_finished(fund, 1, n))
    fresh = figures.public_figures_cached(fund, today)
    assert fresh is not first and (fresh.grants, fresh.granted_cents) == (10, 1_000_00)
