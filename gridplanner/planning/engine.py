"""``divide``: communities and buildings in, grids and a report out (pure function over GeoDataFrames)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from pyproj import CRS

from gis.coverage import majority_owner, match_across
from gis.crs import STORAGE_CRS, area_m2, projected_crs_for, to_storage, transform
from gis.errors import Problem, VectorInputError
from gis.precision import MAX_INNER_EDGE_DEG, normalize_footprints, normalize_outlines, normalize_polygons, onto_outline, snap, weld
from gridplanner.coding.ordering import reading_order
from gridplanner.compute import Runner, by_key, in_process
from gridplanner.planning.checked import plan_checked
from gridplanner.planning.community import BASIC, DEDICATED, CommunityInput
from gridplanner.planning.households import estimate_households
from gridplanner.planning.quality import groupable
from gridplanner.planning.rules import SizeRule, rule_for

GRID_COLUMNS = [
    "community_code", "grid_index", "households", "population", "type", "area_m2", "buildings", "dedicated_kind",
    "fallback",
]


@dataclass
class PlanResult:
    """Grids (EPSG:4490), a JSON-serialisable report of what was done and what is out of bounds, and the
    communities as planned: on the precision model (see the report's ``precision``), the outlines the grids
    tile exactly in both CRSes."""

    grids: gpd.GeoDataFrame
    report: dict
    communities: gpd.GeoDataFrame | None = None


def _storage(gdf, what: str) -> gpd.GeoDataFrame:
    if gdf is None:
        return None
    if gdf.crs is None:
        raise VectorInputError(what, "has no CRS; give one with --crs")
    return to_storage(gdf).reset_index(drop=True)


def _idents(gdf: gpd.GeoDataFrame) -> list:
    """Each building's own id (its id, building_id or fid field), else its position."""
    for name in ("id", "building_id", "fid"):
        if name in gdf:
            return [v.item() if hasattr(v, "item") else v for v in gdf[name].tolist()]
    return list(range(len(gdf)))


def _ident(gdf: gpd.GeoDataFrame, i: int):
    for name in ("id", "building_id", "fid"):
        if name in gdf:
            v = gdf[name].iat[i]
            return v.item() if hasattr(v, "item") else v
    return int(i)


def _clip_to_best_part(footprint, community):
    """The largest connected piece of the footprint within the community: a grid is one polygon, and a
    building cut in pieces by the outline (or by a hole) can only be kept whole where most of it lies."""
    pieces = shapely.get_parts(shapely.intersection(footprint, community))
    pieces = pieces[shapely.get_type_id(pieces) == 3]
    if len(pieces) == 0:
        return shapely.intersection(footprint, community)
    # Pieces touching the largest one (at a point where the outline pinches through the footprint, as it
    # may once vertices are moved onto the outline) are the same piece of building: kept with it.
    # Only within one part of the community: each part is divided on its own, so no grid spans two.
    keep = np.zeros(len(pieces), dtype=bool)
    best = int(np.argmax(shapely.area(pieces)))
    keep[best] = True
    parts = shapely.get_parts(community)
    part = parts[int(np.argmax(shapely.area(shapely.intersection(parts, pieces[best]))))]
    same = shapely.area(shapely.difference(pieces, part)) <= 1e-6 * shapely.area(pieces)
    while True:
        more = ~keep & same & shapely.intersects(pieces, shapely.union_all(pieces[keep]))
        if not more.any():
            break
        keep |= more
    return pieces[keep][0] if keep.sum() == 1 else shapely.MultiPolygon(list(pieces[keep]))


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
    name_field: str = "name",
    dissolve_duplicate_codes: bool = False,
    metric_crs: CRS | None = None,
    sources: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    runner: Runner | None = None,
) -> PlanResult:
    """Divide each community into grids of about the rule's households, following roads and rivers.

    Guarantees, checked on every community in lon/lat and in ``metric_crs`` (default: the Gauss–Krüger zone
    of the communities, :func:`gis.crs.projected_crs_for`): the grids tile the community exactly (a valid
    polygonal coverage, gaps and overlaps under 0.01 m²), each grid is one valid polygon, no building footprint
    is cut by a grid boundary (a building crossing a community boundary is clipped to the community holding its
    most of it, and listed), and the same input gives the same output. Inputs are put on the
    precision model first (:mod:`gis.precision`), and the report says what that changed.

    Each community is planned in isolation: where the engine fails on one, it gets a plainer plan that keeps
    every rule (``fallback`` on its grids, ``fallbacks`` in the report, with the reason) and the others go on.

    ``rules`` may map community class (``class_field``) to a rule, with an optional "default". Bad input raises
    :class:`gis.errors.VectorInputError` naming the input (``sources`` maps "communities", "buildings",
    "roads", "rivers", "dedicated" to file names for the message), the feature and the problem; communities
    sharing a code are refused unless ``dissolve_duplicate_codes`` (one community drawn as several features).
    ``progress(done, total)`` is called as communities are planned. ``runner`` says where (default: here, one
    after the other; :class:`gridplanner.compute.dask_cluster.DaskRunner`: on dask.distributed workers, a
    street's communities per task): the result is the same. Communities a cluster failed on twice are planned
    here and listed in the report's ``retried_here``.
    """
    sources = {**{k: k for k in ("communities", "buildings", "roads", "rivers", "dedicated")}, **(sources or {})}
    comm = _storage(communities, sources["communities"])
    comm, dissolved = _community_table(comm, code_field, name_field, sources["communities"], dissolve_duplicate_codes)
    codes = comm[code_field].astype("string")
    names = comm[name_field].astype("string").fillna("").tolist() if name_field in comm else [""] * len(comm)
    metric_crs = metric_crs or projected_crs_for(comm)
    labels = [" ".join(v for v in (str(c), n) if v) for c, n in zip(codes.tolist(), names)]
    cgeom, comm_precision = normalize_outlines(np.asarray(comm.geometry.values, dtype=object), labels, metric_crs, sources["communities"])
    comm_precision["changed"] = [{"community_code": str(codes.iat[c.pop("index")]), **c} for c in comm_precision["changed"]]

    bld = _storage(buildings, sources["buildings"])
    households, population, estimates = estimate_households(bld)
    raw_foot = np.asarray(bld.geometry.values, dtype=object)
    bad = np.flatnonzero(~np.isin(shapely.get_type_id(raw_foot), (0, 3, 6)) | shapely.is_empty(raw_foot))
    if len(bad):
        raise VectorInputError(sources["buildings"], [Problem(f"is a {raw_foot[i].geom_type if raw_foot[i] is not None else 'missing geometry'}, expected a polygon or point", int(i), _ident_text(bld, int(i))) for i in bad.tolist()])
    foot, bld_precision = normalize_footprints(raw_foot)
    points = shapely.point_on_surface(foot)
    owner = majority_owner(foot, cgeom)
    foot = _per_community(foot, owner, cgeom, onto_outline)

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
    # Vertices a hair apart (a clip point beside a community vertex, two walls' corners) become one.
    foot = _per_community(foot, owner, cgeom, weld)

    line_parts = []
    for gdf, what in ((roads, "roads"), (rivers, "rivers")):
        g = _storage(gdf, sources[what])
        if g is not None and len(g):
            line_parts.append(np.asarray(g.geometry.values, dtype=object))
    lines = np.concatenate(line_parts) if line_parts else np.zeros(0, dtype=object)
    lines = lines[~shapely.is_missing(lines)] if len(lines) else lines
    lines = snap(lines) if len(lines) else lines
    lines = lines[~shapely.is_empty(lines)] if len(lines) else lines
    line_tree = STRtree(lines) if len(lines) else None

    ded = _storage(dedicated, sources["dedicated"])
    ded_geoms = np.asarray(ded.geometry.values, dtype=object) if ded is not None and len(ded) else np.zeros(0, dtype=object)
    if len(ded_geoms):
        ded_geoms = normalize_polygons(ded_geoms, max_edge=MAX_INNER_EDGE_DEG).geoms
    ded_kinds = (ded["kind"].astype("string").fillna("dedicated").tolist() if ded is not None and "kind" in ded
                 else ["dedicated"] * len(ded_geoms))
    ded_tree = STRtree(ded_geoms) if len(ded_geoms) else None

    classes = comm[class_field].tolist() if class_field in comm else [None] * len(comm)

    order_b = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order_b], np.arange(len(comm) + 1))

    rows, geoms, out_of_bounds, per_comm, failed, fallbacks = [], [], [], [], [], []
    comm_order = np.argsort(codes.to_numpy(dtype=str), kind="stable")
    tasks = []
    for ci in comm_order.tolist():
        region = cgeom[ci]
        ded_here = []
        if ded_tree is not None:
            ded_here = [(ded_geoms[d], ded_kinds[d]) for d in np.sort(ded_tree.query(region, predicate="intersects")).tolist()]
        members = order_b[starts[ci]:starts[ci + 1]]
        data = CommunityInput(
            region=region,
            footprints=foot[members],
            points=points[members],
            households=households[members],
            lines=_community_lines(lines, line_tree, region),
            dedicated=ded_here,
        )
        tasks.append((ci, str(codes.iat[ci]), data, rule_for(rules, classes[ci]), metric_crs))
    # A street's communities travel together: one task each on a cluster (the code's first 9 digits).
    batches = by_key(tasks, key=lambda t: t[1][:9])
    results = (runner or in_process)(plan_batch, batches, progress)
    # Batches that failed twice on a cluster were planned here instead: listed, never lost.
    retried = [{"community_code": t[1], "error": f["error"]} for f in getattr(runner, "failures", []) for t in batches[f["batch"]]]
    for (ci, code, data, rule, _), plan in zip([t for b in batches for t in b], [p for r in results for p in r]):
        members = order_b[starts[ci]:starts[ci + 1]]
        region = cgeom[ci]
        grids = plan.grids
        if plan.fallback is not None:
            fallbacks.append({"community_code": code, "name": names[ci], "fallback": plan.fallback, "reasons": plan.reasons})
        if plan.fallback == "failed":
            failed.append({"community_code": code, "name": names[ci], **plan.check, "reasons": plan.reasons})
        # Numbered in reading order (rows north to south, west to east in a row), as the codes are.
        sequence = reading_order(transform(np.array([g.geometry for g in grids], dtype=object), STORAGE_CRS, metric_crs))
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
                elif plan.fallback is not None:
                    reason = f"community not divided by the engine ({plan.fallback} plan): see fallbacks"
                else:
                    reason = _reason(g, households[idx], rule, comm_hh, part_hh, g.geometry, region, households[members])
            if reason:
                out_of_bounds.append({"community_code": code, "grid_index": k, "households": g.households, "reason": reason})
            rows.append({
                "community_code": code, "grid_index": k, "households": g.households,
                "population": int(population[idx].sum()), "type": g.type, "buildings": int(len(idx)),
                "dedicated_kind": g.dedicated_kind, "fallback": plan.fallback,
            })
            geoms.append(g.geometry)
        per_comm.append({
            "community_code": code, "grids": len(grids), "basic_grids": counted, "dedicated_grids": len(grids) - counted,
            "households": comm_hh, "buildings": int(len(members)), "min": rule.min_households,
            "max": rule.max_households, "within_bounds": within, "fallback": plan.fallback,
            "check": _check_figures(plan.check),
        })

    # Communities were settled one by one: share the vertices where grids meet community lines, so the
    # district's grids are one coverage edge for edge.
    geoms = match_across(np.array(geoms, dtype=object), cgeom, metric_crs) if geoms else geoms
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[c for c in GRID_COLUMNS if c != "area_m2"]),
                           geometry=list(geoms), crs=STORAGE_CRS)
    out.insert(5, "area_m2", np.round(area_m2(out, metric_crs), 1) if len(out) else np.zeros(0))
    ids = _idents(bld)
    unplaced = [{"building": ids[i], "index": int(i)} for i in np.flatnonzero(owner < 0).tolist()]
    basic = out["type"] == BASIC
    checks = [c["check"] for c in per_comm if c["check"]]
    report = {
        "summary": {
            "communities": int(len(comm)), "grids": int(len(out)), "basic_grids": int(basic.sum()),
            "dedicated_grids": int((out["type"] == DEDICATED).sum()),
            "basic_within_bounds": int(len(out[basic]) - sum(1 for o in out_of_bounds)),
            "buildings": int(len(bld)), "buildings_placed": int((owner >= 0).sum()),
            "households": int(households[owner >= 0].sum()),
            "not_divided": sum(1 for f in fallbacks if f["fallback"] in ("whole", "failed")),
            "blocks_only": sum(1 for f in fallbacks if f["fallback"] == "blocks"),
        },
        "metric_crs": metric_crs.to_string(),
        "precision": {"communities": comm_precision, "buildings": bld_precision, "dissolved_duplicate_codes": dissolved},
        "communities": per_comm,
        "out_of_bounds": out_of_bounds,
        "fallbacks": fallbacks,
        "retried_here": retried,
        "unplaced": unplaced,
        "crossing_community_boundary": crossing,
        "estimates": estimates,
        "self_check": {
            "ok": not failed, "failed": failed, "crs": ["EPSG:4490", metric_crs.to_string()],
            "worst_gap_or_overlap_m2": max((max(c["lonlat_m2"], c["metric_m2"]) for c in checks), default=0.0),
            "buildings_not_contained": int(sum(c["buildings_outside"] for c in checks)),
        },
    }
    planned = gpd.GeoDataFrame({code_field: codes.to_numpy(dtype=str)}, geometry=cgeom, crs=STORAGE_CRS)
    if name_field in comm:
        planned[name_field] = comm[name_field].to_numpy()
    return PlanResult(out, report, planned)


