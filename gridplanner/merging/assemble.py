"""One community's unified grids: the base layer's pieces as skeleton, other layers and gaps filling the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gis.overlay import (
    chunked,
    merged,
    DUST_M2,
    approx_width,
    bbox_candidates,
    clean_coverage,
    polygon_parts,
    polygonal,
    shared_border,
    thinner_than,
)

GAP = "gap"


@dataclass
class Pieces:
    """Polygons that together cover one community, each with the label of where it came from."""

    geoms: list
    labels: list[str]
    uncovered: list = field(default_factory=list)  # polygons no department covered (before sliver absorption)


@dataclass
class Cover:
    """How the layers, base first, cover all communities before cleaning (see :func:`cover_in_order`)."""

    geoms: np.ndarray  # the pieces used, grouped by community, then in layer order, then in clip order
    community: np.ndarray  # community of each piece
    layer: np.ndarray  # position in the layer order of each piece
    row: np.ndarray  # clip row of each piece (in its layer's clip)
    bare: np.ndarray  # per community: the part no layer covers
    department_gaps: list[np.ndarray]  # per layer, per community: the part that layer leaves bare

    def of(self, c: int) -> slice:
        """The rows of community ``c``'s pieces."""
        lo, hi = np.searchsorted(self.community, [c, c + 1])
        return slice(int(lo), int(hi))


def cover_in_order(communities: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]], map=map) -> Cover:
    """Cover each community with the first layer's pieces, then each next layer's pieces where still bare.

    ``layers``: per layer, its pieces already clipped to the communities and the community of each. Every
    step is one array operation over all communities (GEOS releases the GIL for the whole of it); per
    community it is the same as walking the layers one by one and stopping once nothing is left bare.
    ``map`` runs the layers' own unions (independent of each other), e.g. a thread pool's.
    """
    n = len(communities)
    bare = np.asarray(communities, dtype=object).copy()
    started = np.zeros(n, dtype=bool)  # a community that already has pieces: later pieces are cut to what is bare
    out_geoms, out_comm, out_layer, out_row = [], [], [], []
    unions = list(map(lambda layer: union_by(layer[0], layer[1], n), layers))  # one layer per task
    gaps = list(map(lambda union: shapely.difference(communities, union), unions))
    for k, ((geoms, comm), union) in enumerate(zip(layers, unions)):
        rows = np.flatnonzero((shapely.area(bare) > DUST_M2)[comm])
        rows = rows[np.argsort(comm[rows], kind="stable")]
        pieces = geoms[rows].copy()
        cut = np.flatnonzero(started[comm[rows]])
        pieces[cut] = polygonal(chunked(map, shapely.intersection, pieces[cut], bare[comm[rows[cut]]]))
        keep = shapely.area(pieces) > DUST_M2
        rows, pieces = rows[keep], pieces[keep]
        took = np.unique(comm[rows])
        if k == 0:
            bare[took] = gaps[k][took]
        else:
            bare[took] = chunked(map, shapely.difference, bare[took], union_by(pieces, comm[rows], n, map)[took])
        started[took] = True
        out_geoms.append(pieces)
        out_comm.append(comm[rows])
        out_layer.append(np.full(len(rows), k))
        out_row.append(rows)
    comm_all, layer_all = np.concatenate(out_comm), np.concatenate(out_layer)
    order = np.lexsort((np.arange(len(comm_all)), layer_all, comm_all))  # clip order kept within a layer
    return Cover(np.concatenate(out_geoms)[order], comm_all[order], layer_all[order], np.concatenate(out_row)[order], bare, gaps)


def union_by(geoms: np.ndarray, group: np.ndarray, n: int, map=None) -> np.ndarray:
    """The union of ``geoms`` per group 0..n-1 (an empty collection for a group with none): one GEOS call, or
    ``map``'s chunks of groups."""
    counts = np.bincount(group, minlength=n)
    table = np.full((n, max(int(counts.max()) if len(group) else 0, 1)), None, dtype=object)
    order = np.argsort(group, kind="stable")
    table[group[order], np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)] = geoms[order]
    if map is None:
        return shapely.union_all(table, axis=1)
    return chunked(map, lambda rows: shapely.union_all(rows, axis=1), table)


