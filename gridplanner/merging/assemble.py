"""One community's unified grids: the base layer's pieces as skeleton, other layers and gaps filling the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gridplanner.merging.geometry import DUST_M2, polygon_parts, polygonal, shared_border, widths

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
    cleaned = shapely.coverage_clean(np.array(geoms, dtype=object), gap_width=gap_width)
    parts, index = polygon_parts(cleaned)
    return Pieces(list(parts), [labels[i] for i in index], list(gaps))


def is_sliver(geoms, min_area: float, min_width: float) -> np.ndarray:
    """Pieces smaller than ``min_area`` m² or thinner than ``min_width`` m at their thickest."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    return (shapely.area(geoms) < min_area) | (widths(geoms) < min_width)


def absorb_slivers(pieces: Pieces, min_area: float, min_width: float) -> list[dict]:
    """Merge every sliver into the neighbour it shares the longest border with; return where each went.

    Non-sliver neighbours are preferred; a sliver with no neighbour at all (the whole community is that small)
    stays and is listed with ``into`` None.
    """
    geoms = np.array(pieces.geoms, dtype=object)
    small = is_sliver(geoms, min_area, min_width)
    moves = []
    alive = np.ones(len(geoms), dtype=bool)
    for i in np.flatnonzero(small)[np.argsort(shapely.area(geoms[small]))]:
        others = np.flatnonzero(alive & (np.arange(len(geoms)) != i))
        border = shared_border(geoms[i], geoms[others])
        target = _longest(border, others, ~small[others])
        entry = {
            "from": pieces.labels[i],
            "area_m2": float(shapely.area(geoms[i])),
            "width_m": float(widths(geoms[i : i + 1])[0]),
            "point": shapely.point_on_surface(geoms[i]),
            "into": None,
        }
        if target is not None:
            geoms[target] = shapely.union(geoms[target], geoms[i])
            alive[i] = False
            entry["into"] = pieces.labels[target]
        moves.append(entry)
    parts, index = polygon_parts(geoms[alive])
    labels = [pieces.labels[j] for j in np.flatnonzero(alive)]
    pieces.geoms, pieces.labels = list(parts), [labels[k] for k in index]
    return moves


def _longest(border: np.ndarray, candidates: np.ndarray, preferred: np.ndarray) -> int | None:
    """The candidate with the longest shared border, preferring ``preferred`` ones; None when none touches."""
    for mask in (preferred & (border > 0), border > 0):
        if mask.any():
            return int(candidates[mask][np.argmax(border[mask])])
    return None
