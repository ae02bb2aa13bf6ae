"""``divide``: communities and buildings in, grids and a report out (pure function over GeoDataFrames)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gis.coverage import coverage_problems
from gis.crs import STORAGE_CRS, area_m2, to_storage
from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.community import BASIC, DEDICATED, CommunityInput, plan_community
from gridplanner.planning.households import estimate_households
from gridplanner.planning.rules import SizeRule, rule_for

GRID_COLUMNS = [
    "community_code", "grid_index", "households", "population", "type", "area_m2", "buildings", "dedicated_kind",
]


@dataclass
class PlanResult:
    """Grids (EPSG:4490) and a JSON-serialisable report of what was done and what is out of bounds."""

    grids: gpd.GeoDataFrame
    report: dict


def _storage(gdf, what: str) -> gpd.GeoDataFrame:
    if gdf is None:
        return None
    if gdf.crs is None:
        raise ValueError(f"{what} have no CRS")
    return to_storage(gdf).reset_index(drop=True)


def _ident(gdf: gpd.GeoDataFrame, i: int):
    for name in ("id", "building_id", "fid"):
        if name in gdf:
            v = gdf[name].iat[i]
            return v.item() if hasattr(v, "item") else v
    return int(i)


def _assign(points, footprints, communities: np.ndarray) -> np.ndarray:
    """Community index of each building: the one holding its representative point, else the one it overlaps
    most, else -1. Ties go to the lower index."""
    n = len(points)
    owner = np.full(n, -1, dtype=np.intp)
    if n == 0:
        return owner
    tree = STRtree(communities)
    b, c = tree.query(points, predicate="within")
    order = np.lexsort((c, b))
    b, c = b[order], c[order]
    first = np.ones(len(b), dtype=bool)
    first[1:] = b[1:] != b[:-1]
    owner[b[first]] = c[first]
    rest = np.flatnonzero(owner < 0)
    if len(rest):
        b, c = tree.query(footprints[rest], predicate="intersects")
        if len(b):
            overlap = shapely.area(shapely.intersection(footprints[rest][b], communities[c]))
            # Points on a boundary overlap with zero area; they still belong somewhere.
            order = np.lexsort((c, -overlap, b))
            b, c = b[order], c[order]
            first = np.ones(len(b), dtype=bool)
            first[1:] = b[1:] != b[:-1]
            owner[rest[b[first]]] = c[first]
    return owner


def _clip_to_best_part(footprint, community):
    """The largest connected piece of the footprint within the community: a grid is one polygon, and a
    building cut in pieces by the outline (or by a hole) can only be kept whole where most of it lies."""
    pieces = shapely.get_parts(shapely.intersection(footprint, community))
    pieces = pieces[shapely.get_type_id(pieces) == 3]
    if len(pieces) == 0:
        return shapely.intersection(footprint, community)
    return pieces[int(np.argmax(shapely.area(pieces)))]


def _community_lines(lines: np.ndarray, tree: STRtree | None, region) -> np.ndarray:
    if tree is None:
        return np.zeros(0, dtype=object)
    return lines[np.sort(tree.query(region, predicate="intersects"))]


def divide(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    rivers: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    rules: SizeRule | dict[str, SizeRule] = SizeRule(),
    code_field: str = "code",
    class_field: str = "class",
    progress: Callable[[int, int], None] | None = None,
) -> PlanResult:
    """Divide each community into grids of about the rule's households, following roads and rivers.

    Guarantees: per community the grids tile it exactly (a valid polygonal coverage), each grid is one
    polygon, no building footprint is cut by a grid boundary (a building crossing a community boundary is
    clipped to the community holding its representative point, and listed), and the same input gives the
    same output. ``rules`` may map community class (``class_field``) to a rule, with an optional "default".
    ``progress(done, total)`` is called after each community.
    """
    comm = _storage(communities, "communities")
    if code_field not in comm:
        raise ValueError(f"communities have no {code_field!r} field (fields: {list(comm.columns)})")
    codes = comm[code_field].astype("string")
    if codes.isna().any():
        raise ValueError(f"communities {list(np.flatnonzero(codes.isna()))} have no {code_field}")
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"community {code_field} values are not unique: {dup[:10]}")
    cgeom = comm.geometry.values.to_numpy() if hasattr(comm.geometry.values, "to_numpy") else np.asarray(comm.geometry.values)
    cgeom = np.asarray(cgeom, dtype=object)
    bad = np.flatnonzero(~np.isin(shapely.get_type_id(cgeom), (3, 6)) | ~shapely.is_valid(cgeom) | shapely.is_empty(cgeom))
    if len(bad):
        raise ValueError(f"communities {codes.iloc[bad].tolist()[:10]} are not valid polygons (check_features repairs them)")

    bld = _storage(buildings, "buildings")
    households, population, estimates = estimate_households(bld)
    foot = np.asarray(bld.geometry.values, dtype=object)
    bad = np.flatnonzero(~np.isin(shapely.get_type_id(foot), (0, 3, 6)) | shapely.is_empty(foot))
    if len(bad):
        raise ValueError(f"buildings {bad.tolist()[:10]} are not points or polygons")
    points = shapely.point_on_surface(foot)
    owner = _assign(points, foot, cgeom)

    # A building crossing a community boundary is clipped to its community: nothing else can hold it whole.
    crossing = []
    placed = np.flatnonzero(owner >= 0)
    is_poly = np.isin(shapely.get_type_id(foot[placed]), (3, 6))
    check = placed[is_poly]
    out_of_comm = check[~shapely.covered_by(foot[check], cgeom[owner[check]])]
    if len(out_of_comm):
        foot = foot.copy()
        clipped = np.array([_clip_to_best_part(foot[i], cgeom[owner[i]]) for i in out_of_comm.tolist()], dtype=object)
        share = shapely.area(clipped) / shapely.area(foot[out_of_comm])
        for i, geom, s in zip(out_of_comm.tolist(), clipped, share):
            if s < 1 - 1e-9:
                crossing.append({"building": _ident(bld, i), "community_code": str(codes.iat[owner[i]]),
                                 "share_inside": round(float(s), 4)})
        foot[out_of_comm] = clipped
        points[out_of_comm] = shapely.point_on_surface(clipped)

    line_parts = []
    for gdf, what in ((roads, "roads"), (rivers, "rivers")):
        g = _storage(gdf, what)
        if g is not None and len(g):
            line_parts.append(np.asarray(g.geometry.values, dtype=object))
    lines = np.concatenate(line_parts) if line_parts else np.zeros(0, dtype=object)
    lines = lines[~shapely.is_empty(lines) & ~shapely.is_missing(lines)] if len(lines) else lines
    line_tree = STRtree(lines) if len(lines) else None

    ded = _storage(dedicated, "dedicated areas")
    ded_geoms = np.asarray(ded.geometry.values, dtype=object) if ded is not None and len(ded) else np.zeros(0, dtype=object)
    ded_kinds = (ded["kind"].astype("string").fillna("dedicated").tolist() if ded is not None and "kind" in ded
                 else ["dedicated"] * len(ded_geoms))
    ded_tree = STRtree(ded_geoms) if len(ded_geoms) else None

    classes = comm[class_field].tolist() if class_field in comm else [None] * len(comm)
    minx, miny, maxx, maxy = comm.total_bounds
    frame = LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)

    order_b = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order_b], np.arange(len(comm) + 1))

    rows, geoms, out_of_bounds, per_comm, failed = [], [], [], [], []
    not_contained = 0
    comm_order = np.argsort(codes.to_numpy(dtype=str), kind="stable")
    total = len(comm_order)
    for done, ci in enumerate(comm_order.tolist(), start=1):
        rule = rule_for(rules, classes[ci])
        members = order_b[starts[ci]:starts[ci + 1]]
        region = cgeom[ci]
        ded_here = []
        if ded_tree is not None:
            ded_here = [(ded_geoms[d], ded_kinds[d]) for d in np.sort(ded_tree.query(region, predicate="intersects")).tolist()]
        data = CommunityInput(
            region=region,
            footprints=foot[members],
            points=points[members],
            households=households[members],
            lines=_community_lines(lines, line_tree, region),
            dedicated=ded_here,
        )
        grids = plan_community(data, rule, frame)
        reps = shapely.point_on_surface(np.array([g.geometry for g in grids], dtype=object))
        xy = shapely.get_coordinates(reps)
        # Numbered north to south, then west to east, like unit grid codes.
        sequence = np.lexsort((xy[:, 0], -np.round(xy[:, 1], 7)))
        code = str(codes.iat[ci])
        comm_hh = int(households[members].sum())
        part_hh = _part_households(region, points[members], households[members])
        counted = within = 0
        for k, gi in enumerate(sequence.tolist(), start=1):
            g = grids[gi]
            idx = members[g.members]
            reason = None
            if g.type == BASIC:
                counted += 1
                if rule.within(g.households):
                    within += 1
                else:
                    reason = _reason(g, households[idx], rule, comm_hh, part_hh, g.geometry, region)
            if reason:
                out_of_bounds.append({"community_code": code, "grid_index": k, "households": g.households, "reason": reason})
            rows.append({
                "community_code": code, "grid_index": k, "households": g.households,
                "population": int(population[idx].sum()), "type": g.type, "buildings": int(len(idx)),
                "dedicated_kind": g.dedicated_kind,
            })
            geoms.append(g.geometry)
        grid_geoms = np.array([grids[gi].geometry for gi in sequence], dtype=object)
        check = coverage_problems(grid_geoms, region)
        bad_b = _not_contained(foot[members], grids)
        not_contained += bad_b
        if not check["ok"] or bad_b:
            failed.append({"community_code": code, "coverage": check, "buildings_not_contained": bad_b})
        per_comm.append({
            "community_code": code, "grids": len(grids), "basic_grids": counted, "dedicated_grids": len(grids) - counted,
            "households": comm_hh, "buildings": int(len(members)), "min": rule.min_households,
            "max": rule.max_households, "within_bounds": within,
        })
        if progress is not None:
            progress(done, total)

    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[c for c in GRID_COLUMNS if c != "area_m2"]),
                           geometry=geoms, crs=STORAGE_CRS)
    out.insert(5, "area_m2", np.round(area_m2(out), 1) if len(out) else np.zeros(0))
    unplaced = [{"building": _ident(bld, i), "index": int(i)} for i in np.flatnonzero(owner < 0).tolist()]
    basic = out["type"] == BASIC
    report = {
        "summary": {
            "communities": int(len(comm)), "grids": int(len(out)), "basic_grids": int(basic.sum()),
            "dedicated_grids": int((out["type"] == DEDICATED).sum()),
            "basic_within_bounds": int(len(out[basic]) - sum(1 for o in out_of_bounds)),
            "buildings": int(len(bld)), "buildings_placed": int((owner >= 0).sum()),
            "households": int(households[owner >= 0].sum()),
        },
        "communities": per_comm,
        "out_of_bounds": out_of_bounds,
        "unplaced": unplaced,
        "crossing_community_boundary": crossing,
        "estimates": estimates,
        "self_check": {"ok": not failed, "failed": failed, "buildings_not_contained": not_contained},
    }
    return PlanResult(out, report)


def _part_households(region, points, households) -> list[tuple[object, int]]:
    parts = shapely.get_parts(region)
    if len(parts) == 1:
        return [(parts[0], int(households.sum()))]
    where = np.full(len(points), -1)
    if len(points):
        b, p = STRtree(parts).query(points, predicate="intersects")
        where[b] = p
    return [(part, int(households[where == k].sum())) for k, part in enumerate(parts)]


def _reason(grid, building_hh: np.ndarray, rule: SizeRule, comm_hh: int, part_hh, geom, region) -> str:
    if grid.households > rule.max_households:
        if len(building_hh) == 1:
            return "a single building above max households"
        if (building_hh > rule.max_households).any():
            return "holds a building above max households"
        return "no split within bounds without cutting a building"
    if comm_hh < rule.min_households:
        return "community has fewer than min households"
    if len(part_hh) > 1:
        rep = shapely.point_on_surface(geom)
        for part, hh in part_hh:
            if part.contains(rep) and hh < rule.min_households:
                return "community part (multipart community) has fewer than min households"
    if not _feasible(comm_hh, rule):
        return f"community households ({comm_hh}) cannot all be divided within bounds"
    return "no neighbour to merge with within max households"


def _feasible(households: int, rule: SizeRule) -> bool:
    k = rule.grid_count(households)
    return k * rule.min_households <= households <= k * rule.max_households


def _not_contained(footprints: np.ndarray, grids) -> int:
    """Polygon buildings not wholly inside their grid (beyond floating-point noise)."""
    bad = 0
    for g in grids:
        fp = footprints[g.members]
        fp = fp[np.isin(shapely.get_type_id(fp), (3, 6))]
        if len(fp) == 0:
            continue
        ok = shapely.covered_by(fp, g.geometry)
        if not ok.all():
            rest = fp[~ok]
            outside = shapely.area(shapely.difference(rest, g.geometry))
            bad += int((outside > 1e-7 * shapely.area(rest)).sum())
    return bad