def assemble(community, geoms: np.ndarray, labels: list[str], bare, gap_width: float) -> Pieces:
    """One community's pieces (from :func:`cover_in_order`) and its bare part as ``gap`` pieces, made a clean
    coverage: overlaps between pieces and near-miss edges are settled by GEOS's coverage cleaner (overlaps go
    to the neighbour with the longest shared border; gaps narrower than ``gap_width`` are closed the same way).
    """
    gaps, _ = polygon_parts(np.array([bare], dtype=object))
    geoms = [*geoms, *gaps]
    labels = [*labels, *[GAP] * len(gaps)]
    cleaned = clean_coverage(np.array(geoms, dtype=object), gap_width=gap_width, expected_area=shapely.area(community))
    parts, index = polygon_parts(cleaned)
    return Pieces(list(parts), [labels[i] for i in index], list(gaps))


def is_sliver(geoms, min_area: float, min_width: float) -> np.ndarray:
    """Pieces smaller than ``min_area`` m² or thinner than ``min_width`` m at their thickest."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    return (shapely.area(geoms) < min_area) | thinner_than(geoms, min_width)


def absorb_slivers(pieces: Pieces, min_area: float, min_width: float, passes: int = 4) -> list[dict]:
    """Merge slivers into neighbours (:func:`absorb_once`) until none is left that has a neighbour."""
    moves: list[dict] = []
    stuck: list[dict] = []
    for _ in range(passes):
        found = absorb_once(pieces, min_area, min_width)
        moves += [m for m in found if m["into"] is not None]
        stuck = [m for m in found if m["into"] is None]
        if len(stuck) == len(found):
            break
    return moves + stuck


def absorb_once(pieces: Pieces, min_area: float, min_width: float) -> list[dict]:
    """Merge every sliver into the neighbour it shares the longest border with; return where each went.

    Non-sliver neighbours are preferred; a sliver with only sliver neighbours joins a larger one, which in turn
    goes on to its own neighbour. All targets are chosen on the clean coverage first, then each group is joined
    by one coverage union. A sliver with no neighbour at all (the whole community is that small) stays and is
    listed with ``into`` None.
    """
    geoms = np.array(pieces.geoms, dtype=object)
    small = is_sliver(geoms, min_area, min_width)
    if not small.any():
        return []
    area = shapely.area(geoms)
    bounds = shapely.bounds(geoms)
    everyone = np.ones(len(geoms), dtype=bool)
    rank = np.empty(len(geoms), dtype=int)
    rank[np.lexsort((np.arange(len(geoms)), area))] = np.arange(len(geoms))
    parent = np.arange(len(geoms))
    for i in np.flatnonzero(small):
        others = bbox_candidates(bounds, i, everyone)
        # Slivers may only flow into bigger pieces, so chains end and never loop.
        others = others[~small[others] | (rank[others] > rank[i])]
        border = shared_border(geoms[i], geoms[others])
        if len(border) and border.max() < MIN_BORDER_M:
            # A sliver whose edges are not noded with its neighbours' (left beside a split grid) touches them
            # only at points: measure the border it runs along within rounding instead.
            near = shapely.buffer(shapely.boundary(geoms[others]), ROUNDING_M, quad_segs=2)
            border = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), near))
        target = _longest(border, others, ~small[others])
        if target is not None:
            parent[i] = target
    root = parent.copy()
    while True:
        nxt = parent[root]
        if (nxt == root).all():
            break
        root = nxt
    moves = []
    for i in np.flatnonzero(small):
        moves.append({
            "from": pieces.labels[i],
            "area_m2": float(area[i]),
            "width_m": approx_width(geoms[i]),
            "point": shapely.point_on_surface(geoms[i]),
            "into": None if root[i] == i else pieces.labels[root[i]],
        })
    keep = np.flatnonzero(root == np.arange(len(geoms)))
    out = []
    for r in keep:
        members = np.flatnonzero(root == r)
        out.append(geoms[r] if len(members) == 1 else merged(*geoms[members]))
    parts, index = polygon_parts(np.array(out, dtype=object))
    pieces.geoms, pieces.labels = list(parts), [pieces.labels[keep[k]] for k in index]
    return moves


#: How far apart (m) a sliver's edge and its neighbour's may run and still count as one border.
ROUNDING_M = 0.005
#: Shared borders shorter than this (m) are rounding where two pieces touch at a corner, not a real border.
MIN_BORDER_M = 0.01


def _longest(border: np.ndarray, candidates: np.ndarray, preferred: np.ndarray) -> int | None:
    """The candidate with the longest shared border, preferring ``preferred`` ones; None when none touches."""
    touching = border >= MIN_BORDER_M
    for mask in (preferred & touching, touching):
        if mask.any():
            return int(candidates[mask][np.argmax(border[mask])])
    return None
