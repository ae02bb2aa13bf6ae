"""How well a set of grids keeps the size rule, judged the same way for the division engine, the merge and
any other method: the share of basic grids within bounds, over all and where the bounds can be met at all.

Where the rule can be met: a grid is left out of "within where feasible" when

* it holds a building with more households than the maximum (no grid holding it can be within bounds), or
* it lies in a community part (a connected piece of a community) whose buildings, less such ones, cannot be
  put in groups all within bounds even ignoring where they stand (:func:`groupable`): for no k ≥ 1 is
  k × min ≤ households ≤ k × max (a part with fewer households than the minimum, among them), or the
  buildings are too coarse (three towers of 290 households, min 300 and max 500: alone each is too small,
  any two too large). Grouping ignoring place is necessary for any division, so a part left out could not
  be divided within bounds by any method; where the search cannot decide it within its budget the part counts.

Households are the division engine's (:func:`gridplanner.planning.households.estimate_households`) and a
building counts in the community part holding its representative point.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import STRtree

from gis.crs import to_storage
from gis.metrics import coefficient_of_variation
from gridplanner.planning.households import estimate_households
from gridplanner.planning.rules import SizeRule, rule_for


def feasible(households, rule: SizeRule) -> np.ndarray:
    """Whether each count of households can be shared by grids all within the rule: some k ≥ 1 with
    k × min ≤ households ≤ k × max.

    >>> feasible([250, 450, 550, 1300], SizeRule(300, 500)).tolist()
    [False, True, False, True]
    """
    h = np.asarray(households, dtype=float)
    return (h >= rule.min_households) & (np.ceil(h / rule.max_households) <= np.floor(h / rule.min_households))


#: Steps of the exact search in :func:`groupable` before it gives up (and answers "can").
GROUPING_BUDGET = 20_000
#: Buildings above which only the quick grouping is tried (answering "can" when it fails).
GROUPING_EXACT_MAX = 40


def groupable(households, rule: SizeRule, *, budget: int = GROUPING_BUDGET) -> bool:
    """Whether buildings with these households can be put in groups each within the rule, ignoring where
    they stand: a condition every division of them within bounds meets. Answers True when a grouping is found
    and when none is proven impossible within ``budget`` search steps, so False is always proven.

    >>> groupable([290, 292, 294, 441], SizeRule(300, 500))  # each ~290 too small alone, any two too large
    False
    >>> groupable([290, 292, 294, 150, 120, 60], SizeRule(300, 500))
    True
    >>> groupable([485, 476, 44, 36, 27], SizeRule(300, 500))  # 107 left over, and no tower takes it
    False
    """
    lo, hi = rule.min_households, rule.max_households
    h = sorted((int(x) for x in households if x > 0), reverse=True)
    total = sum(h)
    if not feasible([total], rule)[0] or (h and h[0] > hi):
        return False
    if _greedy_grouping(h, lo, hi):
        return True
    if len(h) > GROUPING_EXACT_MAX:
        return True
    try:
        return _exact_grouping(tuple(h), lo, hi, [budget], {})
    except _Undecided:
        return True


def _greedy_grouping(h: list[int], lo: int, hi: int) -> bool:
    """Try a few group counts k: fill each group largest-first towards total / k without passing max."""
    total = sum(h)
    for k in range(int(np.ceil(total / hi)), int(total // lo) + 1):
        target = total / k
        left = list(h)
        ok = True
        for g in range(k):
            if g == k - 1:
                ok = lo <= sum(left) <= hi
                break
            s, keep = 0, []
            for x in left:
                if s < target and s + x <= hi:
                    s += x
                else:
                    keep.append(x)
            if not lo <= s <= hi:
                ok = False
                break
            left = keep
        if ok:
            return True
        if k - np.ceil(total / hi) >= 3:
            break
    return False


class _Undecided(Exception):
    pass


def _exact_grouping(h: tuple[int, ...], lo: int, hi: int, budget: list[int], memo: dict) -> bool:
    """Exhaustive: the largest building opens a group and every way of completing it is tried."""
    if not h:
        return True
    if h in memo:
        return memo[h]
    budget[0] -= 1
    if budget[0] < 0:
        raise _Undecided
    first, rest = h[0], h[1:]
    found = False

    def complete(i: int, s: int, taken: list[int]) -> bool:
        if lo <= s <= hi:
            left = [x for j, x in enumerate(rest) if j not in taken]
            if not left or feasible([sum(left)], SizeRule(lo, hi))[0]:
                if _exact_grouping(tuple(left), lo, hi, budget, memo):
                    return True
        if s >= hi:
            return False
        prev = None
        for j in range(i, len(rest)):
            x = rest[j]
            if x == prev or s + x > hi:  # equal households give the same groupings: try one
                continue
            prev = x
            budget[0] -= 1
            if budget[0] < 0:
                raise _Undecided
            if complete(j + 1, s + x, taken + [j]):
                return True
        return False

    found = complete(0, first, [])
    memo[h] = found
    return found


def size_figures(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None,
                 rules: SizeRule | dict[str, SizeRule], *, code_field: str = "code", class_field: str = "class") -> dict:
    """The size figures of ``grids`` (with ``community_code``, ``households`` and ``type``): basic grids,
    within bounds (share), where feasible (count, share), the CV of households over all basic grids and over
    those where the rule can be met, and a ``feasible`` flag per grid (array in the grids' order)."""
    grids = to_storage(grids)
    comm = to_storage(communities).reset_index(drop=True)
    codes = comm[code_field].astype(str).tolist()
    classes = comm[class_field].tolist() if class_field in comm else [None] * len(comm)
    rule_of = {c: rule_for(rules, k) for c, k in zip(codes, classes)}
    g_codes = grids["community_code"].astype(str).tolist()
    hh = grids["households"].to_numpy(dtype=float)
    lo = np.array([rule_of[c].min_households if c in rule_of else 0 for c in g_codes], dtype=float)
    hi = np.array([rule_of[c].max_households if c in rule_of else np.inf for c in g_codes], dtype=float)
    basic = (grids["type"] == "basic").to_numpy() if "type" in grids else np.ones(len(grids), dtype=bool)
    ok = _feasible_grids(grids, comm, codes, buildings, rule_of)
    within = (hh >= lo) & (hh <= hi)
    counted = basic & ok
    return {
        "basic_grids": int(basic.sum()),
        "within": int((basic & within).sum()),
        "share_within": float((basic & within).sum() / max(basic.sum(), 1)),
        "feasible_grids": int(counted.sum()),
        "within_where_feasible": int((counted & within).sum()),
        "share_within_feasible": float((counted & within).sum() / counted.sum()) if counted.any() else float("nan"),
        "cv": coefficient_of_variation(hh[basic]),
        "cv_where_feasible": coefficient_of_variation(hh[counted]),
        "largest": int(hh[basic].max()) if basic.any() else 0,
        "feasible": ok,
    }


def _feasible_grids(grids, comm, codes, buildings, rule_of) -> np.ndarray:
    n = len(grids)
    if buildings is None or len(buildings) == 0:
        return np.ones(n, dtype=bool)
    bld = to_storage(buildings).reset_index(drop=True)
    households, _, _ = estimate_households(bld)
    points = shapely.point_on_surface(np.asarray(bld.geometry.values, dtype=object))
    parts, part_comm = shapely.get_parts(np.asarray(comm.geometry.values, dtype=object), return_index=True)
    b, p = STRtree(parts).query(points, predicate="intersects")
    first = np.unique(b, return_index=True)[1]  # a point on a line between two parts counts once
    b, p = b[first], p[first]
    giant = np.zeros(len(bld), dtype=bool)
    giant[b] = households[b] > np.array([rule_of[codes[c]].max_households for c in part_comm[p]])
    keep = ~giant[b]
    in_part = [households[b[keep][p[keep] == k]] for k in range(len(parts))]
    part_ok = np.array([groupable(h, rule_of[codes[c]]) for h, c in zip(in_part, part_comm)], dtype=bool)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    tree = STRtree(geoms)
    # Grids holding an over-maximum building cannot be within bounds.
    holds_giant = np.zeros(n, dtype=bool)
    if giant.any():
        gi, gg = tree.query(points[giant], predicate="intersects")
        holds_giant[gg] = True
    # A grid counts when it lies (by more than a sliver) in some feasible part of its own community.
    g, q = STRtree(parts).query(geoms, predicate="intersects")
    own = np.asarray(codes, dtype=object)[part_comm[q]] == grids["community_code"].astype(str).to_numpy()[g]
    share = shapely.area(shapely.intersection(geoms[g], parts[q])) / np.maximum(shapely.area(geoms[g]), 1e-300)
    in_feasible = np.zeros(n, dtype=bool)
    in_feasible[g[own & (share > 1e-6) & part_ok[q]]] = True
    return in_feasible & ~holds_giant
