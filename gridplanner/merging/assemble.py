"""One community's unified grids: the base layer's pieces as skeleton, other layers and gaps filling the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gridplanner.merging.geometry import (
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


def assemble(community, base: tuple[np.ndarray, list[str]], fills: list[tuple[np.ndarray, list[str]]], gap_width: float) -> Pieces:
    """Cover ``community`` with the base pieces, then each fill layer's pieces where still bare, then gaps.

    ``base`` and ``fills`` hold pieces already clipped to the community. Overlaps between pieces and
    near-miss edges are settled by GEOS's coverage cleaner (overlaps go to the neighbour with the longest
    shared border; gaps narrower than ``gap_width`` are closed the same way).
    """
    geoms: list = []
    labels: list[str] = []
    bare = community
    for layer_geoms, layer_labels in [base, *fills]:
        if shapely.area(bare) <= DUST_M2:
            break
        pieces = polygonal(shapely.intersection(np.asarray(layer_geoms, dtype=object), bare)) if geoms else layer_geoms
        keep = np.flatnonzero(shapely.area(pieces) > DUST_M2)
        if len(keep) == 0:
            continue
        geoms += list(pieces[keep])
        labels += [layer_labels[i] for i in keep]
        bare = shapely.difference(bare, shapely.union_all(pieces[keep]))
    gaps, _ = polygon_parts(np.array([bare], dtype=object))
    geoms += list(gaps)
    labels += [GAP] * len(gaps)
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
        target = _longest(shared_border(geoms[i], geoms[others]), others, ~small[others])
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


#: Shared borders shorter than this (m) are rounding where two pieces touch at a corner, not a real border.
MIN_BORDER_M = 0.01


def _longest(border: np.ndarray, candidates: np.ndarray, preferred: np.ndarray) -> int | None:
    """The candidate with the longest shared border, preferring ``preferred`` ones; None when none touches."""
    touching = border >= MIN_BORDER_M
    for mask in (preferred & touching, touching):
        if mask.any():
            return int(candidates[mask][np.argmax(border[mask])])
    return None