def plan_batch(batch: list[tuple]) -> list:
    """The plans of a batch of ``(index, code, CommunityInput, SizeRule, metric CRS)``, in order: what one
    task does, here or on a worker."""
    return [plan_checked(data, rule, crs, community=code) for _, code, data, rule, crs in batch]


def _per_community(foot: np.ndarray, owner: np.ndarray, cgeom: np.ndarray, fn) -> np.ndarray:
    """``fn(footprints, community)`` applied to each community's footprints (see gis.precision)."""
    foot = foot.copy()
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(len(cgeom) + 1))
    for ci in range(len(cgeom)):
        idx = order[starts[ci]:starts[ci + 1]]
        if len(idx):
            foot[idx] = fn(foot[idx], cgeom[ci])
    return foot


def _check_figures(check: dict) -> dict:
    """The few figures of a community's check worth keeping in the report (worst area, buildings cut)."""
    if not check:
        return {}
    cov = check["coverage"]
    area = {crs: max(cov[crs].get("gap_m2", 0.0), cov[crs].get("overlap_m2", 0.0), cov[crs].get("outside_m2", 0.0)) for crs in ("lonlat", "metric")}
    out = check["buildings_outside_their_grid"]
    return {"lonlat_m2": float(area["lonlat"]), "metric_m2": float(area["metric"]),
            "buildings_outside": int(out["lonlat"] + out["metric"])}


