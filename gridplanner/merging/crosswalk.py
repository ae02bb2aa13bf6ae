"""The crosswalk: how each department grid's area (and households) is shared out among the unified grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.overlay import DUST_M2
from gridplanner.merging.layers import Clip, Layer

COLUMNS = [
    "department",
    "department_grid_id",
    "grid_index",
    "grid_code",
    "shared_area_m2",
    "share_of_department_grid",
    "share_of_unified_grid",
    "shared_households",
]


def crosswalk_layer(layer: Layer, clip: Clip, grids: np.ndarray, tree: shapely.STRtree, points: np.ndarray,
                    point_grid: np.ndarray, households: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Rows (department grid, unified grid) with their shared area and households, and their completeness.

    ``points``/``point_grid``/``households``: buildings' inner points, the unified grid each lies in, and
    their households. Unified grids cover the communities exactly, so one department grid's shared areas add
    up to its area inside the communities.
    """
    d, g = tree.query(layer.geoms, predicate="intersects")
    # A unified grid wholly inside the department grid shares all its area: no overlay needed for those pairs.
    wd, wg = tree.query(layer.geoms, predicate="contains")
    whole = np.isin(d * len(grids) + g, wd * len(grids) + wg)
    shared = shapely.area(grids[g])
    cut = np.flatnonzero(~whole)
    shared[cut] = shapely.area(shapely.intersection(layer.geoms[d[cut]], grids[g[cut]]))
    real = shared > DUST_M2
    d, g, shared = d[real], g[real], shared[real]
    table = pd.DataFrame({"d": d, "grid_index": g, "shared_area_m2": shared})
    table["shared_households"] = 0.0
    if len(points):
        # Query with this layer's grids (prepared in this thread), not with the points other threads share.
        pd_, p = shapely.STRtree(points).query(layer.geoms, predicate="intersects")
        placed = point_grid[p] >= 0
        hh = pd.DataFrame({"d": pd_[placed], "grid_index": point_grid[p][placed], "h": households[p][placed]})
        hh = hh.groupby(["d", "grid_index"], as_index=False)["h"].sum()
        table = table.drop(columns="shared_households").merge(hh, on=["d", "grid_index"], how="left")
        table = table.rename(columns={"h": "shared_households"}).fillna({"shared_households": 0.0})
    clipped = clip.clipped_area[table["d"].to_numpy()]
    table["share_of_department_grid"] = np.divide(table["shared_area_m2"], clipped, out=np.zeros(len(table)), where=clipped > 0)
    table["share_of_unified_grid"] = table["shared_area_m2"].to_numpy() / shapely.area(grids[table["grid_index"].to_numpy()])
    table["department"] = layer.name
    table["department_grid_id"] = layer.ids[table["d"].to_numpy()]
    table["grid_code"] = None
    return table[COLUMNS], completeness(table["d"].to_numpy(), table["shared_area_m2"].to_numpy(), clip.clipped_area)


def completeness(dept: np.ndarray, shared: np.ndarray, clipped: np.ndarray) -> dict:
    """How well shared areas account for each department grid's area inside the communities (relative error)."""
    inside = np.flatnonzero(clipped > DUST_M2)
    got = np.bincount(dept, weights=shared, minlength=len(clipped))
    err = np.abs(got[inside] - clipped[inside]) / clipped[inside] if len(inside) else np.zeros(0)
    return {
        "grids": int(len(inside)),
        "max_relative_error": float(err.max()) if len(err) else 0.0,
        "grids_off_by_more_than_0.1%": int((err > 0.001).sum()),
    }
