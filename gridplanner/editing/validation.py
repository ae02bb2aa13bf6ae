"""Live validation of a draft's grids: gaps and overlaps per community, grids outside the size rule, grids
crossing their community's boundary, invalid or multipart geometry.

Pure: GeoDataFrames in (EPSG:4490), a JSON-friendly dict out. Gaps and overlaps are cut in lon/lat, where the
stored edges are straight, and only then measured in m² in the district's Gauss–Krüger zone: projecting first
would bend long edges differently from their subdivided neighbours and invent slivers of a few m² per km.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from shapely import STRtree

from gis.coverage import coverage_problems
from gis.crs import STORAGE_CRS, projected_crs_for
from gridplanner.planning import SizeRule

#: Gaps, overlaps and overhangs smaller than this are rounding, not problems worth drawing.
MIN_AREA_M2 = 1.0


def _features(geoms, props: list[dict]) -> dict:
    if not len(props):
        return {"type": "FeatureCollection", "features": []}
    return json.loads(gpd.GeoDataFrame(props, geometry=list(geoms), crs=STORAGE_CRS).to_json(drop_id=True))


def _m2(geoms, crs) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return np.zeros(0)
    return gpd.GeoSeries(geoms, crs=STORAGE_CRS).to_crs(crs).area.to_numpy()


def balance(households: np.ndarray, rule: SizeRule | None) -> dict:
    """The balance of one community's basic grids, as districting tools report it: how many, their households,
    the mean, the largest deviation from the rule's target in per cent and the standard deviation.

    >>> balance(np.array([320.0, 400.0, 480.0]), SizeRule(300, 500))
    {'basic_grids': 3, 'households': 1200, 'mean_households': 400.0, 'target_households': 400, 'max_deviation_pct': 20.0, 'sd_households': 65.3}
    """
    n = len(households)
    target = rule.target if rule is not None else None
    return {
        "basic_grids": int(n), "households": int(households.sum()), "mean_households": round(float(households.mean()), 1) if n else None,
        "target_households": target,
        "max_deviation_pct": round(float(np.abs(households - target).max() / target * 100), 1) if n and target else None,
        "sd_households": round(float(households.std()), 1) if n else None,
    }


def validate_grids(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, rules: dict[str, SizeRule], *, min_area_m2: float = MIN_AREA_M2) -> dict:
    """Check ``grids`` (id, code, community_code, type, households, geometry) against ``communities`` (code,
    class, geometry) and the size ``rules`` by community class (dedicated grids have no size rule)."""
    out = {"ok": True, "communities": [], "gaps": None, "overlaps": None, "out_of_bounds": [], "crossing": [], "invalid": []}
    empty = {"type": "FeatureCollection", "features": []}
    if communities.empty:
        out["gaps"], out["overlaps"] = empty, empty
        return out
    crs = projected_crs_for(communities)
    g = grids.to_crs(STORAGE_CRS)
    c = communities.to_crs(STORAGE_CRS).set_index("code")
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
        # Edges that do not meet their neighbours' vertex for vertex (a T-junction left by a split): harmless
        # for area, reported so a clean-up can find them.
        mismatched = coverage_problems(polys)["invalid_edges"]
        union = shapely.union_all(polys)
        gaps = shapely.get_parts(shapely.difference(region, union))
        gap_m2 = _m2(gaps, crs)
        for gap, area in zip(gaps, gap_m2):
            if area >= min_area_m2:
                gap_geoms.append(gap)
                gap_props.append({"problem": "gap", "community_code": code, "area_m2": round(float(area), 1)})
        tree = STRtree(polys)
        left, right = tree.query(polys, predicate="intersects")
        pairs = [(a, b) for a, b in zip(left, right) if a < b]
        pieces = [shapely.intersection(polys[a], polys[b]) for a, b in pairs]
        over_m2 = _m2(pieces, crs)
        for (a, b), piece, area in zip(pairs, pieces, over_m2):
            if area >= min_area_m2:
                over_geoms.append(piece)
                over_props.append({"problem": "overlap", "community_code": code, "grid_ids": [int(g["id"].iloc[rows[a]]), int(g["id"].iloc[rows[b]])], "area_m2": round(float(area), 1)})
        outside = _m2(shapely.difference(polys, region), crs)
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
        basic_hh = np.array([int(g["households"].iloc[k] or 0) for k in rows if g["type"].iloc[k] != "dedicated"], dtype=float)
        out["communities"].append(
            {"community_code": code, "grids": int(len(rows)), **balance(basic_hh, rule),
             "gap_area_m2": round(float(gap_m2[gap_m2 >= min_area_m2].sum()), 1),
             "overlap_area_m2": round(float(over_m2[over_m2 >= min_area_m2].sum()), 1), "outside_area_m2": round(float(outside[outside >= min_area_m2].sum()), 1),
             "mismatched_edges": int(mismatched),
             "coverage_ok": bool((gap_m2 < min_area_m2).all() and (over_m2 < min_area_m2).all() and (outside < min_area_m2).all())}
        )  # fmt: skip
    for code in sorted(set(g["community_code"]) - set(c.index)):
        for k in np.flatnonzero((g["community_code"] == code).to_numpy()):
            out["crossing"].append({"grid_id": int(g["id"].iloc[k]), "code": g["code"].iloc[k], "community_code": code, "outside_area_m2": round(float(_m2([fixed[k]], crs)[0]), 1), "reason": "unknown community"})
    out["gaps"] = _features(gap_geoms, gap_props)
    out["overlaps"] = _features(over_geoms, over_props)
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
