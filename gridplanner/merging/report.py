"""The conflict report: JSON-ready entries (lon/lat instead of metric points) and the result's self-checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.coverage import unmatched_edges
from gridplanner.merging import assemble as asm


def tag(entries: list[dict], code: str) -> list[dict]:
    """``entries`` each marked with the community they were found in."""
    return [{"community_code": code, **e} for e in entries]


def located(entry: dict, transformer: Transformer) -> dict:
    """``entry`` with its metric point replaced by lon/lat and areas rounded: JSON-ready."""
    out = {k: v for k, v in entry.items() if k != "point"}
    for key in ("area_m2", "width_m"):
        if key in out:
            out[key] = round(float(out[key]), 2)
    if "point" in entry:
        x, y = transformer.transform(entry["point"].x, entry["point"].y)
        out["lon"], out["lat"] = round(x, 7), round(y, 7)
    return out


def mapped_to_several(crosswalk: pd.DataFrame, min_area: float) -> list[dict]:
    """Department grids whose area goes, beyond sliver size and 1 %, to two or more unified grids."""
    real = crosswalk[(crosswalk["shared_area_m2"] >= min_area) & (crosswalk["share_of_department_grid"] >= 0.01)]
    real = real.sort_values(["department", "department_grid_id"], kind="stable")
    key = (real["department"] + "\x00" + real["department_grid_id"].astype(str)).to_numpy()
    if len(key) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    dept, gid, idx = real["department"].to_numpy(), real["department_grid_id"].to_numpy(), real["grid_index"].to_numpy()
    return [{"department": dept[a], "department_grid_id": str(gid[a]), "grid_indices": idx[a : a + n].tolist()}
            for a, n in zip(starts[sizes > 1], sizes[sizes > 1])]


def summary(grids, grid_comm, comm_geoms, table, report, min_area, min_width) -> dict:
    """Checks on the result: coverage validity, gaps, slivers, single polygons, containment."""
    per_comm = np.bincount(grid_comm, weights=shapely.area(grids), minlength=len(comm_geoms)) if len(grids) else np.zeros(len(comm_geoms))
    comm_area = shapely.area(comm_geoms)
    outside = np.zeros(len(grids))
    if len(grids):
        shapely.prepare(comm_geoms)
        # Only grids not plainly inside their community need the (costly) difference.
        loose = np.flatnonzero(~shapely.covers(comm_geoms[grid_comm], grids))
        outside[loose] = shapely.area(shapely.difference(grids[loose], comm_geoms[grid_comm[loose]]))
    return {
        "grids": int(len(grids)),
        "communities": int(len(comm_geoms)),
        "coverage_valid": not unmatched_edges(grids).any() if len(grids) else True,
        "max_community_area_difference_m2": float(np.abs(per_comm - comm_area).max()) if len(comm_area) else 0.0,
        "all_single_polygons": bool((shapely.get_type_id(grids) == 3).all()),
        "max_area_outside_own_community_m2": float(outside.max()) if len(outside) else 0.0,
        "slivers_left": int(asm.is_sliver(grids, min_area, min_width).sum()),
        "overlaps_within_departments": len(report["overlaps"]),
        "uncovered_areas": len(report["uncovered"]),
        "department_grids_crossing_community_lines": len(report["crossing_community_lines"]),
        "slivers_absorbed": len(report["slivers_absorbed"]),
        "department_grids_mapped_to_several": len(report["split_department_grids"]),
        "repairs": len(report["repairs"]),
        "households_total": int(table["households"].sum()) if len(table) else 0,
    }
