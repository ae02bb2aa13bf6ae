"""The size rule on unified grids: buildings kept whole, small grids merged, large grids split."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from gridplanner.merging.assemble import Pieces, _longest
from gridplanner.merging.geometry import DUST_M2, containing_index, polygon_parts, shared_border


@dataclass
class Buildings:
    """Buildings of one community in the working CRS: footprints (or points), households, population."""

    geoms: np.ndarray
    households: np.ndarray
    population: np.ndarray

    def points(self) -> np.ndarray:
        return shapely.point_on_surface(self.geoms)

    def subset(self, sel) -> "Buildings":
        return Buildings(self.geoms[sel], self.households[sel], self.population[sel])


@dataclass(frozen=True)
class Limits:
    min_households: int = 300
    max_households: int = 500
    target_households: int | None = None

    @classmethod
    def of(cls, rules) -> "Limits":
        """Limits from the division engine's SizeRule (or anything with the same fields); None gives defaults."""
        if rules is None:
            return cls()
        return cls(int(rules.min_households), int(rules.max_households), getattr(rules, "target_households", None))

    @property
    def target(self) -> float:
        return float(self.target_households or (self.min_households + self.max_households) / 2)


def keep_buildings_whole(pieces: Pieces, community, buildings: Buildings) -> int:
    """Give each building cut by a grid edge wholly to the grid holding most of it; return how many moved."""
    geoms = np.array(pieces.geoms, dtype=object)
    polys = shapely.get_dimensions(buildings.geoms) == 2
    if len(geoms) < 2 or not polys.any():
        return 0
    footprints = buildings.geoms[polys]
    b, g = shapely.STRtree(geoms).query(footprints, predicate="intersects")
    shares = shapely.area(shapely.intersection(footprints[b], geoms[g]))
    real = shares > DUST_M2
    b, g, shares = b[real], g[real], shares[real]
    cut = np.flatnonzero(np.bincount(b, minlength=len(footprints)) > 1)
    for k in cut:
        rows = np.flatnonzero(b == k)
        owner = g[rows[np.argmax(shares[rows])]]
        fp = footprints[k]
        for o in g[rows]:
            if o != owner:
                geoms[o] = shapely.difference(geoms[o], fp)
        geoms[owner] = shapely.union(geoms[owner], shapely.intersection(fp, community))
    if len(cut):
        cleaned = shapely.coverage_clean(geoms)
        parts, index = polygon_parts(cleaned)
        pieces.geoms, pieces.labels = list(parts), [pieces.labels[i] for i in index]
    return len(cut)


