"""Unified grids back to lon/lat on the precision model, each community checked in both CRSes.

The merge works in a metric CRS on the communities as normalised in lon/lat (:mod:`gis.precision`: their
edges are short, so a lon/lat edge and its metric chord agree to micrometres). Moved back vertex by vertex,
its grids are settled onto the precision model against the community's own lon/lat outline
(:func:`gis.coverage.settle`) and checked: valid single polygons tiling the community in lon/lat and in the
metric CRS, every building wholly in one grid. A community that fails gets one grid per part instead,
flagged (``fallback``) and listed with the reason; it never fails the whole merge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import CRS
from shapely import STRtree

from gis.coverage import coverage_report, followed_footprints, footprints_outside, largest_pieces, settle
from gis.crs import STORAGE_CRS, transform

log = logging.getLogger("gridplanner.merging")


@dataclass
class Settled:
    """Grids (lon/lat, in the input's order where kept) and what settling did."""

    geoms: np.ndarray
    community: np.ndarray
    labels: list[str]
    fallback: list[str | None]
    #: Communities that got the fallback, with the reason.
    fallbacks: list[dict] = field(default_factory=list)
    #: The worst gap/overlap (m²) found in either CRS, over all communities kept as merged.
    worst_m2: float = 0.0


def settle_communities(grids: np.ndarray, grid_comm: np.ndarray, labels: list[str], comm_lonlat: np.ndarray,
                       codes: np.ndarray, crs: CRS, footprints_lonlat: np.ndarray | None,
                       footprint_comm: np.ndarray | None = None) -> Settled:
    """``grids`` (in ``crs``, grouped by community) in EPSG:4490 on the precision model, community by community.

    ``footprint_comm`` gives the community each footprint belongs to (the one holding its inner point): a
    building is judged whole in its own community only (across a community line it is cut by that line).
    """
    lonlat = transform(grids, crs, STORAGE_CRS) if len(grids) else grids
    fp = footprints_lonlat if footprints_lonlat is not None else np.zeros(0, dtype=object)
    fp_comm = footprint_comm if footprint_comm is not None else np.full(len(fp), -1)
    fp_tree = STRtree(fp) if len(fp) else None
    out_geoms, out_comm, out_labels, out_fallback, fallbacks = [], [], [], [], []
    worst = 0.0
    for c in range(len(comm_lonlat)):
        mine = np.flatnonzero(grid_comm == c)
        region = comm_lonlat[c]
        near = np.sort(fp_tree.query(region, predicate="intersects")) if fp_tree is not None else np.zeros(0, dtype=np.intp)
        reason = None
        try:
            result = settle(lonlat[mine], region, fixed=followed_footprints(fp[near], lonlat[mine]))
            kept = np.array([k for k in range(len(mine)) if k not in set(result.lost)], dtype=np.intp)
            geoms = result.polygons[kept]
            check = _check(geoms, region, fp[near[fp_comm[near] == c]], crs)
            if check["ok"]:
                worst = max(worst, check["worst_m2"])
                out_geoms += list(geoms)
                out_labels += [labels[mine[k]] for k in kept]
                out_fallback += [None] * len(kept)
                out_comm += [c] * len(kept)
                continue
            reason = check["reason"]
        except Exception as exc:  # a fault of ours: logged; the community still gets grids
            log.exception("settling the merged grids of community %s failed", codes[c])
            reason = f"internal error {type(exc).__name__}: {exc}"
        parts = shapely.get_parts(region)
        fallbacks.append({"community_code": str(codes[c]), "fallback": "whole", "reason": reason, "grids_replaced": int(len(mine))})
        out_geoms += list(parts)
        out_labels += [f"community {codes[c]}"] * len(parts)
        out_fallback += ["whole"] * len(parts)
        out_comm += [c] * len(parts)
    return Settled(np.array(out_geoms, dtype=object), np.array(out_comm, dtype=int), out_labels, out_fallback, fallbacks, worst)


def _check(geoms: np.ndarray, region, footprints: np.ndarray, crs: CRS) -> dict:
    cov = coverage_report(geoms, region, crs)
    owner = np.full(len(footprints), -1, dtype=np.intp)
    if len(footprints) and len(geoms):
        # Each footprint belongs to the grid holding most of it (keep_buildings_whole moved it there whole).
        f, g = STRtree(geoms).query(footprints, predicate="intersects")
        share = np.where(shapely.get_dimensions(footprints[f]) == 2, shapely.area(shapely.intersection(footprints[f], geoms[g])), 1.0)
        order = np.lexsort((g, -share, f))
        f, g = f[order], g[order]
        first = np.r_[True, f[1:] != f[:-1]]
        owner[f[first]] = g[first]
        # Only what lies in this community is judged here, and of a footprint the outline cuts in several
        # pieces only the largest (a grid is one polygon: the others may lie in other grids).
        inside = largest_pieces(shapely.intersection(footprints, region))
        footprints = np.where(shapely.area(inside) > 0, inside, footprints)
    out = footprints_outside(footprints, geoms, owner, crs) if len(geoms) else {"lonlat": 0, "metric": 0, "worst_m2": 0.0}
    said = []
    for name in ("lonlat", "metric"):
        c = cov[name]
        if c.get("error"):
            said.append(f"GEOS error in {name}: {c['error']}")
        for key in ("invalid", "not_single", "invalid_edges"):
            if c.get(key):
                said.append(f"{c[key]} grids {key.replace('_', ' ')} ({name})")
        for key in ("gap_m2", "overlap_m2", "outside_m2"):
            if c.get(key, 0) > 0.01:
                said.append(f"{c[key]:.3g} m² {key[:-3]} ({name})")
        if out[name]:
            said.append(f"{out[name]} buildings cut ({name})")
    worst = max((cov[n][k] for n in ("lonlat", "metric") for k in ("gap_m2", "overlap_m2", "outside_m2") if np.isfinite(cov[n].get(k, 0.0))), default=0.0)
    return {"ok": cov["ok"] and not out["lonlat"] and not out["metric"], "reason": "; ".join(said), "worst_m2": float(worst)}
