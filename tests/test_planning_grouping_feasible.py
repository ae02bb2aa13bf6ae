"""`groupable` (is there any grouping of the buildings within the size rule?) against brute force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridplanner.planning.quality import groupable
from gridplanner.planning.rules import SizeRule

RULE = SizeRule(300, 500)


def _partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in _partitions(rest):
        for i in range(len(p)):
            yield p[:i] + [[first, *p[i]]] + p[i + 1:]
        yield [[first], *p]


def _brute(items, rule):
    items = [x for x in items if x > 0]
    return bool(items) and any(all(rule.within(sum(g)) for g in p) for p in _partitions(items))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 520), min_size=1, max_size=8))
def test_groupable_agrees_with_every_partition(items):
    assert groupable(items, RULE) == _brute(items, RULE)


def test_a_tower_estate_no_grouping_fits():
    # Shenzhen Nanshan 440305002007 (less its 876-household tower): the three towers of ~292 can be in no
    # grid within [300, 500], whatever the boundaries.
    assert not groupable([441, 414, 394, 294, 292, 291], RULE)
    assert groupable([441, 414, 394, 294, 292, 291, 30, 20, 15], RULE)


def test_undecided_counts_as_groupable():
    # Beyond the search's budget the answer is "can": a part is left out of the figures only when proven.
    towers = [290] * 25
    assert not groupable(towers, RULE)
    assert groupable(towers, RULE, budget=0)
