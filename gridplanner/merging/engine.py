"""merge_layers: departments' grid layers in, one unified grid set per community, crosswalk and report out."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.coverage import largest_pieces, locate_points, majority_owner, match_across, unmatched_edges
from gis.crs import STORAGE_CRS, projected_crs_for, transform
from gis.errors import InputError, VectorInputError
from gis.overlay import clean_coverage, polygon_parts
from gis.precision import GRID_DEG, normalize_footprints, normalize_outlines, square_metres_per_square_degree, weld
from gis.validate import POLYGON, POLYGON_OR_POINT, check_features
from gridplanner.coding.ordering import reading_order
from gridplanner.compute import Runner
from gridplanner.merging import assemble as asm
from gridplanner.merging import sizing
from gridplanner.merging.agreement import agreement, choose_base
from gridplanner.merging.balance import rebalance_communities
from gridplanner.merging.crosswalk import COLUMNS, crosswalk_layer
from gridplanner.merging.layers import clip_to_communities, crossing_report, overlaps_within, prepare_layer
from gridplanner.merging.report import located, mapped_to_several, summary, tag
from gridplanner.merging.settling import settle_communities
from gridplanner.merging.split import split_oversized
from gridplanner.planning import SizeRule, estimate_households
from gridplanner.planning.community import BASIC

#: A unified grid keeps a base grid's identity when their intersection-over-union reaches this.
IDENTITY_IOU = 0.9
#: Gaps narrower than this (m) between grids of different communities are rounding, closed by the final clean.
ROUNDING_GAP_M = 0.01
#: Grid type of every unified grid: the division engine's basic (comprehensive) grid.
GRID_TYPE = BASIC

Progress = Callable[[str, int, int], None]


@dataclass
class MergeResult:
    """Unified grids (EPSG:4490), the crosswalk from department grids to them, the conflict report, and the
    communities as merged into (on the precision model: the outlines the grids tile exactly in both CRSes)."""

    grids: gpd.GeoDataFrame
    crosswalk: pd.DataFrame
    report: dict
    communities: gpd.GeoDataFrame | None = None


def merge_layers(
    communities: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    base: str | None = None,
    id_field: str | None = None,
    sliver_area_m2: float = 50.0,
    sliver_width_m: float = 3.0,
    buildings: gpd.GeoDataFrame | None = None,
    rules: SizeRule | None = None,
    code_field: str = "code",
    progress: Progress | None = None,
    workers: int = 2,
    runner: Runner | None = None,
) -> MergeResult:
    """Merge department grid ``layers`` (name -> polygons) into one valid coverage of ``communities``.

    The ``base`` layer's edges win where layers disagree (default: the layer agreeing most with the others).
    Areas the base leaves bare are filled from the other layers, best-agreeing first, and what no layer covers
    becomes a ``gap`` grid. Slivers (under ``sliver_area_m2`` or thinner than ``sliver_width_m``) go to the
    neighbour with the longest shared border. With ``buildings`` (households, population, floors, use: read as
    the division engine reads them) the size rule ``rules`` (default 300–500 households) is enforced: no
    building is split, small grids join the neighbour with the longest shared border, and large ones are split
    by the division engine (:func:`gridplanner.planning.divide`). ``workers`` threads share the GEOS work;
    ``runner`` (:mod:`gridplanner.compute`; default: here) runs the splitting of large grids and the
    rebalancing, a street's communities per task, on dask.distributed workers: the result is the same.
    """
    progress = progress or (lambda step, done, total: None)
    if len(layers) < 2:
        raise InputError(f"merging needs at least two department layers, got {len(layers)}")
    if code_field not in communities.columns:
        raise VectorInputError("communities", f"has no field {code_field!r} (fields: {list(communities.columns)})")
    comm = check_features(communities, "communities", POLYGON, id_field=code_field).data
    crs = projected_crs_for(comm)
    codes = comm[code_field].astype(str).to_numpy()
    repeated = sorted({c for c in codes[pd.Series(codes).duplicated().to_numpy()]})
    if repeated:
        raise VectorInputError("communities", f"{code_field} values repeat: {repeated[:10]}")
    report: dict = {"crs": crs.to_string(), "sliver_area_m2": sliver_area_m2, "sliver_width_m": sliver_width_m}
    comm_lonlat = comm.geometry.values.to_numpy()
    if unmatched_edges(comm_lonlat).any():
        # Overlapping or mismatched community lines would hand one area to two communities.
        comm_lonlat = np.asarray(clean_coverage(comm_lonlat, grids=(None, 1e-9, 1e-8, GRID_DEG),
                                                noise_area=0.01 / square_metres_per_square_degree(shapely.union_all(comm_lonlat))))
        report["communities_cleaned"] = True
    names = comm["name"].astype(str).tolist() if "name" in comm else [""] * len(comm)
    comm_lonlat, report["precision"] = normalize_outlines(comm_lonlat, [f"{c} {n}".strip() for c, n in zip(codes, names)], crs, "communities")
    report["precision"]["changed"] = [{"community_code": str(codes[c.pop("index")]), **c} for c in report["precision"]["changed"]]
    comm_geoms = transform(comm_lonlat, STORAGE_CRS, crs)

    # GEOS work releases the GIL, so threads share the cores. A geometry is never prepared (used in a prepared
    # predicate) by two threads at once: GEOS builds prepared indexes lazily and not thread-safely.
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    progress("reading layers", 0, len(layers))
    prepared = {}
    for k, (name, gdf) in enumerate(layers.items()):
        prepared[name] = prepare_layer(name, gdf, id_field, crs)
        progress("reading layers", k + 1, len(layers))
    progress("comparing layers", 0, 1)
    scores = agreement({n: l.geoms for n, l in prepared.items()})
    base_name = choose_base(scores, base)
    fill_order = sorted((n for n in prepared if n != base_name), key=lambda n: -scores[n])
    report["base"] = {"department": base_name, "chosen_by": "option" if base else "agreement",
                      "agreement": {n: round(s, 4) for n, s in scores.items()}}
    report["id_fields"] = {n: l.id_field or "feature position" for n, l in prepared.items()}
    report["repairs"] = [
        {"department": n, "feature": p.feature, "department_grid_id": p.ident, "problem": p.message}
        for n, l in prepared.items() for p in l.repairs
    ]
    report["overlaps"] = [o for found in pool.map(overlaps_within, prepared.values()) for o in found]
    progress("comparing layers", 1, 1)

    clips = dict(zip(prepared, pool.map(lambda l: clip_to_communities(l, comm_geoms), prepared.values())))
    report["crossing_community_lines"], report["outside_communities"] = [], []
    for n, l in prepared.items():
        crossing, outside = crossing_report(l, clips[n], codes, sliver_area_m2)
        report["crossing_community_lines"] += crossing
        report["outside_communities"] += outside

    bld, bld_table, bld_table_lonlat = _buildings(buildings, crs)
    rule = rules or SizeRule()
    bld_comm = majority_owner(bld.geoms, comm_geoms) if bld is not None else None
    if bld is not None:
        bld, bld_table_lonlat = _clipped_to_communities(bld, bld_table_lonlat, bld_comm, comm_geoms, comm_lonlat, crs)
    order = [base_name, *fill_order]
    cover = asm.cover_in_order(comm_geoms, [(clips[n].geoms, clips[n].community) for n in order], map=pool.map)
    dept_gaps = _department_gaps(cover, order, codes, sliver_area_m2, sliver_width_m)

    def one(c: int) -> dict:
        rows = cover.of(c)
        labels = [prepared[order[k]].label(clips[order[k]].grid[r]) for k, r in zip(cover.layer[rows], cover.row[rows])]
        here = bld.subset(bld_comm == c) if bld is not None else None
        return _merge_community(comm_geoms[c], codes[c], cover.geoms[rows], labels, cover.bare[c], here, rule,
                                sliver_area_m2, sliver_width_m)

    out_geoms, out_labels, out_comm = [], [], []
    uncovered, slivers, merges, splits = [], [], [], []
    moved_buildings = 0
    rebalanced: list[dict] = []
    for c, done in enumerate(pool.map(one, range(len(comm_geoms)))):
        uncovered += done["uncovered"]
        slivers += done["slivers"]
        merges += done["merges"]
        moved_buildings += done["moved_buildings"]
        out_geoms += done["pieces"].geoms
        out_labels += done["pieces"].labels
        out_comm += [c] * len(done["pieces"].geoms)
        progress("merging communities", c + 1, len(comm_geoms))

    grids = np.array(out_geoms, dtype=object)
    grid_comm = np.array(out_comm, dtype=int)
    if bld is not None:
        progress("splitting large grids", 0, 1)
        grids, grid_comm, out_labels, splits, more, merged_after = _split(
            grids, grid_comm, out_labels, comm_geoms, codes, bld, bld_table, bld_comm, rule, crs, sliver_area_m2, sliver_width_m,
            runner)
        slivers += more
        merges += merged_after
        progress("splitting large grids", 1, 1)
        progress("rebalancing", 0, 1)
        grids, grid_comm, out_labels, rebalanced = rebalance_communities(grids, grid_comm, out_labels, comm_geoms, bld, bld_comm, rule, codes,
                                                                       runner=runner)
        progress("rebalancing", 1, 1)
    # Splitting and redrawing can leave a sliver beside a footprint: it joins its neighbour like any other.
    grids, grid_comm, out_labels, more = _absorb_left_slivers(grids, grid_comm, out_labels, codes, sliver_area_m2, sliver_width_m)
    slivers += more
    # Each community is settled on its own and the vertices on community lines are shared after (match_across).
    progress("settling", 0, 1)
    done = settle_communities(grids, grid_comm, out_labels, comm_lonlat, codes, crs, bld_table_lonlat, bld_comm)
    grids_ll, grid_comm, out_labels = match_across(done.geoms, comm_lonlat, crs), done.community, done.labels
    report["fallbacks"] = done.fallbacks
    progress("settling", 1, 1)
    order, sequence = _reading_order(grids_ll, grid_comm, crs)
    grids_ll, grid_comm = grids_ll[order], grid_comm[order]
    out_labels, fallback = [out_labels[i] for i in order], [done.fallback[i] for i in order]
    # The crosswalk and the figures are measured in the metric CRS, on exactly these grids.
    grids = transform(grids_ll, STORAGE_CRS, crs) if len(grids_ll) else grids_ll
    progress("crosswalk", 0, len(prepared))
    result_grids, point_grid = _grid_table(grids, grids_ll, grid_comm, sequence, out_labels, fallback, codes, bld)
    tree = shapely.STRtree(grids)
    tree.query(grids[:1])  # built now, before threads share it
    tables, complete = [], {}
    points = bld.points() if bld is not None else np.zeros(0, dtype=object)
    hh = bld.households if bld is not None else np.zeros(0)
    done = pool.map(lambda n: crosswalk_layer(prepared[n], clips[n], grids, tree, points, point_grid, hh), prepared)
    for k, (n, (table, complete[n])) in enumerate(zip(prepared, done)):
        tables.append(table)
        progress("crosswalk", k + 1, len(prepared))
    pool.shutdown()
    crosswalk = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    result_grids["base_id"] = _base_ids(crosswalk, base_name, prepared[base_name], grids)

    to_lonlat = Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)
    report["department_gaps"] = [located(g, to_lonlat) for g in dept_gaps]
    report["uncovered"] = [located(g, to_lonlat) for g in uncovered]
    report["slivers_absorbed"] = [located(s, to_lonlat) for s in slivers]
    report["split_department_grids"] = mapped_to_several(crosswalk, sliver_area_m2)
    report["size_rule"] = {
        "applied": bld is not None,
        "min_households": rule.min_households,
        "max_households": rule.max_households,
        "buildings_kept_whole": moved_buildings,
        "undersized_merged": merges,
        "oversized_split": splits,
        "rebalanced": rebalanced,
        "grids_within_bounds": int(((result_grids["households"] >= rule.min_households) & (result_grids["households"] <= rule.max_households)).sum()) if bld is not None else None,
        "grids": int(len(result_grids)),
    }
    report["crosswalk_completeness"] = complete
    report["summary"] = summary(grids, grid_comm, comm_geoms, result_grids, report, sliver_area_m2, sliver_width_m)
    planned = gpd.GeoDataFrame({code_field: codes}, geometry=list(comm_lonlat), crs=STORAGE_CRS)
    return MergeResult(result_grids, crosswalk, report, planned)


def _merge_community(community, code: str, geoms: np.ndarray, labels: list[str], bare, buildings: sizing.Buildings | None,
                     rule: SizeRule, min_area: float, min_width: float) -> dict:
    """One community's unified grids (before oversized ones are split) and what was found on the way."""
    pieces = asm.assemble(community, geoms, labels, bare, min_width)
    uncovered = [{"community_code": code, "area_m2": float(shapely.area(g)), "point": shapely.point_on_surface(g)}
                 for g in pieces.uncovered if not asm.is_sliver([g], min_area, min_width)[0]]
    slivers = asm.absorb_slivers(pieces, min_area, min_width)
    merges, moved = [], 0
    if buildings is not None:
        moved = sizing.keep_buildings_whole(pieces, community, buildings)
        slivers += asm.absorb_slivers(pieces, min_area, min_width)
        merges = sizing.merge_undersized(pieces, buildings, rule)
    return {"pieces": pieces, "uncovered": uncovered, "slivers": tag(slivers, code), "merges": tag(merges, code),
            "moved_buildings": moved}


