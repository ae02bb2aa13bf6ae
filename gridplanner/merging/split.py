"""Oversized unified grids are split by the division engine, each treated as a community of its own."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from gis.overlay import DUST_M2, polygonal
from gridplanner.planning import SizeRule, divide

log = logging.getLogger("gridplanner.merging")


def split_oversized(grids: np.ndarray, households: np.ndarray, point_grid: np.ndarray, buildings: gpd.GeoDataFrame,
                    rows: np.ndarray, rule: SizeRule, crs: CRS, *, runner=None) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """New polygons (in ``crs``) for every grid over ``rule.max_households`` that the engine could split, keyed by
    grid index, and the engine's reason for each grid it left whole or out of bounds.

    ``point_grid`` is the grid holding each building's inner point; ``rows`` its row in ``buildings``
    (the caller's table, whose households/population/floors/use fields the division engine reads).
    One call to :func:`gridplanner.planning.divide` covers all oversized grids at once (on ``runner``, see
    :mod:`gridplanner.compute`).
    """
    over = np.flatnonzero(households > rule.max_households)
    if len(over) == 0:
        return {}, {}
    pieces = gpd.GeoDataFrame({"code": [str(i) for i in over]}, geometry=gpd.GeoSeries(grids[over], crs=crs))
    inside = np.isin(point_grid, over)
    try:
        plan = divide(pieces, buildings.iloc[rows[inside]].reset_index(drop=True), rules=rule, runner=runner)
    except Exception as exc:  # a fault of ours, never the user's input: the grids stay whole, and it is logged
        log.exception("splitting %d oversized merged grids failed", len(over))
        return {}, {int(i): f"not split: internal error {type(exc).__name__}: {exc}" for i in over}
    out = plan.grids.to_crs(crs)
    key = out["community_code"].astype(int).to_numpy()
    geoms = out.geometry.values.to_numpy()
    # A grid with a near-zero-width spike, valid in lon/lat, can come back with a tiny self-crossing loop.
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    geoms[bad] = shapely.make_valid(geoms[bad])
    # The engine works in lon/lat: trim the round trip's rounding that pokes out of the piece (the community's
    # coverage clean closes what falls short).
    geoms = polygonal(shapely.intersection(geoms, grids[key]))
    parts = {int(i): geoms[(key == i) & (shapely.area(geoms) > DUST_M2)] for i in over}
    reasons = {int(o["community_code"]): o["reason"] for o in plan.report["out_of_bounds"]}
    # A grid the engine leaves whole keeps its own geometry (not the lon/lat round trip's copy).
    return {i: p for i, p in parts.items() if len(p) > 1}, reasons
