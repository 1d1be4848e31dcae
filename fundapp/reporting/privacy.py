"""Small-group suppression for everything members or the public see (DESIGN 5: privacy is graded).

No group of fewer than MINIMUM_GROUP grants is ever shown on its own: small groups
are merged, and a merged group still too small takes in the smallest shown group
too. Merging keeps the totals whole, so the figures still add up to the books, and
every group shown holds at least MINIMUM_GROUP grants, so subtracting the shown
groups from the total never isolates fewer. With fewer grants than that in all,
nothing is broken down at all.

Figures are also compared over time (the page reloaded, the report issued again),
so what is published moves only in whole periods: finished weeks joined until they
hold MINIMUM_GROUP grants. Grants of the weeks after the last such period wait.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MINIMUM_GROUP = 5


@dataclass(frozen=True)
class Group:
    keys: tuple[str, ...]  # the groups merged into this one (one key when not merged)
    count: int
    cents: int

    @property
    def merged(self) -> bool:
        return len(self.keys) > 1


def merge_small_groups(groups: list[tuple[str, int, int]], minimum: int = MINIMUM_GROUP) -> list[Group]:
    """(key, count, cents) groups -> groups of at least ``minimum``, the merged one last."""
    groups = [g for g in groups if g[1] > 0]
    if sum(count for _k, count, _c in groups) < minimum:
        return []
    shown = sorted((g for g in groups if g[1] >= minimum), key=lambda g: (-g[2], g[0]))
    small = [g for g in groups if g[1] < minimum]
    if not small:
        return [Group((key,), count, cents) for key, count, cents in shown]
    keys = [key for key, _count, _cents in small]
    count, cents = sum(g[1] for g in small), sum(g[2] for g in small)
    while count < minimum:  # take in the smallest shown group (the total is at least ``minimum``)
        smallest = min(shown, key=lambda g: (g[1], g[2], g[0]))
        shown.remove(smallest)
        keys.append(smallest[0])
        count, cents = count + smallest[1], cents + smallest[2]
    return [*(Group((key,), n, c) for key, n, c in shown), Group(tuple(keys), count, cents)]


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    count: int
    cents: int


def complete_periods(periods: list[Period], minimum: int = MINIMUM_GROUP) -> list[Period]:
    """Consecutive periods joined until each holds at least ``minimum`` grants; a tail short of that is
    held back, not merged, so that figures published again later only ever grow by whole periods of at
    least ``minimum`` grants (comparing two editions never isolates fewer)."""
    merged: list[Period] = []
    run: Period | None = None
    for period in periods:
        run = period if run is None else Period(run.start, period.end, run.count + period.count,
                                                run.cents + period.cents)
        if run.count >= minimum:
            merged.append(run)
            run = None
    return merged