def _department_gaps(cover: asm.Cover, names: list[str], codes: np.ndarray, min_area: float, min_width: float) -> list[dict]:
    """Parts of each community that each department leaves bare, slivers left out; by community, then layer."""
    found = []
    for k, name in enumerate(names):
        parts, comm = polygon_parts(cover.department_gaps[k])
        big = np.flatnonzero(~asm.is_sliver(parts, min_area, min_width))
        found += [(int(comm[i]), k, j, name, parts[i]) for j, i in enumerate(big)]
    found.sort(key=lambda f: f[:3])
    points = shapely.point_on_surface(np.array([f[4] for f in found], dtype=object)) if found else []
    return [{"department": f[3], "community_code": codes[f[0]], "area_m2": float(shapely.area(f[4])), "point": p}
            for f, p in zip(found, points)]


def _buildings(gdf, crs: CRS):
    """Checked buildings (EPSG:4490), their working copy in ``crs`` with households as the division engine
    counts them, and their footprints on the precision model in lon/lat (what the grids must keep whole)."""
    if gdf is None:
        return None, None, None
    data = check_features(gdf, "buildings", POLYGON_OR_POINT).data.reset_index(drop=True)
    households, population, _ = estimate_households(data)
    footprints, _ = normalize_footprints(data.geometry.values.to_numpy())
    data = data.set_geometry(gpd.GeoSeries(footprints, crs=data.crs))
    geoms = transform(footprints, STORAGE_CRS, crs)
    return sizing.Buildings(geoms, households.astype(float), population.astype(float), np.arange(len(data))), data, footprints


