"""Live validation of a draft's grids: gaps and overlaps per community, grids outside the size rule, grids
crossing their community's boundary, invalid or multipart geometry.

Pure: GeoDataFrames in (EPSG:4490), a JSON-friendly dict out, areas in m² measured in the district's
Gauss–Krüger zone; problem areas come back as GeoJSON features in lon/lat.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from shapely import STRtree

from gis.coverage import coverage_problems
from gis.crs import projected_crs_for
from gridplanner.planning import SizeRule

#: Gaps, overlaps and overhangs smaller than this are rounding, not problems worth drawing.
MIN_AREA_M2 = 1.0


def _features(geoms, crs, props: list[dict]) -> dict:
    if not len(props):
        return {"type": "FeatureCollection", "features": []}
    frame = gpd.GeoDataFrame(props, geometry=list(geoms), crs=crs).to_crs(4490)
    return json.loads(frame.to_json(drop_id=True))


def validate_grids(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, rules: dict[str, SizeRule], *, min_area_m2: float = MIN_AREA_M2) -> dict:
    """Check ``grids`` (id, code, community_code, type, households, geometry) against ``communities`` (code,
    class, geometry) and the size ``rules`` by community class (dedicated grids have no size rule)."""
    out = {"ok": True, "communities": [], "gaps": None, "overlaps": None, "out_of_bounds": [], "crossing": [], "invalid": []}
    empty = {"type": "FeatureCollection", "features": []}
    if communities.empty:
        out["gaps"], out["overlaps"] = empty, empty
        return out
    crs = projected_crs_for(communities)
    g = grids.to_crs(crs)
    c = communities.to_crs(crs).set_index("code")
    gap_geoms, gap_props, over_geoms, over_props = [], [], [], []
    geoms = np.asarray(g.geometry.values, dtype=object)
    valid = shapely.is_valid(geoms) & ~shapely.is_empty(geoms)
    single = shapely.get_type_id(geoms) == 3
    for i in np.flatnonzero(~valid | ~single):
        reason = shapely.is_valid_reason(geoms[i]) if not valid[i] else f"{geoms[i].geom_type}, not a single polygon"
        out["invalid"].append({"grid_id": int(g["id"].iloc[i]), "code": g["code"].iloc[i], "community_code": g["community_code"].iloc[i], "reason": reason})
    fixed = np.where(valid, geoms, shapely.make_valid(geoms))
    for code in sorted(set(c.index) & set(g["community_code"])):
        rows = np.flatnonzero((g["community_code"] == code).to_numpy())
        region = c.geometry.loc[code]
        polys = fixed[rows]
        summary = coverage_problems(polys, region)
        union = shapely.union_all(polys)
        gaps = shapely.get_parts(shapely.difference(region, union))
        for gap in gaps[shapely.area(gaps) >= min_area_m2]:
            gap_geoms.append(gap)
            gap_props.append({"problem": "gap", "community_code": code, "area_m2": round(float(gap.area), 1)})
        tree = STRtree(polys)
        left, right = tree.query(polys, predicate="intersects")
        for a, b in zip(left, right):
            if a < b:
                piece = shapely.intersection(polys[a], polys[b])
                if piece.area >= min_area_m2:
                    over_geoms.append(piece)
                    over_props.append({"problem": "overlap", "community_code": code, "grid_ids": [int(g["id"].iloc[rows[a]]), int(g["id"].iloc[rows[b]])], "area_m2": round(float(piece.area), 1)})
        outside = shapely.area(shapely.difference(polys, region))
        for k in np.flatnonzero(outside >= min_area_m2):
            r = g.iloc[rows[k]]
            out["crossing"].append({"grid_id": int(r["id"]), "code": r["code"], "community_code": code, "outside_area_m2": round(float(outside[k]), 1)})
        rule = rules.get(c.loc[code].get("class") or "urban") or rules.get("urban")
        for k in rows:
            r = g.iloc[k]
            if rule is None or r.get("type") == "dedicated":
                continue
            hh = int(r["households"] or 0)
            if not rule.min_households <= hh <= rule.max_households:
                out["out_of_bounds"].append(
                    {"grid_id": int(r["id"]), "code": r["code"], "community_code": code, "households": hh, "status": "too small" if hh < rule.min_households else "too large",
                     "rule": {"min_households": rule.min_households, "max_households": rule.max_households}}
                )  # fmt: skip
        out["communities"].append(
            {"community_code": code, "grids": int(len(rows)), "gap_area_m2": round(summary["gap_area"], 1), "overlap_area_m2": round(summary["overlap_area"], 1),
             "outside_area_m2": round(summary["outside_area"], 1), "coverage_ok": bool(summary["gap_area"] < min_area_m2 and summary["overlap_area"] < min_area_m2 and summary["outside_area"] < min_area_m2)}
        )  # fmt: skip
    for code in sorted(set(g["community_code"]) - set(c.index)):
        for k in np.flatnonzero((g["community_code"] == code).to_numpy()):
            out["crossing"].append({"grid_id": int(g["id"].iloc[k]), "code": g["code"].iloc[k], "community_code": code, "outside_area_m2": round(float(fixed[k].area), 1), "reason": "unknown community"})
    out["gaps"] = _features(gap_geoms, crs, gap_props)
    out["overlaps"] = _features(over_geoms, crs, over_props)
    out["summary"] = {
        "gaps": len(gap_props),
        "gap_area_m2": round(sum(p["area_m2"] for p in gap_props), 1),
        "overlaps": len(over_props),
        "overlap_area_m2": round(sum(p["area_m2"] for p in over_props), 1),
        "out_of_bounds": len(out["out_of_bounds"]),
        "crossing": len(out["crossing"]),
        "invalid": len(out["invalid"]),
    }
    # Size is a rule of thumb a planner may knowingly break; gaps, overlaps and bad shapes are errors.
    out["ok"] = not (gap_props or over_props or out["crossing"] or out["invalid"])
    out["size_ok"] = not out["out_of_bounds"]
    return out