def _ident_text(gdf: gpd.GeoDataFrame, i: int) -> str | None:
    for name in ("id", "building_id", "fid"):
        if name in gdf and gdf[name].iat[i] is not None and not pd.isna(gdf[name].iat[i]):
            return str(gdf[name].iat[i])
    return None


def _community_table(comm: gpd.GeoDataFrame, code_field: str, name_field: str, source: str, dissolve: bool):
    """Communities with present, unique codes (features sharing a code dissolved when asked) and what was
    dissolved; bad codes raise an error naming each feature by position, code and name."""
    if code_field not in comm:
        raise VectorInputError(source, f"has no {code_field!r} field (fields: {[c for c in comm.columns if c != comm.geometry.name]}); name it with --code-field")
    codes = comm[code_field].astype("string")
    names = comm[name_field].astype("string") if name_field in comm else pd.Series([pd.NA] * len(comm), dtype="string")

    def who(i: int) -> str:
        return " ".join(str(v) for v in (codes.iat[i], names.iat[i]) if not pd.isna(v)) or None

    missing = np.flatnonzero(codes.isna().to_numpy() | (codes.str.strip() == "").fillna(True).to_numpy())
    if len(missing):
        raise VectorInputError(source, [Problem(f"has no {code_field}", int(i), who(int(i))) for i in missing.tolist()])
    dup = codes[codes.duplicated(keep=False)]
    if dup.empty:
        return comm.reset_index(drop=True), []
    groups = {c: np.flatnonzero((codes == c).to_numpy()).tolist() for c in dup.unique().tolist()}
    if not dissolve:
        problems = []
        for c, where in groups.items():
            listed = ", ".join(f"{i}" + (f" ({names.iat[i]})" if not pd.isna(names.iat[i]) else "") for i in where)
            known = {str(names.iat[i]) for i in where if not pd.isna(names.iat[i])}
            if len(known) > 1:
                hint = ("their names differ: give each community its own code (or, if they really are one "
                        "community, --dissolve-duplicate-codes joins them)")
            else:
                hint = ("if this is one community drawn as several features, --dissolve-duplicate-codes joins them; "
                        "otherwise give each community its own code")
            problems.append(Problem(f"code {c} is shared by features {listed}; {hint}", where[0], who(where[0])))
        raise VectorInputError(source, problems)
    dissolved = []
    keep = np.ones(len(comm), dtype=bool)
    geoms = np.asarray(comm.geometry.values, dtype=object).copy()
    for c, where in groups.items():
        geoms[where[0]] = shapely.union_all(geoms[where])
        keep[where[1:]] = False
        dissolved.append({"code": c, "features": where, "names": sorted({str(names.iat[i]) for i in where if not pd.isna(names.iat[i])})})
    out = comm.set_geometry(gpd.GeoSeries(geoms, index=comm.index, crs=comm.crs))[keep].reset_index(drop=True)
    return out, dissolved


def _part_households(region, points, households) -> list[tuple[object, int]]:
    parts = shapely.get_parts(region)
    if len(parts) == 1:
        return [(parts[0], int(households.sum()))]
    where = np.full(len(points), -1)
    if len(points):
        b, p = STRtree(parts).query(points, predicate="intersects")
        where[b] = p
    return [(part, int(households[where == k].sum())) for k, part in enumerate(parts)]


def _reason(grid, building_hh: np.ndarray, rule: SizeRule, comm_hh: int, part_hh, geom, region, comm_building_hh: np.ndarray) -> str:
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
    if not groupable(comm_building_hh[comm_building_hh <= rule.max_households], rule):
        return "the community's buildings cannot be grouped within bounds, wherever the boundaries run"
    return "no neighbour to merge with within max households"


def _feasible(households: int, rule: SizeRule) -> bool:
    k = rule.grid_count(households)
    return k * rule.min_households <= households <= k * rule.max_households