def _clipped_to_communities(bld: sizing.Buildings, bld_lonlat: np.ndarray, owner: np.ndarray, comm_geoms: np.ndarray,
                            comm_lonlat: np.ndarray, crs: CRS) -> tuple[sizing.Buildings, np.ndarray]:
    """Footprints crossing the outline of the community they overlap most cut to their largest piece inside it,
    as the division engine does: a grid can only hold that piece whole, and the building's point (which
    places it in a grid and counts its households) must lie in its community."""
    geoms, lonlat = bld.geoms.copy(), bld_lonlat.copy()
    poly = np.flatnonzero((owner >= 0) & (shapely.get_dimensions(geoms) == 2))
    out = poly[~shapely.covered_by(geoms[poly], comm_geoms[owner[poly]])]
    if len(out):
        lonlat[out] = largest_pieces(shapely.intersection(lonlat[out], comm_lonlat[owner[out]]))
    # Vertices a hair apart (a clip point beside a community vertex, two walls' corners) become one.
    for c in np.unique(owner[owner >= 0]).tolist():
        mine = np.flatnonzero(owner == c)
        lonlat[mine] = weld(lonlat[mine], comm_lonlat[c])
    changed = np.flatnonzero(~shapely.equals_exact(lonlat, bld_lonlat, 0.0))
    if len(changed):
        geoms[changed] = transform(lonlat[changed], STORAGE_CRS, crs)
    return sizing.Buildings(geoms, bld.households, bld.population, bld.rows), lonlat


