"""How well a set of grids keeps the size rule, judged the same way for the division engine, the merge and
any other method: the share of basic grids within bounds, over all and where the bounds can be met at all.

Where the rule can be met: a grid is left out of "within where feasible" when

* it holds a building with more households than the maximum (no grid holding it can be within bounds), or
* it lies in a community part (a connected piece of a community) whose households, less those of such
  buildings, no number of grids could share within bounds: for no k ≥ 1 is k × min ≤ households ≤ k × max
  (a part with fewer households than the minimum among them).

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
    part_hh = np.zeros(len(parts))
    keep = ~giant[b]
    np.add.at(part_hh, p[keep], households[b[keep]])
    part_ok = np.array([bool(feasible([h], rule_of[codes[c]])[0]) for h, c in zip(part_hh, part_comm)], dtype=bool)
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
