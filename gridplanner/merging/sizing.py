"""The size rule on unified grids: buildings kept whole, small grids merged into a neighbour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.coverage import locate_points, overlap_groups
from gis.overlay import (
    DUST_M2,
    bbox_candidates,
    clean_coverage,
    merged,
    polygon_parts,
    polygonal,
    shared_border,
)
from gridplanner.merging.assemble import Pieces, _longest
from gridplanner.planning.rules import SizeRule

#: Gaps narrower than this (m) after moving footprints are rounding.
ROUNDING_GAP_M = 0.05


@dataclass
class Buildings:
    """Buildings in the working CRS: footprints (or points), households, population."""

    geoms: np.ndarray
    households: np.ndarray
    population: np.ndarray
    rows: np.ndarray  # position of each building in the caller's buildings table

    def points(self) -> np.ndarray:
        return shapely.point_on_surface(self.geoms)

    def subset(self, sel) -> "Buildings":
        return Buildings(self.geoms[sel], self.households[sel], self.population[sel], self.rows[sel])


def keep_buildings_whole(pieces: Pieces, community, buildings: Buildings) -> int:
    """Give each building cut by a grid edge wholly to the grid holding most of it; return how many moved.

    All cut buildings are settled at once: each grid loses the footprints given to others and gains those
    given to it, then GEOS's coverage cleaner settles shared edges (and any overlap of overlapping footprints).
    """
    geoms = np.array(pieces.geoms, dtype=object)
    polys = shapely.get_dimensions(buildings.geoms) == 2
    if len(geoms) < 2 or not polys.any():
        return 0
    footprints = buildings.geoms[polys]
    # Overlapping footprints move as one: given to different grids, their shared part would cut one of them.
    roots = overlap_groups(footprints)
    if (roots != np.arange(len(roots))).any():
        groups = np.unique(roots)
        footprints = np.array([shapely.union_all(footprints[roots == r]) if (roots == r).sum() > 1 else footprints[r] for r in groups], dtype=object)
    b, g = shapely.STRtree(geoms).query(footprints, predicate="intersects")
    shares = shapely.area(shapely.intersection(footprints[b], geoms[g]))
    real = shares > DUST_M2
    b, g, shares = b[real], g[real], shares[real]
    cut = np.bincount(b, minlength=len(footprints)) > 1
    if not cut.any():
        return 0
    sel = cut[b]
    b, g, shares = b[sel], g[sel], shares[sel]
    order = np.lexsort((-shares, b))  # per building, largest share first
    first = np.ones(len(order), dtype=bool)
    first[1:] = b[order][1:] != b[order][:-1]
    owner = np.full(len(footprints), -1)
    owner[b[order][first]] = g[order][first]
    for grid in np.unique(g):
        lose = footprints[b[(g == grid) & (owner[b] != grid)]]
        gain = footprints[owner == grid]
        geom = geoms[grid]
        if len(lose):
            geom = _safe(shapely.difference, geom, shapely.union_all(lose))
        if len(gain):
            geom = _safe(shapely.union, geom, _safe(shapely.intersection, shapely.union_all(gain), community))
        geoms[grid] = geom
    # Footprints move whole from grid to grid, so any gap left is rounding: close it.
    parts, index = polygon_parts(clean_coverage(polygonal(geoms), gap_width=ROUNDING_GAP_M, expected_area=shapely.area(community)))
    pieces.geoms, pieces.labels = list(parts), [pieces.labels[i] for i in index]
    return int(cut.sum())


def _safe(op, a, b):
    """``op(a, b)``, repeating it on repaired operands when GEOS finds them invalid."""
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        return op(shapely.make_valid(a), shapely.make_valid(b))


def households_in(geoms: np.ndarray, buildings: Buildings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households, population and building count of each grid, a building counted where its inner point lies."""
    n = len(geoms)
    if n == 0 or len(buildings.geoms) == 0:
        return np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    where = locate_points(buildings.points(), geoms)
    placed = where >= 0
    g, p = where[placed], np.flatnonzero(placed)
    return (
        np.bincount(g, weights=buildings.households[p], minlength=n),
        np.bincount(g, weights=buildings.population[p], minlength=n),
        np.bincount(g, minlength=n),
    )


def merge_undersized(pieces: Pieces, buildings: Buildings, rule: SizeRule, *, only_with_room: bool = False) -> list[dict]:
    """Merge grids under the minimum into the neighbour with the longest shared border, smallest first.

    Neighbours that stay within the maximum once merged are preferred; with ``only_with_room`` they are the
    only ones taken (used after splitting, when nothing would split an oversized result again).
    Returns one entry per merge.
    """
    geoms = np.array(pieces.geoms, dtype=object)
    labels = list(pieces.labels)
    hh, _, _ = households_in(geoms, buildings)
    alive = np.ones(len(geoms), dtype=bool)
    bounds = shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4))
    merges = []
    while alive.sum() > 1:
        small = np.flatnonzero(alive & (hh < rule.min_households))
        if len(small) == 0:
            break
        done = False
        for i in small[np.argsort(hh[small], kind="stable")]:
            others = bbox_candidates(bounds, i, alive)
            border = shared_border(geoms[i], geoms[others])
            room = hh[others] + hh[i] <= rule.max_households
            target = _longest(np.where(room, border, 0.0) if only_with_room else border, others, room)
            if target is None:
                continue
            # The merged grid keeps the identity of the larger of the two.
            keep, gone = (target, i) if shapely.area(geoms[target]) >= shapely.area(geoms[i]) else (i, target)
            merges.append({"from": labels[gone], "into": labels[keep], "households": [int(hh[i]), int(hh[target])]})
            geoms[keep] = merged(geoms[keep], geoms[gone])
            bounds[keep] = shapely.bounds(geoms[keep])
            hh[keep] += hh[gone]
            alive[gone] = False
            done = True
            break
        if not done:
            break
    parts, index = polygon_parts(geoms[alive])
    kept = [labels[j] for j in np.flatnonzero(alive)]
    pieces.geoms, pieces.labels = list(parts), [kept[k] for k in index]
    return merges