def _split(grids, grid_comm, labels, comm_geoms, codes, bld, bld_table, bld_comm, rule, crs, min_area, min_width, runner=None):
    """Grids over the maximum replaced by the division engine's grids; their communities re-cleaned, and grids
    the engine left under the minimum merged into a neighbour like any other."""
    households, _, _ = sizing.households_in(grids, bld)
    point_grid = locate_points(bld.points(), grids)
    new, reasons = split_oversized(grids, households, point_grid, bld_table, bld.rows, rule, crs, runner=runner)
    splits = [
        {"community_code": codes[grid_comm[i]], "grid": labels[i], "households": int(households[i]),
         "into": len(new.get(i, [None])), **({"division_engine": reasons[i]} if i in reasons else {})}
        for i in np.flatnonzero(households > rule.max_households)
    ]
    if not new:
        return grids, grid_comm, labels, splits, [], []
    out_geoms, out_labels, out_comm, slivers, merges = [], [], [], [], []
    touched = {int(grid_comm[i]) for i in new}
    for c in range(len(comm_geoms)):
        mine = np.flatnonzero(grid_comm == c)
        if c not in touched:
            out_geoms += list(grids[mine])
            out_labels += [labels[i] for i in mine]
            out_comm += [c] * len(mine)
            continue
        geoms, names = [], []
        for i in mine:
            parts = new.get(int(i), [grids[i]])
            geoms += list(parts)
            names += [labels[i] if len(parts) == 1 else _split_label(labels[i])] * len(parts)
        # The division engine works in lon/lat: settle the round trip's rounding on shared edges.
        cleaned, index = polygon_parts(clean_coverage(np.array(geoms, dtype=object), gap_width=min_width, expected_area=shapely.area(comm_geoms[c])))
        pieces = asm.Pieces(list(cleaned), [names[k] for k in index])
        here = bld.subset(bld_comm == c)
        # Cleaning closes gaps up to the sliver width and can move an edge into a footprint: keep them whole.
        sizing.keep_buildings_whole(pieces, comm_geoms[c], here)
        slivers += tag(asm.absorb_slivers(pieces, min_area, min_width), codes[c])
        merges += tag(sizing.merge_undersized(pieces, here, rule, only_with_room=True), codes[c])
        out_geoms += pieces.geoms
        out_labels += pieces.labels
        out_comm += [c] * len(pieces.geoms)
    return np.array(out_geoms, dtype=object), np.array(out_comm, dtype=int), out_labels, splits, slivers, merges