def households_in(geoms: np.ndarray, buildings: Buildings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households, population and building count of each grid, a building counted where its inner point lies."""
    n = len(geoms)
    if n == 0 or len(buildings.geoms) == 0:
        return np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    where = containing_index(buildings.points(), geoms)
    placed = where >= 0
    g, p = where[placed], np.flatnonzero(placed)
    return (
        np.bincount(g, weights=buildings.households[p], minlength=n),
        np.bincount(g, weights=buildings.population[p], minlength=n),
        np.bincount(g, minlength=n),
    )


def merge_undersized(pieces: Pieces, buildings: Buildings, limits: Limits) -> list[dict]:
    """Merge grids under the minimum into the neighbour with the longest shared border, smallest first.

    Neighbours that stay within the maximum once merged are preferred. Returns one entry per merge.
    """
    geoms = np.array(pieces.geoms, dtype=object)
    labels = list(pieces.labels)
    hh, _, _ = households_in(geoms, buildings)
    alive = np.ones(len(geoms), dtype=bool)
    merges = []
    while alive.sum() > 1:
        small = np.flatnonzero(alive & (hh < limits.min_households))
        if len(small) == 0:
            break
        done = False
        for i in small[np.argsort(hh[small], kind="stable")]:
            others = np.flatnonzero(alive & (np.arange(len(geoms)) != i))
            border = shared_border(geoms[i], geoms[others])
            target = _longest(border, others, hh[others] + hh[i] <= limits.max_households)
            if target is None:
                continue
            # The merged grid keeps the identity of the larger of the two.
            keep, gone = (target, i) if shapely.area(geoms[target]) >= shapely.area(geoms[i]) else (i, target)
            merges.append({"from": labels[gone], "into": labels[keep], "households": [int(hh[i]), int(hh[target])]})
            geoms[keep] = shapely.union(geoms[keep], geoms[gone])
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


def split_oversized(pieces: Pieces, community, buildings: Buildings, limits: Limits, splitter) -> list[dict]:
    """Split grids over the maximum with ``splitter(polygon, buildings, parts) -> polygons``."""
    geoms = np.array(pieces.geoms, dtype=object)
    hh, _, _ = households_in(geoms, buildings)
    out_geoms, out_labels, splits = [], [], []
    for i, geom in enumerate(geoms):
        if hh[i] <= limits.max_households:
            out_geoms.append(geom)
            out_labels.append(pieces.labels[i])
            continue
        parts = max(2, math.ceil(hh[i] / limits.target))
        inside = shapely.intersects(geom, buildings.points())
        new = splitter(geom, buildings.subset(inside), parts, limits)
        label = pieces.labels[i] if pieces.labels[i].startswith("split of ") else f"split of {pieces.labels[i]}"
        out_geoms += list(new)
        out_labels += [label] * len(new)
        splits.append({"grid": pieces.labels[i], "households": int(hh[i]), "into": len(new)})
    if splits:
        parts, index = polygon_parts(shapely.coverage_clean(np.array(out_geoms, dtype=object)))
        pieces.geoms, pieces.labels = list(parts), [out_labels[k] for k in index]
        keep_buildings_whole(pieces, community, buildings)
    return splits


def split_in_strips(geom, buildings: Buildings, parts: int, limits: Limits) -> list:
    """Cut ``geom`` across its long axis into ``parts`` strips of about equal households.

    Cuts fall halfway between neighbouring buildings (along the axis), so footprints are rarely crossed;
    :func:`keep_buildings_whole` settles the rest.
    """
    if len(buildings.geoms) < 2:
        return [geom]
    rect = shapely.oriented_envelope(geom)
    ring = np.asarray(rect.exterior.coords)
    edges = np.diff(ring[:3], axis=0)
    axis = edges[np.argmax(np.hypot(edges[:, 0], edges[:, 1]))]
    axis = axis / np.hypot(*axis)
    normal = np.array([-axis[1], axis[0]])
    pts = shapely.get_coordinates(buildings.points())
    t = pts @ axis
    # Cut only between buildings at different positions along the axis (a row shares one position), at the
    # gap whose households before it come closest to an equal share.
    order = np.argsort(t)
    t_sorted, cum = t[order], np.cumsum(buildings.households[order])
    gap = np.flatnonzero(np.diff(t_sorted) > 1e-6)
    if len(gap) == 0:
        return [geom]
    cuts = []
    for k in range(1, parts):
        best = gap[np.argmin(np.abs(cum[gap] - cum[-1] * k / parts))]
        cuts.append((t_sorted[best] + t_sorted[best + 1]) / 2)
    corners = shapely.get_coordinates(geom)
    lo, hi = (corners @ axis).min() - 1, (corners @ axis).max() + 1
    n_lo, n_hi = (corners @ normal).min() - 1, (corners @ normal).max() + 1
    bounds = [lo, *sorted(set(cuts)), hi]
    strips = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        if e - s <= 0:
            continue
        quad = [axis * s + normal * n_lo, axis * e + normal * n_lo, axis * e + normal * n_hi, axis * s + normal * n_hi]
        strips.append(shapely.intersection(geom, shapely.Polygon(quad)))
    result, _ = polygon_parts(np.array(strips, dtype=object))
    return list(result)