def _absorb_left_slivers(grids, grid_comm, labels, codes, min_area, min_width):
    """Grids that are slivers given to the neighbour they share most border with, community by community."""
    small = asm.is_sliver(grids, min_area, min_width) if len(grids) else np.zeros(0, dtype=bool)
    if not small.any():
        return grids, grid_comm, labels, []
    out_geoms, out_comm, out_labels, slivers = [], [], [], []
    for c in np.unique(grid_comm).tolist():
        mine = np.flatnonzero(grid_comm == c)
        pieces = asm.Pieces(list(grids[mine]), [labels[i] for i in mine])
        if small[mine].any():
            slivers += tag(asm.absorb_slivers(pieces, min_area, min_width), codes[c])
        out_geoms += pieces.geoms
        out_labels += pieces.labels
        out_comm += [c] * len(pieces.geoms)
    return np.array(out_geoms, dtype=object), np.array(out_comm, dtype=int), out_labels, slivers


def _split_label(label: str) -> str:
    return label if label.startswith("split of ") else f"split of {label}"


def _grid_table(grids, grids_lonlat, grid_comm, sequence, labels, fallback, codes, bld) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The unified grids as a GeoDataFrame in EPSG:4490 (``grids_lonlat``; ``grids`` is the same in the metric
    CRS, where they are measured), and the grid index of each building (-1: none)."""
    n = len(grids)
    hh, pop, count = np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    point_grid = np.zeros(0, dtype=int)
    if bld is not None:
        hh, pop, count = sizing.households_in(grids, bld)
        point_grid = locate_points(bld.points(), grids)
    table = gpd.GeoDataFrame(
        {
            "community_code": codes[grid_comm] if n else np.zeros(0, dtype=object),
            "grid_index": sequence,
            "households": hh.astype(int),
            "population": pop.astype(int),
            "type": GRID_TYPE,
            "area_m2": np.round(shapely.area(grids), 1) if n else np.zeros(0),
            "buildings": count,
            "dedicated_kind": None,
            "source": labels,
            "base_id": None,
            "fallback": fallback,
        },
        geometry=list(grids_lonlat),
        crs=STORAGE_CRS,
    )
    return table, point_grid


def _reading_order(grids_lonlat, grid_comm, crs):
    """The order sorting grids by community, then in reading order (rows north to south, west to east
    within a row, as the division engine and the codes number them), and each grid's 1-based number within
    its community in that order."""
    n = len(grids_lonlat)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    metric = transform(grids_lonlat, STORAGE_CRS, crs)
    order = []
    for c in np.unique(grid_comm).tolist():
        mine = np.flatnonzero(grid_comm == c)
        order.append(mine[reading_order(metric[mine])])
    order = np.concatenate(order)
    comm = grid_comm[order]
    starts = np.r_[0, np.flatnonzero(np.diff(comm)) + 1]
    sequence = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1
    return order, sequence


def _base_ids(crosswalk: pd.DataFrame, base: str, layer, grids: np.ndarray) -> list[str | None]:
    """The base grid each unified grid matches with IoU >= IDENTITY_IOU (from the base layer's crosswalk rows)."""
    rows = crosswalk[crosswalk["department"] == base]
    g = rows["grid_index"].to_numpy()
    shared = rows["shared_area_m2"].to_numpy()
    index = {v: i for i, v in enumerate(layer.ids)}
    base_area = shapely.area(layer.geoms)[[index[v] for v in rows["department_grid_id"]]] if len(rows) else np.zeros(0)
    iou = shared / (shapely.area(grids[g]) + base_area - shared) if len(rows) else np.zeros(0)
    out: list[str | None] = [None] * len(grids)
    for i, gid in zip(g[iou >= IDENTITY_IOU], rows["department_grid_id"].to_numpy()[iou >= IDENTITY_IOU]):
        out[i] = str(gid)
    return out
